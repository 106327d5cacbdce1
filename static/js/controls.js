// The run controls, DOM -> commands: Send order, Play, Pause, Step, Reset (their keys are
// in keys.js), the scenario and seed pickers and the speed slider; and
// what they show: the pressed button, the speed, the scenario's explanation, why Send
// order is off. The speed slider's range comes from the server's limits.
import { has, lang, t } from "./i18n.js";
import { customRun, fmtT, NOTHING_LEFT } from "./words.js";

const CUSTOM = "custom-run"; // the scenario list's entry for a run changed by hand

const SEND_OFF_WHY = t("controls.send-off-why");
const SPEED_SEND_DELAY_MS = 80; // a drag sends one speed command, not one per pixel

/** A scenario's title and caption in the page's language ("scenario.<name>.title" and
 * ".explains" in the catalogue), else the server's words. */
function presetTitle(p) {
  return has(`scenario.${p.name}.title`) ? t(`scenario.${p.name}.title`) : p.title;
}
function presetExplains(p) {
  return has(`scenario.${p.name}.explains`) ? t(`scenario.${p.name}.explains`) : p.explains;
}

function speedLabel(s) {
  return t("controls.speed-x", { x: (s >= 10 ? Math.round(s) : Number(s.toPrecision(2))).toLocaleString(lang) });
}

export class Controls {
  /**
   * @param {object} o store, clock, send (commands), announcer, notice (Escape hides it),
   *   els: {send, play, pause, step, reset, scenario, seed, explains, speed, speedOut}
   */
  constructor({ store, clock, send, announcer, notice, els }) {
    this.store = store;
    this.clock = clock;
    this.send = send;
    this.announcer = announcer;
    this.notice = notice;
    this.els = els;
    this.presets = []; // the server's scenario presets, from the join answer
    this.speedRange = null; // [speed_min, speed_max] from the join answer's limits
    this.speedShown = 1; // the speed the label shows
    this.speedTimer = null;
    this.actions = {
      send: () => this.sendOrder(),
      play: () => this.play(),
      pause: () => this.pause(),
      step: () => this.send("step").then((a) => a.ok && a.idle && this.announcer.say(NOTHING_LEFT)),
      reset: () => this.send("reset"),
      toggle: () => (this.store.pacing.playing ? this.pause() : this.play()),
    };
    for (const id of ["send", "play", "pause", "step", "reset"]) {
      els[id].addEventListener("click", (ev) => {
        this.actions[id]();
        // After a mouse click, give the keyboard back to the page shortcuts (Space = play/pause).
        if (ev.detail > 0) ev.currentTarget.blur();
      });
    }
    els.scenario.addEventListener("change", (ev) => {
      if (ev.target.value === CUSTOM) return;
      const seed = Number(els.seed.value);
      const fields = { name: ev.target.value };
      if (Number.isInteger(seed) && seed >= 0) fields.seed = seed;
      // The Call menu's choice stays with the next scenario (a synchronous caller stays one).
      const call = this.store.config && this.store.config.call;
      if (call && call !== "async") fields.config = { call };
      this.send("scenario", fields);
    });
    els.seed.addEventListener("change", (ev) => {
      const seed = Number(ev.target.value);
      if (!Number.isInteger(seed) || seed < 0) {
        announcer.say(t("controls.seed-bad"));
        return;
      }
      this.send("seed", { seed });
    });
    els.speed.addEventListener("input", () => this.speedInput());
    // A slider let go, a scenario chosen: the keyboard goes back to the page's shortcuts.
    let byPointer = false;
    els.speed.addEventListener("pointerdown", () => { byPointer = true; });
    els.speed.addEventListener("keydown", () => { byPointer = false; });
    els.speed.addEventListener("change", () => byPointer && els.speed.blur());
    els.scenario.addEventListener("change", () => els.scenario.blur());
  }

  // ------------------------------------------------------------------ from the join answer
  setPresets(list) {
    if (!Array.isArray(list) || !list.length) return;
    this.presets = list;
    const sel = this.els.scenario;
    const current = sel.value;
    sel.textContent = "";
    for (const p of list) sel.append(new Option(presetTitle(p), p.name));
    if (current && current !== CUSTOM) sel.value = current;
  }

