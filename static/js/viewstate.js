// The view's own state, apart from the model: flashes timed by the wall clock, the
// highlighted message, which parts of the page need drawing again, the event log's ring
// buffer, and when each lost message was seen to break. Fed with the events the store
// has just applied; the views read and write it, never the store.

const LOG_CAPACITY = 4000;
const MAX_FLASHES = 32;
const MAX_LOSSES_SEEN = 600;

// What an event changes on the page (besides the log, which every event changes).
const CHANGES = {
  "order-created": ["orders", "panels"],
  "message-lost": ["orders", "panels"],
  "message-delivered": ["orders"],
  "message-forgotten": ["orders"],
  "processing-started": ["panels"],
  "credit-reserved": ["orders", "panels"],
  "credit-refused": ["orders", "panels"],
  "receiver-crashed": ["orders", "panels"],
  "receiver-restarted": ["panels"],
  "order-state-changed": ["orders", "panels"],
  "order-consistent": ["orders", "panels"],
  "order-diverged": ["orders", "panels"],
  "invariant-broken": ["panels"],
  "invariant-restored": ["panels"],
  "sender-timeout": ["orders", "panels"],
  "reply-ignored": ["orders"],
  "failure-point-changed": ["failures"],
  "credit-limit-changed": ["panels"],
  "sample-recorded": ["panels"],
};

// Events that flash on the page for a moment: [kind, ms].
const FLASH = {
  "credit-reserved": ["reserve", 1600],
  "credit-refused": ["refuse", 1600],
  "receiver-crashed": ["crash", 2500],
  "receiver-restarted": ["restart", 2500],
  "order-state-changed": ["order", 1600],
  "order-diverged": ["diverged", 2500],
  "invariant-broken": ["alarm", 3000],
  "sender-timeout": ["timeout", 3000],
};

export class ViewState {
  constructor() {
    this.reset();
  }

  /** A snapshot: the page starts afresh. */
  reset() {
    this.log = new Array(LOG_CAPACITY);
    this.logCount = 0; // total ever appended; index = count % capacity
    this.flashes = []; // {kind, order, msg, t, wall, until}
    this.lossSeen = new Map(); // msg -> wall time its loss was applied
    this.highlight = null; // {msg, order, seq} of the log entry hovered or pinned
    this.divergenceRev = 0; // goes up when an order-diverged event may flag a log row
    this.dirty = { panels: true, orders: true, log: true, failures: true };
  }

  /** The events the store just applied, at wall time `wall` (ms). */
  applied(events, wall) {
    const d = this.dirty;
    d.log = true;
    for (const e of events) {
      this.log[this.logCount % LOG_CAPACITY] = e;
      this.logCount++;
      const changes = CHANGES[e.type];
      if (changes) for (const k of changes) d[k] = true;
      const flash = FLASH[e.type];
      if (flash) this.flash(flash[0], e, wall, flash[1]);
      if (e.type === "message-lost") this.seeLoss(e.msg, wall);
      else if (e.type === "order-diverged") this.divergenceRev++;
    }
  }

  /** Events from before the snapshot (the server's `history`), put before the entries the
   * view has appended since: the log shows what led up to the moment. No flashes. */
  prependLog(events) {
    const later = [];
    for (let i = this.logStart(); i < this.logCount; i++) later.push(this.logAt(i));
    const first = later.length ? later[0].seq : Infinity;
    const all = events.filter((e) => e.seq < first).concat(later);
    this.log = new Array(LOG_CAPACITY);
    this.logCount = 0;
    for (const e of all.slice(-LOG_CAPACITY)) {
      this.log[this.logCount % LOG_CAPACITY] = e;
      this.logCount++;
    }
    for (const e of events) if (e.type === "order-diverged") this.divergenceRev++;
    this.dirty.log = true;
  }

  flash(kind, e, wall, ms) {
    this.flashes.push({ kind, order: e.order, msg: e.msg, t: e.t, wall, until: wall + ms });
    if (this.flashes.length > MAX_FLASHES) this.flashes.shift();
  }

  /** Is a flash of this kind still showing at wall time `now`? */
  flashing(kind, now) {
    for (const f of this.flashes) if (f.kind === kind && f.until > now) return true;
    return false;
  }

  seeLoss(msg, wall) {
    this.lossSeen.set(msg, wall);
    if (this.lossSeen.size > MAX_LOSSES_SEEN) {
      this.lossSeen = new Map([...this.lossSeen].slice(-MAX_LOSSES_SEEN / 2));
    }
  }

  logAt(index) {
    // index in [logStart(), logCount)
    return this.log[index % LOG_CAPACITY];
  }

  logStart() {
    return Math.max(0, this.logCount - LOG_CAPACITY);
  }
}
