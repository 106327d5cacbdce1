// Time travel, page side (docs/protocol.md, "History"): the Timeline slider under the
// stage scrubs to any earlier moment, Step back goes back one step (the mirror of Step),
// Step forward in the past goes one event on, Live returns to the present, and "Run from
// here" forks a new run from the moment shown. The server rebuilds the run as of that
// moment from its checkpoints and sends a snapshot with a `view` ({live, seq, t, head_seq,
// head_t}); every view (stage, orders, alarm, log, diagram) then shows the run as of then.
import * as i18n from "./i18n.js";
import { fmtT } from "./words.js";

const SEEK_DELAY_MS = 120; // a drag sends one seek per pause of the hand, not one per pixel

export class Timeline {
  /**
   * @param {object} o els: {stage, slider, out, back, live, fork}, store, clock,
   *   send (commands), announcer
   */
  constructor({ els, store, clock, send, announcer }) {
    this.els = els;
    this.store = store;
    this.clock = clock;
    this.send = send;
    this.announcer = announcer;
    this.view = { live: true };
    this.timer = null;
    this.dragging = false;
    const { slider, back, live, fork } = els;
    slider.addEventListener("input", () => {
      this.dragging = true;
      const t = Number(slider.value);
      this.showOut(t, false);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.seek({ t }), SEEK_DELAY_MS);
    });
    slider.addEventListener("change", () => {
      this.dragging = false;
    });
    let byPointer = false;
    slider.addEventListener("pointerdown", () => { byPointer = true; });
    slider.addEventListener("keydown", () => { byPointer = false; });
    slider.addEventListener("change", () => byPointer && slider.blur());
    for (const [el, fn] of [[back, () => this.stepBack()], [live, () => this.live()], [fork, () => this.fork()]]) {
      el.addEventListener("click", (ev) => {
        fn();
        if (ev.detail > 0) el.blur();
      });
    }
  }

  get inPast() {
    return this.view && this.view.live === false;
  }

  /** A snapshot arrived: the moment it shows. */
  onSnapshot(snap) {
    this.view = snap.view || { live: true };
    this.dragging = false;
    this.render();
  }

  /** Every frame while live: the slider follows the present. */
  frame() {
    if (this.inPast || this.dragging) return;
    const t = this.clock.display;
    const slider = this.els.slider;
    if (Number(slider.max) < t || Number(slider.max) - t > 1e-6) slider.max = String(t);
    slider.value = String(t);
    if (this.els.out.textContent !== i18n.t("timeline.now")) this.showOut(t, true);
  }

  render() {
    const { slider, stage, live, fork, back } = this.els;
    const past = this.inPast;
    stage.dataset.history = String(past);
    live.setAttribute("aria-pressed", String(!past));
    live.title = past ? i18n.t("timeline.live-past") : i18n.t("timeline.live-present");
    fork.hidden = !past;
    back.disabled = false;
    if (past) {
      slider.max = String(this.view.head_t);
      slider.value = String(this.view.t);
      this.showOut(this.view.t, false);
    } else {
      this.frame();
    }
  }

  showOut(t, isNow) {
    const { slider, out } = this.els;
    const head = this.inPast ? this.view.head_t : Number(slider.max);
    out.textContent = isNow ? i18n.t("timeline.now") : i18n.t("timeline.of", { t: fmtT(t), head: fmtT(head) });
    slider.setAttribute("aria-valuetext", isNow ? i18n.t("timeline.value-now", { t: fmtT(t) }) : i18n.t("timeline.value-past", { t: fmtT(t), head: fmtT(head) }));
  }

  async seek(where) {
    const a = await this.send("seek", where);
    if (a.ok) {
      const t = a.view ? a.view.t : where.t;
      if (a.view && a.view.live) this.announcer.say(i18n.t("timeline.is-present"));
      else this.announcer.say(i18n.t("timeline.looking-back", { t: fmtT(t) }));
    }
    return a;
  }

  async stepBack() {
    const a = await this.send("step-back");
    if (a.ok && a.start) this.announcer.say(i18n.t("timeline.at-start"));
    return a;
  }

  /** Step in the past: one event on, back to the present at its end. */
  stepForward() {
    const v = this.view;
    if (v.seq >= v.head_seq) return this.live();
    return this.seek({ seq: v.seq + 1 });
  }

  async live() {
    const a = await this.send("live");
    if (a.ok) this.announcer.say(i18n.t("timeline.live"));
    return a;
  }

  async fork() {
    const a = await this.send("fork");
    if (a.ok && this.els.exportOriginal) this.els.exportOriginal.hidden = false;
    if (a.ok) this.announcer.say(i18n.t("timeline.forked", { t: fmtT(this.view.t) }));
    return a;
  }
}
