// Save and share a run (issue 10). The engine is deterministic: a scenario, a seed and the
// command log (each command with the virtual time and scheduler step it was given at)
// give the same events, always. So:
// - the address bar always describes the run: ?scenario=&seed=&speed=&log=&t= (`log` the
//   command log in a compact form, `t` the virtual time looked at in the past); "Copy link"
//   copies it; opening it replays the same run to the same moment (bookmark.js);
// - "Export run" saves the run file (docs/runfile.md) the server answers `export` with;
//   "Import run" sends one back (`import`); a bad file is refused with its field named.
// A run whose set-up a link cannot hold (config fields besides the seed changed) or whose
// link would be too long says so, and Export run is the way to keep it.

import { APPLIED_KEY } from "./bookmark.js";
import { describeError } from "./connection.js";
import * as i18n from "./i18n.js";

const num = (n) => i18n.fmtNum(n);
const EXACT = new Intl.NumberFormat(i18n.lang, { maximumFractionDigits: 20, useGrouping: false }); // as String(t)

const POINT_CODE = {
  "request-lost": "r", "crash-before-processing": "b", "crash-after-processing": "a", "reply-lost": "y",
};
const CODE_POINT = Object.fromEntries(Object.entries(POINT_CODE).map(([k, v]) => [v, k]));
const MODE_CODE = { off: "0", next: "1", on: "2" };
const CODE_MODE = { 0: "off", 1: "next", 2: "on" };
export const MAX_LINK = 8000;
const MAX_FILE = 64 * 1024 * 1024; // a run file (docs/runfile.md)
const MAX_EXPORT_EVENTS = 100000; // events written into an exported file, for reading // longer links are cut by some browsers, mail and chat tools
const UPDATE_DELAY_MS = 400;

/** One command in the compact form ("o", "o250", "fy2", "fr0p0.05", "c500"), or null. */
export function encodeCommand(cmd) {
  switch (cmd.cmd) {
    case "create-order":
      return cmd.amount === undefined ? "o" : `o${cmd.amount}`;
    case "set-failure": {
      const p = POINT_CODE[cmd.point];
      if (!p) return null;
      const m = cmd.mode === undefined ? "" : MODE_CODE[cmd.mode];
      if (m === undefined) return null;
      return `f${p}${m}${cmd.probability === undefined ? "" : `p${cmd.probability}`}`;
    }
    case "set-credit-limit":
      return `c${cmd.credit_limit}`;
    default:
      return null;
  }
}

/** A command log as `t_step_command` entries joined by "~", or null if one cannot be. */
export function encodeLog(log) {
  const parts = [];
  for (const e of log) {
    const c = encodeCommand(e.cmd);
    if (c === null || !Number.isFinite(e.t) || !Number.isInteger(e.step)) return null;
    parts.push(`${e.t}_${e.step}_${c}`); // String(t) round-trips a double exactly
  }
  return parts.join("~");
}

const NUM = "(?:\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)";
const ENTRY = new RegExp(`^(${NUM})_(\\d+)_(?:(o)(\\d+)?|f([rbay])([012])?(?:p(${NUM}))?|c(\\d+))$`, "i");

/** The compact form back to a command log: {log} or {error: "entry 3 (…): …"}. */
export function decodeLog(text) {
  const log = [];
  if (!text) return { log };
  const entries = text.split("~");
  for (let i = 0; i < entries.length; i++) {
    const m = ENTRY.exec(entries[i]);
    if (!m) return { error: i18n.t("share.log-entry-bad", { n: i + 1, entry: entries[i].slice(0, 30) }) };
    const [, t, step, o, amount, point, mode, prob, limit] = m;
    let cmd;
    if (o) cmd = amount === undefined ? { cmd: "create-order" } : { cmd: "create-order", amount: Number(amount) };
    else if (point) {
      cmd = { cmd: "set-failure", point: CODE_POINT[point.toLowerCase()] };
      if (mode !== undefined) cmd.mode = CODE_MODE[mode];
      if (prob !== undefined) cmd.probability = Number(prob);
      if (mode === undefined && prob === undefined) return { error: i18n.t("share.log-entry-mode", { n: i + 1 }) };
    } else cmd = { cmd: "set-credit-limit", credit_limit: Number(limit) };
    log.push({ t: Number(t), step: Number(step), cmd });
  }
  return { log };
}

