// Bookmarks for a lecture: ?scenario=NAME&seed=S&speed=X&play=1 opens that preset ready, and
// one parameter per failure point (?reply-lost=on&request-lost=30%) sets the failures too
// (docs/bookmarks.md). A shared run's link (Copy link, share.js) adds `log` (the command
// log, compact) and `t` (the moment looked at): it is replayed, event for event.
// URL -> commands: reads and checks the page's URL parameters against what the server
// allows (its presets and limits from the join answer), then sends the commands that open
// the run they describe. A bad parameter becomes a problem in words (the status line and
// a notice), never a command; a number out of range is clamped to the nearest allowed
// value, and said too.

import { t } from "./i18n.js";
import { decodeLog } from "./share.js";

// `lang` is the server's (it picks the page's language, server/i18n.py): known, not read here.
// `call`: the call mode (async or sync); `lesson` and `step`: a lesson to open (lessons.js
// checks them against the lessons it has).
// `view=semantics` opens Compare semantics (semantics.js), with its own `case`, `orders`,
// `max_attempts` and `outbox`, checked by the server's GET /api/compare.
const BASIC = ["scenario", "seed", "speed", "play", "log", "t", "lang", "call", "lesson", "step",
  "view", "case", "orders", "max_attempts", "outbox"];
// The failure points as the server names them (its join answer's limits.failure_points
// wins; this list is only for a server that does not send one).
const FAILURE_POINTS = ["request-lost", "crash-before-processing", "crash-after-processing", "reply-lost"];
const YES = new Set(["1", "true", "yes", "on"]);
const NO = new Set(["0", "false", "no", "off"]);
const MODES = new Set(["off", "next", "on"]);
const FAILURE_ALLOWED = t("bookmark.failure-allowed");

function shown(value) {
  const v = String(value);
  return v.length > 40 ? `${v.slice(0, 40)}…` : v;
}

/** A probability in words: 0.3 -> "30%". */
export function percent(p) {
  return `${Number((p * 100).toFixed(4))}%`;
}

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * A failure point's value from a link: `off`, `next`, `on`, or a probability (`0.3`, `30%`).
 * @returns {{setting?: {mode: string, probability: number}, clamped?: boolean} | null}
 *   the whole setting to send (null: unreadable); `clamped` when the number was out of range
 */
export function readFailure(raw) {
  const v = String(raw).trim().toLowerCase();
  if (MODES.has(v)) return { setting: { mode: v, probability: 0 }, clamped: false };
  const pct = v.endsWith("%");
  const num = pct ? v.slice(0, -1).trim() : v;
  if (!NUMBER.test(num)) return null;
  const x = Number(num) / (pct ? 100 : 1);
  if (Number.isNaN(x)) return null;
  const p = clamp(x, 0, 1);
  return { setting: { mode: "off", probability: p }, clamped: p !== x };
}

/**
 * @param {string} search location.search
 * @param {Array<{name: string}>} presets from the join answer
 * @param {object} limits from the join answer (speed_min, speed_max, max_seed, failure_points)
 * @returns {{any: boolean, scenario?: string, seed?: number, speed?: number, play?: boolean,
 *   playRaw?: string, failures: Object<string, {mode: string, probability: number}>,
 *   problems: Array<{param: string, got: string, allowed: string, unknown: boolean, used?: string}>}}
 *   `failures`: the whole setting for each failure point the link names, in the server's
 *   order. A problem with `used` is a number out of range: it was clamped to `used`.
 */
