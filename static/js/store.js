// The view's model: what the event stream has said so far, applied in virtual-time order.
// Events are queued as they arrive and applied when the display clock reaches their
// moment, so panels, tokens and words change together with the motion on the stage.
// Nothing here decides anything about the simulation: badges, divergence and the alarm
// come from the engine's events and snapshot.
import { storyStep } from "./words.js";

const MAX_ORDERS_KEPT = 2000; // older settled orders are dropped from memory (counts stay)
const MAX_LOST_MARKS = 300;
const LOG_CAPACITY = 4000;
const MAX_ALARM_ORDERS = 5000;
const MAX_PART_MARKS = 5000;

export class Store {
  constructor() {
    this.listeners = [];
    this.clear();
  }

  clear() {
    this.queue = [];
    this.qHead = 0;
    this.appliedSeq = 0;
    this.scenario = null;
    this.seed = null;
    this.config = {};
    this.customer = { credit_limit: 0, reserved: 0, available: 0, up: true, restarts_at: null };
    this.approvedTotal = 0;
    this.invariant = { ok: true, reserved: 0, approved_total: 0, unbacked: 0, broken_at_seq: null, broken_at_t: null };
    this.failures = {};
    this.orders = new Map(); // id -> order view
    this.orderIds = []; // ascending ids kept in memory
    this.counts = { orders: 0, consistent: 0, diverged: 0, approved: 0, cancelled: 0, timeouts: 0 };
    this.unbackedOrders = new Set(); // ids of orders with credit reserved, never approved
    this.stuckOrders = new Set();
    this.partsAt = new Map(); // seq of the event where an order's divergence began -> order id
    this.tokens = new Map(); // msg -> message on the wire
    this.lost = []; // marks of lost messages, newest last
    this.lostTotal = { request: 0, reply: 0 };
    this.processing = new Map(); // msg -> {order, since, done_at}
    this.msgs = { sent: 0, delivered: 0, lost: 0, forgotten: 0 };
    this.metrics = null;
    this.samplesLost = 0;
    this.log = new Array(LOG_CAPACITY);
    this.logCount = 0; // total ever appended; index = count % capacity
    this.flashes = []; // {kind, t, order, until}
    this.lastCrash = null;
    this.lastRestart = null;
    this.dirty = { panels: true, orders: true, log: true, failures: true, all: true };
    this.version = 0;
  }

  on(fn) {
    this.listeners.push(fn);
  }

  emit(events) {
    for (const fn of this.listeners) fn(events);
  }

  markAll() {
    for (const k of Object.keys(this.dirty)) this.dirty[k] = true;
  }

