// The model of the page: a projection of what the server sends (snapshots, event batches,
// pacing), under the wire's own field names. Events are queued as they arrive and applied
// when the display clock reaches their moment, so everything changes together with the
// motion on the stage. No wall clock, no DOM, no wording; nothing here decides anything
// about the simulation: badges, divergence and the alarm come from the engine's events.
// Views read it; only the server's messages (snapshot, batches, pacing, answers) write it.

const MAX_ORDERS_KEPT = 2000; // older settled orders are dropped from memory (counts stay)
const MAX_LOST_MARKS = 300;
const MAX_ALARM_ORDERS = 5000;
const MAX_DIVERGENCE_MARKS = 5000;

export class Store {
  constructor() {
    this.clear();
  }

  clear() {
    this.queue = [];
    this.qHead = 0;
    this.appliedSeq = 0;
    this.scenario = null;
    this.seed = null;
    this.config = {};
    this.pacing = { playing: false, held_back: false, speed: 1, over: false };
    // The newest pacing's number (Session.pace on the server); a snapshot starts afresh.
    this.pace = -1;
    this.customer = { credit_limit: 0, reserved: 0, available: 0, up: true, restarts_at: null };
    this.approvedTotal = 0;
    this.invariant = { ok: true, reserved: 0, approved_total: 0, unbacked: 0, broken_at_seq: null, broken_at_t: null };
    this.failures = {}; // point -> {mode, probability}
    this.custom = false; // a failure point was changed by a command in this run
    this.orders = new Map(); // id -> order view (the snapshot's fields, kept up to date)
    this.orderIds = []; // ascending ids kept in memory
    this.counts = { orders: 0, consistent: 0, diverged: 0, approved: 0, cancelled: 0, timeouts: 0 };
    this.unbackedOrders = new Set(); // ids of orders with credit reserved, never approved
    this.stuckOrders = new Set();
    this.divergedAtSeq = new Map(); // diverged_at_seq -> the order whose divergence began there
    this.tokens = new Map(); // msg -> message on the wire
    this.lost = []; // the latest lost messages, newest last
    this.lostTotal = { request: 0, reply: 0 };
    this.processing = new Map(); // msg -> {order, since, done_at}
    this.msgs = { sent: 0, delivered: 0, lost: 0, forgotten: 0 };
    this.metrics = null;
    this.samplesLost = 0;
    this.lastCrash = null; // the receiver-crashed event of the latest crash
  }

  /** A run of the metrics stream: samples, no orders. */
  metricsRun() {
    return !!(this.config && this.config.samples);
  }

  /** Pacing as the server reports it (snapshot, batch, clock, a play or pause answer). */
  setPacing(msg) {
    // Older than pacing already shown (a play answer overtaken by the frame that paused
    // the run at its until): dropped.
    if (typeof msg.pace === "number") {
      if (msg.pace < this.pace) return;
      this.pace = msg.pace;
    }
    for (const k of Object.keys(this.pacing)) {
      if (msg[k] !== undefined) this.pacing[k] = k === "speed" ? msg[k] : !!msg[k];
    }
  }

  // ------------------------------------------------------------------ input
  loadSnapshot(snap) {
    this.clear();
    const s = snap.state || {};
    this.scenario = snap.scenario;
    this.seed = snap.seed;
    this.custom = !!snap.custom;
    // {run, seq, t}: this run is a fork of run `run`, from its event `seq` at time t
    this.forkedFrom = snap.forked_from ? { ...snap.forked_from, t: snap.t } : null;
    this.config = s.config || {};
    this.appliedSeq = snap.seq;
    this.setPacing(snap);
    Object.assign(this.customer, s.customer || {});
    const inv = s.invariant || {};
    this.invariant = { ...this.invariant, ...inv, broken_at_t: null };
    this.approvedTotal = inv.approved_total || 0;
    this.failures = s.failures || {};
    const sum = s.summary || {};
    this.counts.orders = sum.orders || 0;
    this.counts.consistent = sum.consistent || 0;
    this.counts.diverged = sum.diverged || 0;
    this.counts.timeouts = sum.sender_timeouts || 0;
    this.msgs = {
      sent: sum.messages_sent || 0, delivered: sum.messages_delivered || 0,
      lost: sum.messages_lost || 0, forgotten: sum.messages_forgotten || 0,
    };
    this.metrics = s.metrics || null;
    if (this.metrics) this.samplesLost = Math.max(0, (sum.messages_lost || 0));
    for (const o of s.orders || []) {
      this.addOrder({
        id: o.id, amount: o.amount, order_state: o.order_state, sender_saw: o.sender_saw,
        judgement: o.judgement, divergence: o.divergence, reason: o.reason || null,
        credit_reserved: o.credit_reserved, diverged_at_seq: o.diverged_at_seq,
        at_snapshot: { credit_reserved: o.credit_reserved }, history: [], rev: 1,
      });
      if (o.divergence === "reserved-not-approved") this.unbackedOrders.add(o.id);
      if (o.divergence === "stuck-new") this.stuckOrders.add(o.id);
      if (o.diverged_at_seq !== null && o.diverged_at_seq !== undefined) this.markDivergence(o.diverged_at_seq, o.id);
      if (o.order_state === "approved") this.counts.approved++;
      if (o.order_state === "cancelled") this.counts.cancelled++;
    }
    for (const m of s.in_flight || []) this.tokens.set(m.msg, { ...m });
    for (const msg of s.processing || []) this.processing.set(msg, { order: 0, since: snap.t, done_at: null });
  }