export function readBookmark(search, presets, limits = {}) {
  const params = new URLSearchParams(search || "");
  const points = Array.isArray(limits.failure_points) && limits.failure_points.length
    ? limits.failure_points.map(String) : FAILURE_POINTS;
  const known = [...BASIC, ...points];
  const out = { any: false, failures: {}, problems: [] };
  const problem = (param, got, allowed, unknown = false) =>
    out.problems.push({ param, got: shown(got), allowed, unknown });
  const clamped = (param, got, allowed, used) =>
    out.problems.push({ param, got: shown(got), allowed, unknown: false, used: String(used) });
  for (const key of new Set(params.keys())) {
    out.any = true;
    if (!known.includes(key)) problem(key, params.get(key), t("bookmark.no-such", { known: known.join(", ") }), true);
  }
  if (params.has("scenario")) {
    const name = params.get("scenario");
    if (presets.some((p) => p.name === name)) out.scenario = name;
    else problem("scenario", name, t("bookmark.allowed-scenario", { names: presets.map((p) => p.name).join(", ") }));
  }
  if (params.has("seed")) {
    const raw = params.get("seed").trim();
    const max = Math.min(Number(limits.max_seed) || Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const allowed = t("bookmark.allowed-seed", { max });
    if (/^[+-]?\d+$/.test(raw)) {
      const n = Number(raw);
      const used = clamp(n, 0, max) || 0; // || 0: no -0
      if (used === n) out.seed = used;
      else {
        out.seed = used;
        clamped("seed", raw, allowed, used);
      }
    } else problem("seed", raw, allowed);
  }
  if (params.has("speed")) {
    const raw = params.get("speed").trim();
    const lo = Number(limits.speed_min);
    const hi = Number(limits.speed_max);
    const allowed = t("bookmark.allowed-speed", { lo, hi });
    const m = /^(.*?)\s*[x×]?$/i.exec(raw);
    const n = NUMBER.test(m[1]) ? Number(m[1]) : NaN;
    if (Number.isNaN(n) || !Number.isFinite(lo) || !Number.isFinite(hi)) problem("speed", raw, allowed);
    else {
      out.speed = clamp(n, lo, hi);
      if (out.speed !== n) clamped("speed", raw, allowed, out.speed);
    }
  }
  if (params.has("play")) {
    const raw = params.get("play").trim().toLowerCase();
    if (YES.has(raw)) {
      out.play = true;
      out.playRaw = shown(raw);
    } else if (NO.has(raw)) out.play = false;
    else problem("play", raw, t("bookmark.allowed-play"));
  }
  if (params.has("log")) {
    const d = decodeLog(params.get("log").trim());
    if (d.error) problem("log", params.get("log"), t("bookmark.allowed-log", { error: d.error }));
    else if (out.scenario === undefined) problem("log", params.get("log"), t("bookmark.log-needs-scenario"));
    else out.log = d.log;
  }
  if (params.has("t")) {
    const raw = params.get("t").trim();
    if (NUMBER.test(raw) && Number(raw) >= 0 && out.log) out.at = Number(raw);
    else problem("t", raw, t("bookmark.allowed-t"));
  }
  if (params.has("call")) {
    const raw = params.get("call").trim().toLowerCase();
    if (raw === "async" || raw === "sync") out.call = raw;
    else problem("call", raw, t("lessons.call.allowed"));
  }
  if (params.has("lesson")) {
    out.lesson = params.get("lesson").trim();
    if (params.has("step")) out.step = params.get("step");
  } else if (params.has("step")) problem("step", params.get("step"), t("lessons.link-step-alone"), true);
  for (const point of points) {
    if (!params.has(point)) continue;
    const raw = params.get(point).trim();
    const f = readFailure(raw);
    if (!f) {
      problem(point, raw, t("bookmark.allowed", { allowed: FAILURE_ALLOWED }));
      continue;
    }
    out.failures[point] = f.setting;
    if (f.clamped) clamped(point, raw, t("bookmark.allowed", { allowed: FAILURE_ALLOWED }), percent(f.setting.probability));
  }
  return out;
}

/** The status line's words when the link started the run playing. */
export function playingText(raw = "1") {
  return t("bookmark.playing", { raw });
}

/** One problem as a sentence for the notice (and, with `prefix`, the status line). */
export function problemText(p, prefix = false) {
  const head = t(prefix ? "bookmark.head-prefixed" : "bookmark.head", { param: p.param, got: p.got });
  if (p.used !== undefined) return t("bookmark.out-of-range", { head, allowed: p.allowed, used: p.used });
  return t(p.unknown ? "bookmark.ignored" : "bookmark.default-used", { head, allowed: p.allowed });
}

/** The status line's words for a list of problems: one in full, several by name. */
export function problemsSummary(problems) {
  if (problems.length === 1) return problemText(problems[0], true);
  const names = problems.map((p) => p.param).join(", ");
  return t("bookmark.summary", { n: problems.length, names });
}

export const APPLIED_KEY = "amo.bookmark";

/**
 * Applies the page's bookmark once per tab (a reload of the same tab keeps its run), and
 * again when the server no longer knows the session (it was restarted). Bad parameters are
 * said in words, in the status line and in a notice, and the defaults are used (a number
 * out of range: the nearest allowed value). A link that starts playing says so.
 */
export class Bookmark {
  /**
   * @param {object} o search (location.search), store, controls (play, showSpeed),
   *   send (commands), notice, announcer
   */
  constructor({ search, store, controls, send, notice, announcer, importRun }) {
    this.search = search;
    this.importRun = importRun; // (run file, at) -> answer: a shared run's link
    this.store = store;
    this.controls = controls;
    this.send = send;
    this.notice = notice;
    this.announcer = announcer;
    this.read = false;
  }

  /** After each join: `answer` is the join answer (its presets and limits, fresh or not). */
  async apply(answer, presets, limits) {
    const first = !this.read;
    this.read = true;
    const b = readBookmark(this.search, presets, limits);
    if (!b.any) return;
    let applied = null;
    try {
      applied = sessionStorage.getItem(APPLIED_KEY);
    } catch {
      /* private mode: apply every time */
    }
    const again = answer.fresh || applied !== this.search;
    const said = []; // the status line's words, in order
    if (again && (first || answer.fresh)) {
      try {
        sessionStorage.setItem(APPLIED_KEY, this.search);
      } catch {
        /* ignore */
      }
      if (b.lesson !== undefined && this.openLesson) {
        // A lesson's link: the lesson sets its own run up (the run's parameters are its).
        this.openLesson(b.lesson, b.step);
        Object.assign(b, { log: undefined, scenario: undefined, seed: undefined, call: undefined, failures: {}, speed: undefined, play: false });
      }
      if (b.log && this.importRun) {
        // A shared run: the preset's config with the link's seed, and the command log
        // (the failure points' settings are in it); replayed to the moment `at`.
        const preset = presets.find((p) => p.name === b.scenario);
        const config = { ...(preset && preset.config), ...(b.seed !== undefined ? { seed: b.seed } : {}), ...(b.call ? { call: b.call } : {}) };
        await this.importRun({ format: "at-most-once-run", version: 1, scenario: b.scenario, config, command_log: b.log }, b.at);
      } else if (b.scenario !== undefined || b.seed !== undefined || b.call !== undefined) {
        const fields = { name: b.scenario || this.store.scenario || (presets[0] && presets[0].name) };
        if (b.seed !== undefined) fields.seed = b.seed;
        if (b.call !== undefined) fields.config = { call: b.call };
        await this.send("scenario", fields);
      }
      // The whole setting of each failure point the link names, over the scenario's.
      for (const [point, setting] of Object.entries(b.log ? {} : b.failures)) {
        await this.send("set-failure", { point, ...setting });
      }
      if (b.speed !== undefined) {
        const a = await this.send("speed", { speed: b.speed });
        if (a.ok) this.controls.showSpeed(a.speed);
      }
      if (b.play && b.at === undefined) {
        const a = await this.controls.play();
        if (a && a.ok) said.push(playingText(b.playRaw));
      }
    }
    if (first && b.problems.length) {
      const head = b.problems.length === 1 ? t("bookmark.notice-one") : t("bookmark.notice-many");
      this.notice.show(head, b.problems.map((p) => problemText(p)));
      said.push(problemsSummary(b.problems));
    }
    if (said.length) this.announcer.say(said.join(" "));
  }
}
