// "Compare semantics" (issue 12): the same seed and failure schedule under at-most-once,
// at-least-once and exactly-once, side by side (lanes.js), on one virtual clock of its own
// (Play, Pause, Step, Back, Reset, Speed, a scrubber), and the truth table (truthtable.js)
// whose cells play their case in the lanes. The runs come from GET /api/compare, played to
// rest on the server; this view only animates them, so it needs no socket and never
// touches the page's own run.
// Bookmarkable: ?view=semantics&scenario=&seed=&orders=&max_attempts=&outbox= and the
// failure points as a bookmark says them (reply-lost=30%), or ?view=semantics&case=... for
// a truth-table case (docs/bookmarks.md). window.amo.semantics is this view (tests, bench).

import { APPLIED_KEY } from "./bookmark.js";
import * as i18n from "./i18n.js";
import { Lane, prepare, tallyAt, upper } from "./lanes.js";
import { OUTCOME_WORDS, TruthTable } from "./truthtable.js";

const { t } = i18n;

const SEMANTICS = ["at-most-once", "at-least-once", "exactly-once"];
const POINTS = ["request-lost", "crash-before-processing", "crash-after-processing", "reply-lost", "sender-crash"];
const SETUP_PARAMS = ["scenario", "seed", "orders", "max_attempts", "outbox", "case", ...POINTS];
const SPEED_MIN = 0.25;
const SPEED_MAX = 16;
const DEFAULT = { scenario: "reply-lost", seed: "1", max_attempts: "5", outbox: "memory" };

const speedOf = (v) => SPEED_MIN * (SPEED_MAX / SPEED_MIN) ** (Number(v) / 1000);
const sliderOf = (s) => Math.round((1000 * Math.log(s / SPEED_MIN)) / Math.log(SPEED_MAX / SPEED_MIN));

async function fetchJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error((await res.text()).trim().replace(/^400 bad request: /, "") || `HTTP ${res.status}`);
  return res.json();
}

/** The view's setup from a link's parameters (strings, as they came; the server checks). */
export function setupFrom(search) {
  const q = new URLSearchParams(search || "");
  const setup = {};
  for (const name of SETUP_PARAMS) if (q.has(name)) setup[name] = q.get(name);
  if (setup.case !== undefined) for (const name of ["scenario", "seed", "orders", ...POINTS]) delete setup[name];
  return setup;
}

/** The query of GET /api/compare (and of the address bar) for a setup. */
export function queryOf(setup) {
  const q = new URLSearchParams();
  for (const name of SETUP_PARAMS) if (setup[name] !== undefined && setup[name] !== "") q.set(name, setup[name]);
  return q.toString();
}

export class SemanticsView {
  /** @param {object} o template (the view's <template>), button (the header's), notice,
   *   announcer, onOpenChange(open) */
  constructor({ template, button, notice, announcer, onOpenChange = () => {} }) {
    Object.assign(this, { template, notice, announcer, onOpenChange });
    this.els = { button };
    this.open_ = false;
    this.keys = {};
    button.addEventListener("click", () => (this.open_ ? this.close() : this.open()));
  }

