// Bookmarks for a lecture: ?scenario=NAME&seed=S&speed=X&play=1 opens that preset ready.
// URL -> commands: reads and checks the page's URL parameters against what the server
// allows (its presets and limits from the join answer), then sends the commands that open
// the run they describe. A bad parameter becomes a problem in words (the status line and
// a notice), never a command.

const KNOWN = ["scenario", "seed", "speed", "play"];
const YES = new Set(["1", "true", "yes", "on"]);
const NO = new Set(["0", "false", "no", "off"]);

function shown(value) {
  const v = String(value);
  return v.length > 40 ? `${v.slice(0, 40)}…` : v;
}

/**
 * @param {string} search location.search
 * @param {Array<{name: string}>} presets from the join answer
 * @param {object} limits from the join answer (speed_min, speed_max, max_seed)
 * @returns {{any: boolean, scenario?: string, seed?: number, speed?: number, play?: boolean,
 *   problems: Array<{param: string, got: string, allowed: string, unknown: boolean}>}}
 */
export function readBookmark(search, presets, limits = {}) {
  const params = new URLSearchParams(search || "");
  const out = { any: false, problems: [] };
  const problem = (param, got, allowed, unknown = false) =>
    out.problems.push({ param, got: shown(got), allowed, unknown });
  for (const key of new Set(params.keys())) {
    out.any = true;
    if (!KNOWN.includes(key)) problem(key, params.get(key), `no such parameter (they are ${KNOWN.join(", ")})`, true);
  }
  if (params.has("scenario")) {
    const name = params.get("scenario");
    if (presets.some((p) => p.name === name)) out.scenario = name;
    else problem("scenario", name, `allowed: one of ${presets.map((p) => p.name).join(", ")}`);
  }
  if (params.has("seed")) {
    const raw = params.get("seed").trim();
    const max = Math.min(Number(limits.max_seed) || Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (Number.isSafeInteger(n) && n <= max) out.seed = n;
    else problem("seed", raw, `allowed: a whole number from 0 to ${max}`);
  }
  if (params.has("speed")) {
    const raw = params.get("speed").trim();
    const lo = Number(limits.speed_min);
    const hi = Number(limits.speed_max);
    const n = /^[0-9]*\.?[0-9]+(e[+-]?\d+)?\s*[x×]?$/i.test(raw) ? parseFloat(raw) : NaN;
    if (Number.isFinite(n) && n >= lo && n <= hi) out.speed = n;
    else problem("speed", raw, `allowed: a number from ${lo} to ${hi} (a multiple of real time, e.g. 2)`);
  }
  if (params.has("play")) {
    const raw = params.get("play").trim().toLowerCase();
    if (YES.has(raw)) out.play = true;
    else if (NO.has(raw)) out.play = false;
    else problem("play", raw, "allowed: 1 to start playing, 0 to open paused");
  }
  return out;
}

/** One problem as a sentence for the notice (and, with `prefix`, the status line). */
export function problemText(p, prefix = false) {
  return `${prefix ? "URL parameter " : ""}${p.param}=${p.got}: ${p.allowed}; ${p.unknown ? "ignored" : "the default is used"}.`;
}

/** The status line's words for a list of problems: one in full, several by name. */
export function problemsSummary(problems) {
  if (problems.length === 1) return problemText(problems[0], true);
  const names = problems.map((p) => p.param).join(", ");
  return `${problems.length} URL parameters not used (${names}): see the notice above. The defaults are used.`;
}

const APPLIED_KEY = "amo.bookmark";

/**
 * Applies the page's bookmark once per tab (a reload of the same tab keeps its run), and
 * again when the server no longer knows the session (it was restarted). Bad parameters are
 * said in words, in the status line and in a notice, and the defaults are used.
 */
export class Bookmark {
  /**
   * @param {object} o search (location.search), store, controls (play, showSpeed),
   *   send (commands), notice, announcer
   */
  constructor({ search, store, controls, send, notice, announcer }) {
    this.search = search;
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
    if (again && (first || answer.fresh)) {
      try {
        sessionStorage.setItem(APPLIED_KEY, this.search);
      } catch {
        /* ignore */
      }
      if (b.scenario !== undefined || b.seed !== undefined) {
        const fields = { name: b.scenario || this.store.scenario || (presets[0] && presets[0].name) };
        if (b.seed !== undefined) fields.seed = b.seed;
        await this.send("scenario", fields);
      }
      if (b.speed !== undefined) {
        const a = await this.send("speed", { speed: b.speed });
        if (a.ok) this.controls.showSpeed(a.speed);
      }
      if (b.play) await this.controls.play();
    }
    if (first && b.problems.length) {
      const head = b.problems.length === 1
        ? "This link has a parameter the page cannot use:" : "This link has parameters the page cannot use:";
      this.notice.show(head, b.problems.map((p) => problemText(p)));
      this.announcer.say(problemsSummary(b.problems));
    }
  }
}