  /** Queue a batch's events; they are applied by applyUntil(). */
  enqueue(events) {
    for (const e of events) this.queue.push(e);
  }

  pendingCount() {
    return this.queue.length - this.qHead;
  }

  /** Apply every queued event whose moment is at or before virtual time t; returns them (or null). */
  applyUntil(t) {
    const q = this.queue;
    let i = this.qHead;
    if (i >= q.length || q[i].t > t) return null;
    const applied = [];
    while (i < q.length && q[i].t <= t) {
      const e = q[i++];
      this.apply(e);
      applied.push(e);
    }
    this.qHead = i;
    if (i > 4096 && i * 2 > q.length) {
      this.queue = q.slice(i);
      this.qHead = 0;
    }
    return applied;
  }

  addOrder(order) {
    if (this.orders.has(order.id)) {
      this.orders.set(order.id, order);
      return;
    }
    this.orders.set(order.id, order);
    this.orderIds.push(order.id);
    if (this.orderIds.length > MAX_ORDERS_KEPT * 1.25) this.pruneOrders();
  }

  pruneOrders() {
    // Keep the newest orders, and a bounded number of older diverged ones (the alarm
    // keeps its own list of names); amortized O(1) per order.
    const ids = this.orderIds;
    const cut = ids.length - MAX_ORDERS_KEPT;
    const keep = [];
    let older = 0;
    for (let i = ids.length - 1; i >= 0; i--) {
      const id = ids[i];
      const o = this.orders.get(id);
      if (i >= cut) keep.push(id);
      else if (o && o.judgement === "diverged" && older < MAX_ORDERS_KEPT / 4) {
        keep.push(id);
        older++;
      } else this.orders.delete(id);
    }
    this.orderIds = keep.reverse();
  }