  // ------------------------------------------------------------------ input
  loadSnapshot(snap) {
    this.clear();
    const s = snap.state || {};
    this.scenario = snap.scenario;
    this.seed = snap.seed;
    this.config = s.config || {};
    this.appliedSeq = snap.seq;
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
      const order = {
        id: o.id, amount: o.amount, state: o.order_state, saw: o.sender_saw,
        judgement: o.judgement, divergence: o.divergence, reason: o.reason || null,
        reserved: o.credit_reserved, divergedSeq: o.diverged_at_seq, created: o.created_at,
        story: o.credit_reserved ? ["credit reserved"] : [],
        early: true, v: 1,
      };
      this.addOrder(order);
      if (o.divergence === "reserved-not-approved") this.unbackedOrders.add(o.id);
      if (o.divergence === "stuck-new") this.stuckOrders.add(o.id);
      if (o.diverged_at_seq !== null && o.diverged_at_seq !== undefined) this.markParts(o.diverged_at_seq, o.id);
      if (o.order_state === "approved") this.counts.approved++;
      if (o.order_state === "cancelled") this.counts.cancelled++;
    }
    for (const m of s.in_flight || []) this.tokens.set(m.msg, { ...m });
    for (const msg of s.processing || []) this.processing.set(msg, { order: 0, since: snap.t, done_at: null });
    this.markAll();
    this.version++;
  }

  /** Queue a batch's events; they are applied by applyUntil(). */
  enqueue(events) {
    for (const e of events) this.queue.push(e);
  }

  pendingCount() {
    return this.queue.length - this.qHead;
  }

  nextPendingTime() {
    return this.qHead < this.queue.length ? this.queue[this.qHead].t : null;
  }

  /** Apply every queued event whose moment is at or before virtual time t. */
  applyUntil(t) {
    const q = this.queue;
    let i = this.qHead;
    if (i >= q.length || q[i].t > t) return null;
    const applied = [];
    this.wallNow = performance.now(); // one clock reading for the whole batch
    while (i < q.length && q[i].t <= t) {
      const e = q[i++];
      this.apply(e);
      applied.push(e);
    }
    this.qHead = i;
    this.wallNow = 0;
    if (i > 4096 && i * 2 > q.length) {
      this.queue = q.slice(i);
      this.qHead = 0;
    }
    this.version++;
    this.emit(applied);
    return applied;
  }

  /** Apply everything queued at once (a reduced-motion view, or a catch-up). */
  applyAll() {
    if (this.pendingCount() === 0) return null;
    return this.applyUntil(Infinity);
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

  orderStory(order, e) {
    const o = this.orders.get(order);
    if (!o) return;
    const step = storyStep(e);
    if (step) {
      const last = o.story[o.story.length - 1];
      if (!(step.startsWith("⚡") && last && last.startsWith("⚡"))) o.story.push(step);
    }
    o.v++;
    this.dirty.orders = true;
  }

  pushLog(e) {
    this.log[this.logCount % LOG_CAPACITY] = e;
    this.logCount++;
  }

  logAt(index) {
    // index in [logStart(), logCount)
    return this.log[index % LOG_CAPACITY];
  }

  logStart() {
    return Math.max(0, this.logCount - LOG_CAPACITY);
  }

  flash(kind, e, ms = 1600) {
    const wall = this.wallNow || performance.now();
    this.flashes.push({ kind, order: e.order, msg: e.msg, t: e.t, wall, until: wall + ms });
    if (this.flashes.length > 32) this.flashes.shift();
  }

  // ------------------------------------------------------------------ events
  apply(e) {
    this.appliedSeq = e.seq;
    this.pushLog(e);
    this.dirty.log = true;
    switch (e.type) {
      case "order-created": {
        this.counts.orders++;
        this.addOrder({
          id: e.order, amount: e.amount, state: e.state, saw: "waiting", judgement: "in-flight",
          divergence: null, reason: null, reserved: 0, divergedSeq: null, created: e.t,
          story: [], v: 1,
        });
        this.dirty.orders = true;
        this.dirty.panels = true;
        break;
      }
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
        if (e.order) this.orderStory(e.order, e);
        break;
      case "message-lost": {
        this.msgs.lost++;
        const tok = this.tokens.get(e.msg);
        this.tokens.delete(e.msg);
        if (e.leg in this.lostTotal) this.lostTotal[e.leg]++;
        if (e.kind === "MetricSample") this.samplesLost++;
        this.lost.push({
          msg: e.msg, order: e.order, leg: e.leg, kind: e.kind, reason: e.reason,
          at: typeof e.at === "number" ? e.at : 1, t: e.t, wall: this.wallNow || performance.now(),
          sent_at: tok ? tok.sent_at : e.sent_at,
        });
        if (this.lost.length > MAX_LOST_MARKS) this.lost.splice(0, this.lost.length - MAX_LOST_MARKS);
        if (e.order) this.orderStory(e.order, e);
        this.dirty.panels = true;
        break;
      }
      case "message-forgotten":
        this.msgs.forgotten++;
        this.processing.delete(e.msg);
        if (e.order) this.orderStory(e.order, e);
        break;
      case "processing-started":
        this.processing.set(e.msg, { order: e.order, since: e.t, done_at: e.done_at });
        this.dirty.panels = true;
        break;
      case "credit-reserved":
      case "credit-refused": {
        this.processing.delete(e.msg);
        this.customer.credit_limit = e.credit_limit;
        this.customer.reserved = e.reserved;
        this.customer.available = e.available;
        const o = this.orders.get(e.order);
        if (o && e.type === "credit-reserved") o.reserved += e.amount;
        this.orderStory(e.order, e);
        this.flash(e.type === "credit-reserved" ? "reserve" : "refuse", e);
        this.dirty.panels = true;
        break;
      }
      case "receiver-crashed":
        this.customer.up = false;
        this.customer.restarts_at = e.restarts_at;
        this.processing.clear();
        this.lastCrash = e;
        if (e.order) this.orderStory(e.order, e);
        this.flash("crash", e, 2500);
        this.dirty.panels = true;
        break;
      case "receiver-restarted":
        this.customer.up = true;
        this.customer.restarts_at = null;
        this.customer.reserved = e.reserved;
        this.customer.available = e.available;
        this.lastRestart = e;
        this.flash("restart", e, 2500);
        this.dirty.panels = true;
        break;
      case "order-state-changed": {
        const o = this.orders.get(e.order);
        if (o) {
          o.state = e.to;
          o.saw = "reply";
          o.v++;
        }
        if (e.to === "approved") this.counts.approved++;
        else if (e.to === "cancelled") this.counts.cancelled++;
        this.approvedTotal = e.approved_total;
        this.flash("order", e);
        this.dirty.orders = true;
        this.dirty.panels = true;
        break;
      }
      case "order-consistent": {
        const o = this.orders.get(e.order);
        if (o) {
          o.judgement = "consistent";
          o.v++;
        }
        this.counts.consistent++;
        this.dirty.orders = true;
        this.dirty.panels = true;
        break;
      }
      case "order-diverged": {
        const o = this.orders.get(e.order);
        const first = !o || o.judgement !== "diverged";
        if (o) {
          o.judgement = "diverged";
          o.divergence = e.divergence;
          o.reason = e.reason;
          o.divergedSeq = e.diverged_at_seq;
          o.divergedT = e.t;
          o.v++;
        }
        if (first) this.counts.diverged++;
        if (typeof e.unbacked === "number") this.invariant.unbacked = e.unbacked;
        this.markParts(e.diverged_at_seq, e.order);
        if (e.divergence === "reserved-not-approved") {
          this.stuckOrders.delete(e.order);
          if (this.unbackedOrders.size < MAX_ALARM_ORDERS) this.unbackedOrders.add(e.order);
        } else if (e.divergence === "stuck-new" && this.stuckOrders.size < MAX_ALARM_ORDERS) {
          this.stuckOrders.add(e.order);
        }
        this.flash("diverged", e, 2500);
        this.dirty.orders = true;
        this.dirty.panels = true;
        break;
      }
      case "invariant-broken":
        this.invariant = { ...this.invariant, ok: false, reserved: e.reserved, approved_total: e.approved_total, unbacked: e.unbacked };
        if (this.invariant.broken_at_seq === null) {
          this.invariant.broken_at_seq = e.seq;
          this.invariant.broken_at_t = e.t;
        }
        this.flash("alarm", e, 3000);
        this.dirty.panels = true;
        break;
      case "invariant-restored":
        this.invariant = { ...this.invariant, ok: true, reserved: e.reserved, approved_total: e.approved_total, unbacked: e.unbacked };
        this.dirty.panels = true;
        break;
      case "sender-timeout": {
        const o = this.orders.get(e.order);
        if (o) {
          o.saw = "no-reply";
          o.v++;
        }
        this.counts.timeouts++;
        this.flash("timeout", e, 3000);
        this.dirty.orders = true;
        this.dirty.panels = true;
        break;
      }
      case "reply-ignored":
        this.orderStory(e.order, e);
        break;
      case "failure-point-changed":
        this.failures = { ...this.failures, [e.point]: { mode: e.mode, probability: e.probability } };
        this.dirty.failures = true;
        break;
      case "credit-limit-changed":
        this.customer.credit_limit = e.credit_limit;
        this.customer.reserved = e.reserved;
        this.customer.available = e.available;
        this.dirty.panels = true;
        break;
      case "sample-recorded":
        this.metrics = {
          true_count: e.true_count, true_mean: e.true_mean, seen_count: e.seen_count,
          seen_mean: e.seen_mean, drift: e.drift,
        };
        this.dirty.panels = true;
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
  markParts(seq, order) {
    if (typeof seq !== "number" || this.partsAt.has(seq)) return;
    this.partsAt.set(seq, order);
    this.partsVersion = (this.partsVersion || 0) + 1;
    // Bounded, amortized O(1): past twice the cap, keep the newest half (deleting one
    // entry at a time from the front of a Map is slow in V8).
    if (this.partsAt.size > 2 * MAX_PART_MARKS) this.partsAt = new Map([...this.partsAt].slice(-MAX_PART_MARKS));
    this.dirty.log = true;
  }
}