  setLimits(limits) {
    const lo = Number(limits.speed_min);
    const hi = Number(limits.speed_max);
    if (lo > 0 && hi > lo) this.speedRange = [lo, hi];
    this.showSpeed(this.speedShown);
  }

  // ------------------------------------------------------------------ showing the run
  /** The run as the store has it: scenario, seed, speed, Send order. */
  showRun() {
    const { seed } = this.store;
    this.showCaption();
    if (typeof seed === "number" && document.activeElement !== this.els.seed) this.els.seed.value = String(seed);
    this.showSpeed(this.clock.speed);
    this.showSendState();
  }

  /** The scenario's name and caption, or "Custom run" and what is switched on once a
   * failure point was changed by hand in this run (the scenario's words would lie). */
  showCaption() {
    const { scenario, custom, failures } = this.store;
    const sel = this.els.scenario;
    const p = this.presets.find((x) => x.name === scenario);
    let opt = sel.querySelector(`option[value="${CUSTOM}"]`);
    if (custom && p) {
      const words = customRun(presetTitle(p), failures, Object.keys(failures));
      if (!opt) {
        opt = new Option("", CUSTOM);
        sel.prepend(opt);
      }
      opt.textContent = words.title;
      sel.value = CUSTOM;
      this.setText(this.els.explains, words.caption);
      this.els.explains.dataset.custom = "true";
    } else {
      if (opt) opt.remove();
      if (scenario) sel.value = scenario;
      this.setText(this.els.explains, p ? presetExplains(p) : "");
      delete this.els.explains.dataset.custom;
    }
  }

  setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  showPlaying() {
    const playing = this.store.pacing.playing;
    this.els.play.setAttribute("aria-pressed", String(playing));
    this.els.pause.setAttribute("aria-pressed", String(!playing));
  }

  showSendState() {
    const send = this.els.send;
    if (this.store.metricsRun()) {
      send.setAttribute("aria-disabled", "true");
      send.setAttribute("aria-describedby", "send-why");
      send.title = SEND_OFF_WHY;
    } else {
      send.removeAttribute("aria-disabled");
      send.removeAttribute("aria-describedby");
      send.title = t("controls.send-title");
    }
  }

  // ------------------------------------------------------------------ speed (log scale)
  sliderToSpeed(v) {
    const [lo, hi] = this.speedRange;
    const raw = lo * (hi / lo) ** (v / 1000);
    const digits = raw < 10 ? 2 : 3;
    return Number(raw.toPrecision(digits));
  }

  speedToSlider(s) {
    const [lo, hi] = this.speedRange;
    return Math.round((1000 * Math.log(s / lo)) / Math.log(hi / lo));
  }

  showSpeed(s) {
    this.speedShown = s;
    const input = this.els.speed;
    if (this.speedRange && document.activeElement !== input) input.value = String(this.speedToSlider(s));
    this.showSpeedLabel(s);
  }

  showSpeedLabel(s) {
    const label = speedLabel(s);
    this.els.speedOut.textContent = label;
    this.els.speed.setAttribute("aria-valuetext", label);
  }

  speedInput() {
    if (!this.speedRange) return; // no limits yet: the slider has no scale
    const s = this.sliderToSpeed(Number(this.els.speed.value));
    this.speedShown = s;
    this.showSpeedLabel(s);
    clearTimeout(this.speedTimer);
    this.speedTimer = setTimeout(() => this.send("speed", { speed: s }), SPEED_SEND_DELAY_MS);
  }

  // ------------------------------------------------------------------ actions
  sendOrder() {
    if (this.store.metricsRun()) {
      this.announcer.say(t("controls.send-off-say", { why: SEND_OFF_WHY }));
      return Promise.resolve({ ok: false });
    }
    return this.send("create-order");
  }

  play() {
    return this.send("play").then((a) => {
      if (a.ok) this.announcer.say(t("controls.playing", { speed: speedLabel(this.speedShown) }));
      return a;
    });
  }

  pause() {
    return this.send("pause").then((a) => {
      if (a.ok) this.announcer.say(t("controls.paused", { t: fmtT(a.t !== undefined ? a.t : this.clock.display) }));
      return a;
    });
  }
}