  // ------------------------------------------------------------------ events
  apply(e) {
    this.appliedSeq = e.seq;
    // Each order keeps its own events: its story is told from them.
    const o = e.order ? this.orders.get(e.order) : undefined;
    if (o) {
      o.history.push(e);
      o.rev++;
    }
    switch (e.type) {
      case "order-created":
        this.counts.orders++;
        this.addOrder({
          id: e.order, amount: e.amount, order_state: e.state, sender_saw: "waiting", judgement: "in-flight",
          divergence: null, reason: null, credit_reserved: 0, diverged_at_seq: null,
          at_snapshot: null, history: [e], rev: 1,
        });
        break;
      case "message-sent":
        this.msgs.sent++;
        this.tokens.set(e.msg, {
          msg: e.msg, order: e.order, leg: e.leg, kind: e.kind, sent_at: e.sent_at, arrives_at: e.arrives_at,
          value: e.value,
        });
        break;
      case "message-delivered":
        this.msgs.delivered++;
        this.tokens.delete(e.msg);
        break;
      case "message-lost": {
        this.msgs.lost++;
        const tok = this.tokens.get(e.msg);
        this.tokens.delete(e.msg);
        if (e.leg in this.lostTotal) this.lostTotal[e.leg]++;
        if (e.kind === "MetricSample") this.samplesLost++;
        this.lost.push({
          msg: e.msg, order: e.order, leg: e.leg, kind: e.kind, reason: e.reason,
          at: typeof e.at === "number" ? e.at : 1, t: e.t, sent_at: tok ? tok.sent_at : e.sent_at,
        });
        if (this.lost.length > MAX_LOST_MARKS) this.lost.splice(0, this.lost.length - MAX_LOST_MARKS);
        break;
      }
      case "message-forgotten":
        this.msgs.forgotten++;
        this.processing.delete(e.msg);
        break;
      case "processing-started":
        this.processing.set(e.msg, { order: e.order, since: e.t, done_at: e.done_at });
        break;
      case "credit-reserved":
      case "credit-refused":
        this.processing.delete(e.msg);
        this.customer.credit_limit = e.credit_limit;
        this.customer.reserved = e.reserved;
        this.customer.available = e.available;
        if (o && e.type === "credit-reserved") o.credit_reserved += e.amount;
        break;
      case "receiver-crashed":
        this.customer.up = false;
        this.customer.restarts_at = e.restarts_at;
        this.processing.clear();
        this.lastCrash = e;
        break;
      case "receiver-restarted":
        this.customer.up = true;
        this.customer.restarts_at = null;
        this.customer.reserved = e.reserved;
        this.customer.available = e.available;
        break;
      case "order-state-changed":
        if (o) {
          o.order_state = e.to;
          o.sender_saw = "reply";
        }
        if (e.to === "approved") this.counts.approved++;
        else if (e.to === "cancelled") this.counts.cancelled++;
        this.approvedTotal = e.approved_total;
        break;
      case "order-consistent":
        if (o) o.judgement = "consistent";
        this.counts.consistent++;
        break;
      case "order-diverged": {
        const first = !o || o.judgement !== "diverged";
        if (o) {
          o.judgement = "diverged";
          o.divergence = e.divergence;
          o.reason = e.reason;
          o.diverged_at_seq = e.diverged_at_seq;
        }
        if (first) this.counts.diverged++;
        if (typeof e.unbacked === "number") this.invariant.unbacked = e.unbacked;
        this.markDivergence(e.diverged_at_seq, e.order);
        if (e.divergence === "reserved-not-approved") {
          this.stuckOrders.delete(e.order);
          if (this.unbackedOrders.size < MAX_ALARM_ORDERS) this.unbackedOrders.add(e.order);
        } else if (e.divergence === "stuck-new" && this.stuckOrders.size < MAX_ALARM_ORDERS) {
          this.stuckOrders.add(e.order);
        }
        break;
      }
      case "invariant-broken":
        this.invariant = { ...this.invariant, ok: false, reserved: e.reserved, approved_total: e.approved_total, unbacked: e.unbacked };
        if (this.invariant.broken_at_seq === null) {
          this.invariant.broken_at_seq = e.seq;
          this.invariant.broken_at_t = e.t;
        }
        break;
      case "invariant-restored":
        this.invariant = { ...this.invariant, ok: true, reserved: e.reserved, approved_total: e.approved_total, unbacked: e.unbacked };
        break;
      case "sender-timeout":
        if (o) o.sender_saw = "no-reply";
        this.counts.timeouts++;
        break;
      case "failure-point-changed":
        this.failures = { ...this.failures, [e.point]: { mode: e.mode, probability: e.probability } };
        break;
      case "credit-limit-changed":
        this.customer.credit_limit = e.credit_limit;
        this.customer.reserved = e.reserved;
        this.customer.available = e.available;
        break;
      case "sample-recorded":
        this.metrics = {
          true_count: e.true_count, true_mean: e.true_mean, seen_count: e.seen_count,
          seen_mean: e.seen_mean, drift: e.drift,
        };
        break;
      default:
        break;
    }
  }

  /** Orders the alarm names: credit reserved for orders that will never be approved. */
  unbackedList() {
    return [...this.unbackedOrders].sort((a, b) => a - b);
  }

  /** Remember the event where an order's divergence began (the log flags it). */
  markDivergence(seq, order) {
    if (typeof seq !== "number" || this.divergedAtSeq.has(seq)) return;
    this.divergedAtSeq.set(seq, order);
    // Bounded, amortized O(1): past twice the cap, keep the newest half (deleting one
    // entry at a time from the front of a Map is slow in V8).
    if (this.divergedAtSeq.size > 2 * MAX_DIVERGENCE_MARKS) {
      this.divergedAtSeq = new Map([...this.divergedAtSeq].slice(-MAX_DIVERGENCE_MARKS));
    }
  }
}