/** The run file's config, if a link can describe it: a preset's config with its seed. */
function linkable(run, presets) {
  const p = presets.find((x) => x.name === run.scenario);
  if (!p || !p.config) return false;
  // The seed and the call mode (call=sync) travel in the link.
  const a = { ...p.config, seed: run.config.seed, ...(run.config.call ? { call: run.config.call } : {}) };
  const b = run.config;
  return JSON.stringify(Object.keys(a).sort().map((k) => [k, a[k]])) ===
    JSON.stringify(Object.keys(b).sort().map((k) => [k, b[k]]));
}

/** The address of a run: scenario, seed, speed, the command log and the moment shown, and
 * the page's language when it is not English (`lang`). */
export function runLink(base, run, { speed, at, lang = i18n.lang, lesson = null }) {
  const q = new URLSearchParams();
  q.set("scenario", run.scenario);
  q.set("seed", String(run.config.seed));
  if (run.config.call && run.config.call !== "async") q.set("call", run.config.call);
  if (speed && speed !== 1) q.set("speed", String(speed));
  const log = encodeLog(run.command_log);
  if (log === null) return null;
  q.set("log", log);
  if (at !== undefined && at !== null) q.set("t", String(at)); // String(t) round-trips
  if (lang && lang !== "en") q.set("lang", lang);
  if (lesson) {
    q.set("lesson", lesson.lesson); // a lesson open at a step (lessons.js)
    q.set("step", lesson.step);
  }
  return `${base}?${q.toString().replace(/%7E/gi, "~")}`;
}

export class Share {
  /**
   * @param {object} o send (commands), store, clock, timeline, controls (presets),
   *   announcer, notice, els: {copy, exportBtn, exportEvents, importBtn, importFile, exportOriginal}
   */
  constructor({ send, store, clock, timeline, controls, announcer, notice, els }) {
    Object.assign(this, { send, store, clock, timeline, controls, announcer, notice, els });
    this.timer = null;
    this.lastLink = null;
    this.why = null; // why the address bar cannot describe the run, or null
    this.maxImport = null; // the server's limit (join answer: limits.max_import)
    els.copy.addEventListener("click", () => this.copyLink());
    els.exportBtn.addEventListener("click", () => this.exportRun("current"));
    if (els.exportEvents) els.exportEvents.addEventListener("click", () => this.exportRun("current", true));
    if (els.exportOriginal) els.exportOriginal.addEventListener("click", () => this.exportRun("original"));
    els.importBtn.addEventListener("click", () => els.importFile.click());
    els.importFile.addEventListener("change", () => {
      const f = els.importFile.files && els.importFile.files[0];
      els.importFile.value = "";
      if (f) this.importFile(f);
    });
  }