  /** The view's elements, put into the page the first time it opens. */
  mount() {
    const section = this.template.content.firstElementChild.cloneNode(true);
    this.template.before(section);
    const $ = (id) => document.getElementById(id);
    const els = Object.assign(this.els, {
      view: section, form: $("sem-form"), scenario: $("sem-scenario"), seed: $("sem-seed"), orders: $("sem-orders"),
      attempts: $("sem-attempts"), outbox: $("sem-outbox"), caseNote: $("sem-case"), play: $("sem-play"),
      pause: $("sem-pause"), step: $("sem-step"), reset: $("sem-reset"), speed: $("sem-speed"),
      speedOut: $("sem-speed-out"), scrub: $("sem-scrub"), time: $("sem-time"), status: $("sem-status"),
      lanes: $("sem-lanes"), table: $("sem-tt"), tableStatus: $("sem-table-status"),
    });
    this.setup = { ...DEFAULT };
    this.data = null;
    this.at = 0;
    this.end = 0;
    this.playing = false;
    this.speed = 1;
    this.last = null;
    this.request = 0;
    this.frames = 0;
    this.lanes = SEMANTICS.map((s) => {
      const el = document.createElement("section");
      els.lanes.append(el);
      return new Lane(el, s);
    });
    this.table = new TruthTable({
      table: els.table, status: els.tableStatus, fetchJson,
      onPlay: (caseName, semantics, cell) => this.playCase(caseName, semantics, cell),
    });
    els.play.addEventListener("click", () => this.play());
    els.pause.addEventListener("click", () => this.pause());
    els.step.addEventListener("click", () => this.step());
    els.reset.addEventListener("click", () => this.reset());
    els.speed.addEventListener("input", () => this.setSpeed(speedOf(els.speed.value)));
    els.scrub.addEventListener("input", () => {
      this.pause();
      const v = Number(els.scrub.value);
      this.seek(v >= Number(els.scrub.max) - 1e-6 ? this.end : v); // the range rounds its end
    });
    els.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.load(this.formSetup(false), { play: true });
    });
    // Outbox and attempts change the lanes at once (a case stays a case) and the table.
    for (const sel of [els.outbox, els.attempts]) sel.addEventListener("change", () => this.load(this.formSetup(true), { play: false }));
    this.setSpeed(1);
    this.loop = (now) => this.frame(now);
    // The keys (keys.js) while the view is open; the page's own (N, the digits) do nothing here.
    const nothing = () => {};
    Object.assign(this.keys, {
      toggle: () => this.toggle(), step: () => this.step(), back: () => this.back(), reset: () => this.reset(),
      send: nothing, failure: nothing, arm: nothing,
    });
  }

  isOpen() {
    return this.open_;
  }

  /** Open the view (from the header button, or a link with view=semantics). */
  async open(setup = null, { fromLink = false } = {}) {
    if (!this.open_) {
      if (!this.els.view) this.mount();
      this.open_ = true;
      document.body.classList.add("semantics-open");
      this.els.view.hidden = false;
      this.els.button.setAttribute("aria-pressed", "true");
      this.onOpenChange(true);
      this.last = null;
      requestAnimationFrame(this.loop);
    }
    if (setup || !this.data) {
      const base = setup && setup.case !== undefined ? { max_attempts: DEFAULT.max_attempts, outbox: DEFAULT.outbox } : DEFAULT;
      await this.load({ ...base, ...(setup || this.currentPageSetup()) }, { play: false, fromLink });
      // A scenario without orders (the metrics stream) has nothing to compare: the default.
      if (!setup && this.data && this.data.lanes[0].summary.orders === 0) await this.load({ ...DEFAULT });
    } else this.address();
    this.announcer.say(t("semantics.opened"));
  }

  close() {
    if (!this.open_) return;
    this.open_ = false;
    this.pause();
    document.body.classList.remove("semantics-open");
    this.els.view.hidden = true;
    this.els.button.setAttribute("aria-pressed", "false");
    this.onOpenChange(false);
    this.announcer.say(t("semantics.closed"));
  }

  /** The page's own scenario and seed (what the main stage plays), as a setup. */
  currentPageSetup() {
    return this.pageSetup ? this.pageSetup() : {};
  }

  /** The form's setup: its scenario's run, or (`keepCase`) the case shown with the form's
   * outbox and attempts. */
  formSetup(keepCase) {
    const e = this.els;
    const s = { scenario: e.scenario.value, seed: e.seed.value.trim(), max_attempts: e.attempts.value, outbox: e.outbox.value };
    const orders = e.orders.value.trim();
    if (orders !== "") s.orders = orders;
    if (keepCase && this.setup.case !== undefined) {
      return { case: this.setup.case, max_attempts: s.max_attempts, outbox: s.outbox };
    }
    // The failure points the setup named (a link's) stay with a scenario's run.
    if (this.setup.scenario === s.scenario) for (const p of POINTS) if (this.setup[p] !== undefined) s[p] = this.setup[p];
    return s;
  }

  showSetup(answer) {
    const e = this.els;
    const s = answer.setup;
    if (!e.scenario.options.length || e.scenario.dataset.names !== answer.scenarios.join(",")) {
      e.scenario.dataset.names = answer.scenarios.join(",");
      e.scenario.innerHTML = "";
      for (const name of answer.scenarios) {
        const o = document.createElement("option");
        o.value = name;
        o.textContent = i18n.has(`scenario.${name}.title`) ? t(`scenario.${name}.title`) : name;
        e.scenario.append(o);
      }
    }
    if (s.case === null) {
      e.scenario.value = s.scenario;
      e.seed.value = String(s.seed);
      e.orders.value = String(s.orders);
    }
    e.attempts.value = String(s.max_attempts);
    e.outbox.value = s.outbox;
    e.caseNote.hidden = s.case === null;
    if (s.case !== null) {
      const words = s.case === "none" ? t("semantics.table.none")
        : s.case.split(",").map((p) => t(`failure.${p}.label`)).join(" + ");
      e.caseNote.textContent = t("semantics.case-note", { case: words });
    }
  }

  /** Fetch the three runs of a setup and show them from t = 0. */
  async load(setup, { play = false, fromLink = false, semantics = null } = {}) {
    const mine = ++this.request;
    this.pause();
    this.els.status.textContent = t("semantics.loading");
    this.els.view.setAttribute("aria-busy", "true");
    let answer;
    try {
      answer = await fetchJson(`/api/compare?${queryOf(setup)}`);
    } catch (err) {
      if (mine !== this.request) return;
      this.els.view.removeAttribute("aria-busy");
      const why = t("semantics.failed", { message: err.message });
      this.els.status.textContent = why;
      if (fromLink) this.notice.show(t("semantics.link-bad"), [why]);
      this.announcer.say(why);
      if (fromLink || !this.data) await this.load({ ...DEFAULT }, { play: false });
      return;
    }
    if (mine !== this.request) return;
    this.els.view.removeAttribute("aria-busy");
    this.setup = { ...setup };
    this.data = answer;
    this.lanes.forEach((lane, i) => lane.setData(prepare(answer.lanes[i])));
    this.end = answer.end;
    this.els.scrub.max = String(this.end);
    this.showSetup(answer);
    this.focusLane(semantics);
    this.table.load(answer.setup.outbox, answer.setup.max_attempts).then(() =>
      this.table.mark(answer.setup.case !== null && semantics ? { case: answer.setup.case, semantics } : null));
    this.seek(0);
    this.address();
    this.els.status.textContent = answer.setup.case !== null ? this.els.caseNote.textContent : t("semantics.loaded", { n: i18n.fmtNum(answer.lanes[0].summary.orders) });
    if (play) this.play();
  }

  /** A truth-table cell was chosen: its case in the lanes, its column's lane marked. */
  playCase(caseName, semantics, cell) {
    const o = OUTCOME_WORDS[cell.outcome];
    this.announcer.say(t("semantics.case-playing", { semantics: t(`semantics.lane.${semantics}`), outcome: o ? t(o.key) : cell.outcome }));
    return this.load({ case: caseName, max_attempts: this.els.attempts.value, outbox: this.els.outbox.value }, { play: true, semantics });
  }

  focusLane(semantics) {
    for (const lane of this.lanes) lane.el.dataset.chosen = lane.semantics === semantics ? "yes" : "no";
  }

  /** The address bar says the view and its setup (a reload keeps it). */
  address() {
    if (!this.open_) return;
    const q = new URLSearchParams(queryOf(this.setup));
    const full = new URLSearchParams();
    full.set("view", "semantics");
    for (const [k, v] of q) full.set(k, v);
    if (i18n.lang !== "en") full.set("lang", i18n.lang);
    const link = `${window.location.pathname}?${full}`;
    try {
      window.history.replaceState(null, "", link);
      sessionStorage.setItem(APPLIED_KEY, window.location.search); // a reload keeps the page's run
    } catch {
      /* sandboxed: the view still works */
    }
  }

  // ---- the clock
  play() {
    if (!this.data) return;
    if (this.at >= this.end) this.seek(0);
    this.playing = true;
    this.last = null;
    this.showPlaying();
  }

  pause() {
    this.playing = false;
    this.showPlaying();
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  reset() {
    this.pause();
    this.seek(0);
    this.announcer.say(t("semantics.reset-said"));
  }

  /** To the next moment any lane has an event at. */
  step() {
    this.pause();
    let next = Infinity;
    for (const lane of this.lanes) {
      const d = lane.data;
      if (!d) continue;
      const i = upper(d.times, this.at);
      if (i < d.n) next = Math.min(next, d.times[i]);
    }
    if (Number.isFinite(next)) this.seek(next);
  }

  /** To the previous moment any lane has an event at. */
  back() {
    this.pause();
    let prev = 0;
    for (const lane of this.lanes) {
      const d = lane.data;
      if (!d) continue;
      let i = upper(d.times, this.at) - 1;
      while (i >= 0 && d.times[i] >= this.at) i -= 1;
      if (i >= 0) prev = Math.max(prev, d.times[i]);
    }
    this.seek(prev);
  }

  setSpeed(s) {
    this.speed = Math.min(SPEED_MAX, Math.max(SPEED_MIN, s));
    this.els.speed.value = String(sliderOf(this.speed));
    const text = t("semantics.speed-x", { x: i18n.fmtNum(Number(this.speed.toFixed(2))) });
    this.els.speedOut.textContent = text;
    this.els.speed.setAttribute("aria-valuetext", text);
  }

  seek(at) {
    this.at = Math.min(this.end, Math.max(0, at));
    this.draw();
  }

  showPlaying() {
    this.els.play.setAttribute("aria-pressed", String(this.playing));
    this.els.pause.setAttribute("aria-pressed", String(!this.playing));
  }

  frame(now) {
    if (!this.open_) return;
    requestAnimationFrame(this.loop);
    if (this.playing) {
      if (this.last !== null) {
        const dt = Math.min(0.25, (now - this.last) / 1000);
        this.at = Math.min(this.end, this.at + dt * this.speed);
        if (this.at >= this.end) {
          this.pause();
          this.announcer.say(this.overText());
        }
      }
      this.last = now;
      this.draw();
    } else {
      this.last = null;
      // Paused: a lane whose canvas was resized (presentation mode, a rotated phone) was
      // cleared by the resize and is drawn again at the same moment.
      if (this.lanes.some((lane) => lane.dirty)) this.draw();
    }
    this.frames += 1;
  }

  draw() {
    for (const lane of this.lanes) {
      lane.update(this.at);
      lane.draw(this.at);
    }
    const e = this.els;
    if (document.activeElement !== e.scrub) e.scrub.value = String(this.at);
    const text = t("semantics.time", { t: i18n.fmtFixed(this.at, 1), end: i18n.fmtFixed(this.end, 1) });
    if (e.time.textContent !== text) {
      e.time.textContent = text;
      e.scrub.setAttribute("aria-valuetext", text);
    }
  }

  /** What the three lanes ended with, in words (computed from their tallies). */
  overText() {
    return this.lanes.map((lane) => `${t(`semantics.lane.${lane.semantics}`)}: ${lane.verdictEl.textContent}`).join(" ");
  }

  /** The tallies now (tests and the bench read them). */
  tallies() {
    return Object.fromEntries((this.lanes || []).map((lane) => [lane.semantics, lane.data ? tallyAt(lane.data, this.at) : null]));
  }
}
