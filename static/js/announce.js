// The aria-live status line: says in words what just happened on the stage. One event
// gets its own sentence; a burst (high speed, many orders) gets a one-line summary, and
// announcements are spaced so a screen reader is not flooded. The line always speaks of
// the newest thing: a sentence said directly drops the event sentences still waiting, and
// while the connection is away its sentence holds the line until it is resolved.
import { t, tn } from "./i18n.js";
import { describe, fmtInt } from "./words.js";

const MIN_GAP_MS = 1200;
const NOTABLE = new Set([
  "message-delivered", "message-lost", "message-forgotten", "receiver-crashed", "receiver-restarted",
  "credit-reserved", "credit-refused", "order-state-changed", "order-diverged", "invariant-broken",
  "invariant-restored", "sender-timeout", "reply-ignored",
]);
// The most important sentence of a burst wins the line.
const WEIGHT = {
  "invariant-broken": 9, "order-diverged": 8, "receiver-crashed": 7, "message-lost": 6,
  "sender-timeout": 5, "message-forgotten": 4, "receiver-restarted": 4, "order-state-changed": 3,
  "credit-reserved": 3, "credit-refused": 3, "invariant-restored": 3, "reply-ignored": 2,
  "message-delivered": 1,
};

export class Announcer {
  constructor(el) {
    this.el = el;
    this.pending = [];
    this.last = 0;
    this.timer = null;
    this.held = false; // a connection sentence holds the line
  }

  /** Say `text` now; the event sentences waiting are older than it: they are dropped.
   * While a connection sentence holds the line, nothing else is said. */
  say(text) {
    if (this.held) return;
    this.pending = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.el.textContent = text;
    this.last = performance.now();
  }

  /** Say `text` and keep the line for it until release() (the connection is away). */
  hold(text) {
    this.held = false;
    this.say(text);
    this.held = true;
  }

  /** The held state is resolved: say so, and let events speak again. */
  release(text) {
    this.held = false;
    this.say(text);
  }

  events(list) {
    if (this.held) return;
    for (const e of list) if (NOTABLE.has(e.type)) this.pending.push(e);
    if (this.pending.length > 5000) this.pending.splice(0, this.pending.length - 5000);
    if (this.pending.length) this.schedule();
  }

  schedule() {
    if (this.timer) return;
    const wait = Math.max(0, MIN_GAP_MS - (performance.now() - this.last));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  flush() {
    const list = this.pending;
    this.pending = [];
    if (!list.length) return;
    let top = list[0];
    for (const e of list) if ((WEIGHT[e.type] || 0) >= (WEIGHT[top.type] || 0)) top = e;
    const sentence = describe(top)[1] + ".";
    if (list.length === 1) {
      this.say(sentence);
      return;
    }
    const n = { delivered: 0, lost: 0, diverged: 0 };
    for (const e of list) {
      if (e.type === "message-delivered") n.delivered++;
      else if (e.type === "message-lost") n.lost++;
      else if (e.type === "order-diverged") n.diverged++;
    }
    const parts = [];
    if (n.delivered) parts.push(t("burst.delivered", { n: fmtInt(n.delivered) }));
    if (n.lost) parts.push(t("burst.lost", { n: fmtInt(n.lost) }));
    if (n.diverged) parts.push(tn("burst.diverged", n.diverged));
    const others = list.length - 1;
    this.say(parts.length ? t("burst.just-now", { sentence, parts: parts.join(", ") }) : t("burst.more", { sentence, n: fmtInt(others) }));
  }
}