  /** Something changed the run or the moment shown: describe it in the address bar soon. */
  changed() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.updateAddress(), UPDATE_DELAY_MS);
  }

  async link() {
    const a = await this.send("export", { which: "current" }, { quiet: true });
    if (!a.ok) return { link: null, why: i18n.t("share.why-no-answer") };
    const run = a.run || a;
    if (!linkable(run, this.controls.presets)) {
      return { link: null, why: i18n.t("share.why-config") };
    }
    const at = this.timeline && this.timeline.inPast ? this.timeline.view.t : undefined;
    const base = `${window.location.origin}${window.location.pathname}`;
    const link = runLink(base, run, { speed: this.clock.speed, at, lesson: this.lessonParams ? this.lessonParams() : null });
    if (link === null) return { link: null, why: i18n.t("share.why-command") };
    if (link.length > MAX_LINK) {
      return { link: null, why: i18n.t("share.why-long", { n: num(link.length), max: num(MAX_LINK) }) };
    }
    return { link, why: null };
  }

  async updateAddress() {
    if (this.hold && this.hold()) return; // another view owns the address bar (semantics.js)
    const { link, why } = await this.link();
    this.why = why;
    const lesson = this.lessonParams ? this.lessonParams() : null;
    if (link && link !== this.lastLink) {
      this.setAddress(link);
    } else if (!link && lesson) {
      // A lesson's run a link cannot hold: the address still says which lesson and step.
      const q = new URLSearchParams(lesson);
      if (i18n.lang && i18n.lang !== "en") q.set("lang", i18n.lang);
      const only = `${window.location.origin}${window.location.pathname}?${q}`;
      if (only !== this.lastLink) this.setAddress(only);
    }
  }

  /** The address bar holds `link`; a reload of this tab keeps its run (not replayed again). */
  setAddress(link) {
    this.lastLink = link;
    try {
      window.history.replaceState(null, "", link);
      sessionStorage.setItem(APPLIED_KEY, window.location.search);
    } catch {
      /* a sandboxed page or private mode: Copy link still works */
    }
  }

  async copyLink() {
    const { link, why } = await this.link();
    if (!link) {
      this.notice.show(i18n.t("share.no-link-head"), [i18n.t("share.why", { why }), i18n.t("share.no-link-line")]);
      this.announcer.say(i18n.t("share.no-link-say", { why }));
      return;
    }
    this.setAddress(link);
    let copied = false;
    try {
      await navigator.clipboard.writeText(link);
      copied = true;
    } catch {
      copied = false;
    }
    this.announcer.say(copied ? i18n.t("share.copied") : i18n.t("share.not-copied"));
  }

  async exportRun(which, withEvents = false) {
    const a = await this.send("export", { which });
    if (!a.ok) return;
    const run = a.run || a;
    if (withEvents && which === "current") {
      // The events too, for reading (a replay ignores them): from the server's history.
      const events = [];
      for (let from = 1; events.length < MAX_EXPORT_EVENTS;) {
        const h = await this.send("history", { from_seq: from }, { quiet: true });
        if (!h.ok || !h.events.length) break;
        events.push(...h.events);
        if (h.to_seq >= h.head_seq) break;
        from = h.to_seq + 1;
      }
      run.events = events.slice(0, MAX_EXPORT_EVENTS);
    }
    const text = JSON.stringify(run, null, 1);
    const blob = new Blob([text], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = `${run.scenario || "run"}-seed${run.config ? run.config.seed : ""}${which === "original" ? "-original" : ""}.json`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
    const commands = i18n.tn("share.commands", run.command_log.length);
    this.announcer.say(run.events
      ? i18n.t("share.exported-events", { file: link.download, commands, events: i18n.tn("share.events", run.events.length) })
      : i18n.t("share.exported", { file: link.download, commands }));
  }

  /** A file chosen in Import run: read, parse, send. The current run stays if it is refused. */
  async importFile(file) {
    if (file.size > MAX_FILE) {
      this.refuse(file.name, i18n.t("share.too-big", { size: num(file.size), max: num(MAX_FILE) }));
      return;
    }
    let run;
    try {
      run = JSON.parse(await file.text());
    } catch (e) {
      this.refuse(file.name, i18n.t("share.not-json", { error: String(e.message || e).slice(0, 80) }));
      return;
    }
    if (run && typeof run === "object" && !Array.isArray(run)) delete run.events; // a replay ignores them
    const size = JSON.stringify(run).length;
    const limit = this.maxImport || 15360;
    if (size > limit) {
      this.refuse(file.name, i18n.t("share.run-too-big", { size: num(size), max: num(limit) }));
      return;
    }
    await this.importRun(run, undefined, file.name);
  }

  async importRun(run, at, name = i18n.t("share.the-link")) {
    const fields = { run };
    if (at !== undefined) fields.t = at;
    const a = await this.send("import", fields, { quiet: true });
    if (!a.ok) {
      const e = a.error;
      const why = !e ? i18n.t("share.refused")
        : i18n.lang === "en" ? `${e.field || ""}${e.field ? ": " : ""}${e.message || ""}` : describeError(e);
      this.refuse(name, why);
      return a;
    }
    this.announcer.say(at !== undefined ? i18n.t("share.imported-at", { name, t: EXACT.format(at) }) : i18n.t("share.imported", { name }));
    this.changed();
    return a;
  }

  refuse(name, why) {
    this.notice.show(i18n.t("share.not-imported-head", { name }), [i18n.t("share.why", { why })]);
    this.announcer.say(i18n.t("share.not-imported-say", { why }));
  }
}
