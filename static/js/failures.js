// The failure-point controls, built from the server's list of failure points
// (`limits.failure_points`) and the one table of their words (FAILURE_LABELS in words.js):
// a checkbox per point (and a probability slider where the table names one) in the
// Failure points panel, a switch on the stage where the table places one, and the
// "same silence" note. Shows the run's settings (the store's `failures`) and sends
// `set-failure` when a control is used.
import { chipText, failureWords, modeWords, sameSilence } from "./words.js";

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

export class FailureControls {
  /**
   * @param {object} o panel (the Failure points fieldset), stageEl, sameNote (the note
   *   beside the orders), store, view (ViewState), send (commands), announcer
   */
  constructor({ panel, stageEl, sameNote, store, view, send, announcer }) {
    this.panel = panel;
    this.stageEl = stageEl;
    this.sameNote = sameNote;
    this.store = store;
    this.view = view;
    this.send = send;
    this.announcer = announcer;
    this.points = [];
    this.boxes = []; // {point, input, label}
    this.sliders = []; // {point, input, output}
    this.chips = []; // {point, el}
  }

  /** Build the controls for these failure points (again only if the list changed). */
  build(points) {
    if (!Array.isArray(points) || points.join() === this.points.join()) return;
    this.points = [...points];
    for (const row of this.panel.querySelectorAll(".frow")) row.remove();
    for (const c of this.chips) c.el.remove();
    this.boxes = [];
    this.sliders = [];
    this.chips = [];
    for (const point of this.points) {
      const w = failureWords(point);
      const p = esc(point);
      const row = document.createElement("div");
      row.className = "frow";
      row.innerHTML = `<label class="fp" data-point="${p}"><input type="checkbox" data-point="${p}"> <span class="fp-icon" aria-hidden="true">${esc(w.icon)}</span> ${esc(w.label)}</label>` +
        (w.slider ? `<label class="prob"><span>loss</span>
          <input type="range" min="0" max="100" step="1" value="0" data-point="${p}" aria-label="${esc(w.slider)}">
          <output>0%</output></label>` : "");
      this.panel.append(row);
      const box = row.querySelector('input[type="checkbox"]');
      box.addEventListener("change", () => this.set(point, { mode: box.checked ? "on" : "off" }));
      this.boxes.push({ point, input: box, label: box.closest("label") });
      const slider = row.querySelector('input[type="range"]');
      if (slider) this.wireSlider(point, slider, row.querySelector("output"));
      if (w.chip) {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.className = `crash-chip ${w.chip}`;
        chip.dataset.point = point;
        chip.tabIndex = -1;
        chip.setAttribute("aria-hidden", "true");
        if (w.explains) chip.title = w.explains;
        chip.innerHTML = `<span class="icon">${esc(w.icon)}</span> ${esc(chipText(point))}`;
        chip.addEventListener("click", (ev) => {
          ev.stopPropagation();
          this.toggle(point);
        });
        this.stageEl.append(chip);
        this.chips.push({ point, el: chip });
      }
    }
    const note = sameSilence(this.points);
    this.sameNote.title = note.title;
    this.sameNote.querySelector(".same-text").textContent = note.text;
    this.view.dirty.failures = true;
  }

  wireSlider(point, input, output) {
    input.addEventListener("input", () => {
      output.textContent = `${input.value}%`;
      input.setAttribute("aria-valuetext", `${input.value}%`);
    });
    input.addEventListener("change", () => this.set(point, { probability: Number(input.value) / 100 }));
    // Leaving the slider shows the server's value again (what the run really uses).
    input.addEventListener("blur", () => {
      this.view.dirty.failures = true;
    });
    this.sliders.push({ point, input, output });
  }

  set(point, fields) {
    return this.send("set-failure", { point, ...fields }).then((a) => {
      if (!a.ok) this.render(this.store.failures);
    });
  }

  /** Switch a failure point on if it is off, off if it is on (the stage's switches). */
  toggle(point) {
    const f = this.store.failures[point];
    const on = f && f.mode !== "off";
    this.set(point, { mode: on ? "off" : "on" });
    this.announcer.say(`${failureWords(point).label} ${on ? "switched off" : "switched on"}.`);
  }

  /** Show the run's settings on every control. */
  render(failures) {
    for (const { point, input, label } of this.boxes) {
      const f = failures[point] || { mode: "off", probability: 0 };
      input.checked = f.mode !== "off";
      label.dataset.mode = f.mode;
      label.title = `${failureWords(point).label}: ${modeWords(f.mode, f.probability)}`;
    }
    for (const { point, input, output } of this.sliders) {
      // While the slider has focus the person owns it: a server echo of an older value
      // (each arrow key sends one) must not move it back under their fingers.
      if (document.activeElement === input) continue;
      const f = failures[point] || { probability: 0 };
      const pct = Math.round(f.probability * 100);
      input.value = String(pct);
      input.setAttribute("aria-valuetext", `${pct}%`);
      output.textContent = `${pct}%`;
    }
    for (const { point, el } of this.chips) {
      const f = failures[point] || { mode: "off" };
      el.dataset.mode = f.mode;
    }
  }
}
