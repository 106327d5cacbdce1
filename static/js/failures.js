// The failure-point controls, built from the server's list of failure points
// (`limits.failure_points`) and the one table of their words (FAILURE_LABELS in words.js).
// Each point has the engine's four settings: off, armed for the next message only, on for
// every message, or on with a probability. In the Failure points panel a row per point:
// a checkbox (every message: the slider then shows 100 %), a "Next only" button and a
// probability slider; on the stage a switch where the table places one (its text says
// the setting: ✔, next, or the chance). By keyboard: Enter on the checkbox or the button,
// Up/Down on the slider, or the digit of the point (Shift+digit arms the next message).
// Shows the run's settings (the store's `failures`) and sends `set-failure` when used.
import { t } from "./i18n.js";
import { chipText, esc, failureWords, fmtInt, modeWords, sameSilence } from "./words.js";


/** A slider's percentage in words ("30%"). */
const pctWords = (n) => t("failures.pct", { n: fmtInt(Number(n)) });

/** The percentage a point's setting amounts to: every message is 100 %. */
export function shownPercent(f) {
  if (!f) return 0;
  if (f.mode === "on") return 100;
  return Math.round((f.probability || 0) * 100);
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
    this.nexts = []; // {point, el}: the "next only" buttons
    this.chips = []; // {point, el}
    this.byPointer = false;
    // Points with a set-failure command on its way, and the mode asked for: the answer
    // comes before the event that changes the store (the next frame's batch), so a
    // checkbox shows what the person did until the store says the same (or 2 s passed).
    this.pending = new Map();
  }

  /** Build the controls for these failure points (again only if the list changed). */
  build(points) {
    if (!Array.isArray(points) || points.join() === this.points.join()) return;
    this.points = [...points];
    for (const row of this.panel.querySelectorAll(".frow")) row.remove();
    for (const c of this.chips) c.el.remove();
    this.boxes = [];
    this.sliders = [];
    this.nexts = [];
    this.chips = [];
    for (const point of this.points) {
      const w = failureWords(point);
      const p = esc(point);
      const row = document.createElement("div");
      row.className = "frow";
      row.dataset.point = point;
      const kind = w.leg ? t("failures.loss") : t("failures.chance");
      const sliderName = w.slider || t("failures.probability", { label: w.label });
      row.innerHTML = `<label class="fp" data-point="${p}"><input type="checkbox" data-point="${p}" aria-keyshortcuts="Enter"> <span class="fp-icon" aria-hidden="true">${esc(w.icon)}</span> ${esc(w.label)}</label>` +
        `<button type="button" class="next-btn" data-point="${p}" aria-pressed="false" aria-label="${esc(t("failures.next-label", { label: w.label }))}" title="${esc(t("failures.next-title"))}">${esc(t("failures.next"))}</button>` +
        `<label class="prob"><span>${kind}</span>
          <input type="range" min="0" max="100" step="1" value="0" data-point="${p}" aria-label="${esc(sliderName)}">
          <output data-every="${esc(t("failures.every"))}">${esc(pctWords(0))}</output></label>`;
      this.panel.append(row);
      const box = row.querySelector('input[type="checkbox"]');
      box.addEventListener("change", () => {
        this.set(point, { mode: box.checked ? "on" : "off" });
        if (this.byPointer) box.blur(); // a click gives the keys back to the page
      });
      box.addEventListener("pointerdown", () => { this.byPointer = true; });
      box.closest("label").addEventListener("pointerdown", () => { this.byPointer = true; });
      box.addEventListener("keydown", () => { this.byPointer = false; });
      this.boxes.push({ point, input: box, label: box.closest("label") });
      const next = row.querySelector(".next-btn");
      next.addEventListener("click", (ev) => {
        this.arm(point);
        if (ev.detail > 0) next.blur();
      });
      this.nexts.push({ point, el: next });
      this.wireSlider(point, row.querySelector('input[type="range"]'), row.querySelector("output"));
      if (w.chip) {
        const chip = document.createElement("button");
        chip.type = "button";
        chip.className = `crash-chip ${w.chip}`;
        chip.dataset.point = point;
        chip.tabIndex = -1;
        chip.setAttribute("aria-hidden", "true");
        if (w.explains) chip.title = w.explains;
        chip.innerHTML = `<span class="icon">${esc(w.icon)}</span> <span class="chip-text">${esc(chipText(point))}</span>`;
        chip.addEventListener("click", (ev) => {
          ev.stopPropagation();
          this.toggle(point);
        });
        this.stageEl.append(chip);
        this.chips.push({ point, el: chip });
      }
    }
    const note = sameSilence(this.points.filter((p) => failureWords(p).silent !== false));
    this.sameNote.title = note.title;
    this.sameNote.querySelector(".same-text").textContent = note.text;
    this.view.dirty.failures = true;
  }

  wireSlider(point, input, output) {
    input.addEventListener("input", () => {
      output.textContent = pctWords(input.value);
      input.setAttribute("aria-valuetext", pctWords(input.value));
    });
    // A probability is "on with a probability": the switch goes off, the chance stays.
    input.addEventListener("change", () => {
      this.set(point, { mode: "off", probability: Number(input.value) / 100 });
      if (this.byPointer) input.blur(); // let go: the keys are the page's again
    });
    input.addEventListener("pointerdown", () => { this.byPointer = true; });
    input.addEventListener("keydown", () => { this.byPointer = false; });
    // Leaving the slider shows the server's value again (what the run really uses).
    input.addEventListener("blur", () => {
      this.view.dirty.failures = true;
    });
    this.sliders.push({ point, input, output });
  }

  set(point, fields) {
    // Until the answer, the control shows what the person did (a redraw from the store's
    // older setting would flip a just-clicked checkbox back for a moment).
    const wait = { mode: fields.mode, answered: null };
    this.pending.set(point, wait);
    return this.send("set-failure", { point, ...fields }).then((a) => {
      if (this.pending.get(point) !== wait) return; // a later click took over
      if (a.ok && wait.mode !== undefined) wait.answered = performance.now();
      else this.pending.delete(point);
      this.view.dirty.failures = true;
      if (!a.ok) this.render(this.store.failures);
    });
  }

  /** Switch a failure point on if it is off, off if it is on (the stage's switches). */
  toggle(point) {
    const f = this.store.failures[point];
    const on = f && f.mode !== "off";
    this.set(point, { mode: on ? "off" : "on" });
    this.announcer.say(t(on ? "failures.switched-off" : "failures.switched-on", { label: failureWords(point).label }));
  }

  /** Arm a failure point for the next message only (again: disarm it). */
  arm(point) {
    const f = this.store.failures[point];
    const armed = f && f.mode === "next";
    this.set(point, { mode: armed ? "off" : "next" });
    this.announcer.say(t(armed ? "failures.disarmed" : "failures.armed", { label: failureWords(point).label }));
  }

  /** Show the run's settings on every control. */
  render(failures) {
    const get = (point) => failures[point] || { mode: "off", probability: 0 };
    // A metrics stream sends no replies: what acts on the reply leg does not apply.
    const noReplies = this.store.metricsRun();
    for (const { point, input, label } of this.boxes) {
      const f = get(point);
      label.closest(".frow").hidden = noReplies && failureWords(point).leg === "reply";
      const wait = this.pending.get(point);
      if (wait && wait.answered !== null && (wait.mode === f.mode || performance.now() - wait.answered > 2000)) this.pending.delete(point);
      if (!this.pending.has(point)) input.checked = f.mode === "on";
      label.dataset.mode = f.mode;
      label.closest(".frow").dataset.mode = f.mode === "off" && f.probability > 0 ? "random" : f.mode;
      label.title = t("failures.row-title", { label: failureWords(point).label, mode: modeWords(f.mode, f.probability) });
    }
    for (const { point, el } of this.nexts) {
      const armed = get(point).mode === "next";
      el.setAttribute("aria-pressed", String(armed));
      el.textContent = armed ? `${t("failures.next")} ✔` : t("failures.next");
    }
    for (const { point, input, output } of this.sliders) {
      // While the slider has focus the person owns it: a server echo of an older value
      // (each arrow key sends one) must not move it back under their fingers.
      if (document.activeElement === input) continue;
      const f = get(point);
      const pct = shownPercent(f);
      input.value = String(pct);
      const said = f.mode === "on" ? t("failures.every-message", { pct: pctWords(100) }) : pctWords(pct);
      input.setAttribute("aria-valuetext", said);
      output.textContent = pctWords(pct);
    }
    for (const { point, el } of this.chips) {
      const f = get(point);
      el.dataset.mode = f.mode;
      const base = chipText(point);
      const extra = f.mode === "on" ? " ✔" : f.mode === "next" ? ` ${t("failures.chip-next")}` : f.probability > 0 ? ` ${pctWords(shownPercent(f))}` : "";
      const text = `${base}${extra}`;
      if (el._text !== text) {
        el._text = text;
        el.querySelector(".chip-text").textContent = text;
      }
      el.title = t("failures.chip-title", { label: failureWords(point).label, mode: modeWords(f.mode, f.probability) });
    }
  }
}
