// The space-time (Lamport) diagram: the two services as lifelines, virtual time running
// across (left to right), every message an arrow from its send to its arrival. A lost
// message ends mid-air in a cross where it was lost; a message forgotten in a crash ends at
// the receiver's lifeline with the crash mark; the receiver's downtime is a hatched band on
// its lifeline; state changes and the sender's timeouts are labelled ticks; the moment an
// order's two states part is a flag.
//
// Data: the events the page applies (loop.js hands them over each frame), or add() for a
// benchmark. The history is kept in typed columns (one row per message, per mark, per
// downtime, per flag), so a run of a million events stays cheap; a new run clears it.
// Records are appended in seq order, so send times, mark times and message ids are sorted
// and the window in view is found by binary search.
//
// Drawing: a canvas in logical units scaled by the root font size / 18, as the stage does.
// Level of detail: when more arrows than a few per pixel column would be in view, messages
// are drawn as density bands (sent per leg, lost) binned per pixel column; what is still
// readable at that zoom (losses, flags, downtimes, the highlighted message) is drawn one by
// one on top. The same drawing code writes SVG text for the export.
//
// Linked with the page through the view state's highlight: the message or order hovered or
// pinned elsewhere is drawn highlighted here; hovering an arrow here sets the highlight,
// clicking one pins its log entry (onPick). Pan and zoom: wheel, drag, pinch, the buttons,
// and + - Home End while the canvas has the focus (the page's shortcut keys are left alone).
import { fmtInt } from "./words.js";

const LEGS = ["request", "reply"];
const KINDS = ["OrderCreated", "CreditReserved", "InsufficientCredit", "MetricSample"];
const KIND_OF = { OrderCreated: 0, CreditReserved: 1, InsufficientCredit: 2, MetricSample: 3 };
// Fates of a message.
const FLIGHT = 0;
const DELIVERED = 1;
const LOST = 2;
const FORGOTTEN = 3;
const IGNORED = 4;
const DOWN = 5; // lost because it arrived while the receiver was down
const FATES = ["in-flight", "delivered", "lost", "forgotten", "ignored", "lost-receiver-down"];
// Marks (ticks on a lifeline).
const M_NEW = 0;
const M_APPROVED = 1;
const M_CANCELLED = 2;
const M_RESERVED = 3;
const M_REFUSED = 4;
const M_TIMEOUT = 5;
const M_CRASH = 6;
const M_RESTART = 7;
const M_IGNORED = 8;
const MARKS = ["new", "approved", "cancelled", "credit-reserved", "credit-refused", "timeout", "crash", "restart", "reply-ignored"];
const ON_RECEIVER = [false, false, false, true, true, false, true, true, false];

const INK = "#0f172a";
const MUTED = "#475569";
const BAD = "#c1121f";
const WARN = "#92400e";
const GOOD = "#0f7a3a";
const FOCUS = "#facc15";
const KIND_COLOR = ["#1d4ed8", "#0f7a3a", "#b45309", "#475569"];
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const F_LABEL = `600 13px ${FONT}`;
const F_BOLD = `700 13px ${FONT}`;
const F_NAME = `700 14px ${FONT}`;

const GUTTER = 88; // lifeline names at the left, logical units
const RIGHT = 12;
const DENSE = 2; // more arrows than this per pixel column of the plot: density bands
const MAX_CROSSES = 400; // lost messages drawn one by one up to this many in view
const MAX_FLAGS = 60; // flags drawn one by one up to this many in view; beyond, a tick per column
const MAX_ARROW_LABELS = 60;
const MAX_MARK_LABELS = 60;
const MIN_SPAN = 0.02;
const START_SPAN = 12;
const ZOOM_STEP = 1.6;

// ------------------------------------------------------------------ compact storage

/** Growable typed columns: one row per record. */
class Cols {
  constructor(spec) {
    this.spec = spec;
    this.n = 0;
    this.cap = 0;
    this.c = {};
    this.grow(1024);
  }

  grow(cap) {
    for (const [name, Type] of Object.entries(this.spec)) {
      const a = new Type(cap);
      if (this.c[name]) a.set(this.c[name].subarray(0, this.n));
      this.c[name] = a;
    }
    this.cap = cap;
  }

  push() {
    if (this.n === this.cap) this.grow(this.cap * 2);
    return this.n++;
  }
}

/** First i in [0, n) with a[i] >= v (a sorted ascending). */
function lowerBound(a, n, v) {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First i in [0, n) with a[i] > v. */
function upperBound(a, n, v) {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** lowerBound from index `from` on, galloping (cheap when the answer is near). */
function lowerBoundFrom(a, n, v, from) {
  let lo = from;
  let step = 1;
  let hi = from;
  while (hi < n && a[hi] < v) {
    lo = hi + 1;
    hi += step;
    step *= 2;
  }
  hi = Math.min(hi, n);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Counts per column of the times in sorted `a` (n of them) within [t0, t0 + span), `cols`
 * equal columns, into `out`: O(cols log n), whatever n (the density bands at any zoom).
 */
function binCounts(a, n, t0, span, cols, out) {
  let i = lowerBound(a, n, t0);
  for (let b = 0; b < cols; b++) {
    const j = lowerBoundFrom(a, n, t0 + ((b + 1) * span) / cols, i);
    out[b] = j - i;
    i = j;
  }
  return out;
}

/** A growable sorted list of times (an index for the density bands). */
class Times {
  constructor() {
    this.a = new Float64Array(1024);
    this.n = 0;
  }

  push(t) {
    if (this.n === this.a.length) {
      const a = new Float64Array(this.a.length * 2);
      a.set(this.a);
      this.a = a;
    }
    // Kept sorted: events come in time order, so this is an append but for ties.
    let i = this.n++;
    while (i > 0 && this.a[i - 1] > t) {
      this.a[i] = this.a[i - 1];
      i--;
    }
    this.a[i] = t;
    return i;
  }
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

const r2 = (x) => Math.round(x * 100) / 100;

// ------------------------------------------------------------------ painters
// The drawing code speaks to a painter: the canvas one batches paths by style, the SVG
// one writes elements (one per arrow, with a title) for the export.

class CanvasPainter {
  constructor(ctx) {
    this.ctx = ctx;
    this.measureCtx = ctx;
  }

  begin(st) {
    this.st = st;
    this.ctx.beginPath();
  }

  m(x, y) {
    this.ctx.moveTo(x, y);
  }

  l(x, y) {
    this.ctx.lineTo(x, y);
  }

  seg(x0, y0, x1, y1) {
    this.ctx.moveTo(x0, y0);
    this.ctx.lineTo(x1, y1);
  }

  rect(x, y, w, h) {
    this.ctx.rect(x, y, w, h);
  }

  z() {
    this.ctx.closePath();
  }

  end() {
    const c = this.ctx;
    const st = this.st;
    c.globalAlpha = st.alpha ?? 1;
    if (st.fill) {
      c.fillStyle = st.fill === "hatch" ? this.hatch() : st.fill;
      c.fill();
    }
    if (st.stroke) {
      c.strokeStyle = st.stroke;
      c.lineWidth = st.width || 1;
      c.setLineDash(st.dash || []);
      c.lineCap = st.cap || "butt";
      c.stroke();
      c.setLineDash([]);
    }
    c.globalAlpha = 1;
  }

  /** Draw only inside this rectangle until unclip(). */
  clip(x, y, w, h) {
    const c = this.ctx;
    c.save();
    c.beginPath();
    c.rect(x, y, w, h);
    c.clip();
  }

  unclip() {
    this.ctx.restore();
  }

  hatch() {
    if (!this.pattern) {
      const p = document.createElement("canvas");
      p.width = 8;
      p.height = 8;
      const g = p.getContext("2d");
      g.fillStyle = "#fee2e2";
      g.fillRect(0, 0, 8, 8);
      g.strokeStyle = BAD;
      g.lineWidth = 2;
      g.beginPath();
      g.moveTo(-2, 10);
      g.lineTo(10, -2);
      g.moveTo(-2, 2);
      g.lineTo(2, -2);
      g.moveTo(6, 10);
      g.lineTo(10, 6);
      g.stroke();
      this.pattern = this.ctx.createPattern(p, "repeat");
    }
    return this.pattern;
  }

  text(s, x, y, o = {}) {
    const c = this.ctx;
    c.font = o.font || F_LABEL;
    c.textAlign = o.align || "left";
    c.textBaseline = o.baseline || "middle";
    if (o.bg) {
      const w = c.measureText(s).width;
      const x0 = o.align === "center" ? x - w / 2 : o.align === "right" ? x - w : x;
      c.fillStyle = o.bg;
      c.fillRect(x0 - 2, y - 8, w + 4, 16);
    }
    c.fillStyle = o.color || INK;
    c.fillText(s, x, y);
  }

  measure(s, font) {
    this.measureCtx.font = font || F_LABEL;
    return this.measureCtx.measureText(s).width;
  }
}

class SvgPainter {
  constructor(measureCtx, w, h) {
    this.measureCtx = measureCtx;
    this.out = [];
    this.w = w;
    this.h = h;
  }

  begin(st) {
    this.st = st;
    this.d = [];
    const cls = st.cls ? ` class="${st.cls}"` : "";
    const stroke = st.stroke ? ` stroke="${st.stroke}" stroke-width="${st.width || 1}"${st.dash ? ` stroke-dasharray="${st.dash.join(" ")}"` : ""}` : "";
    const fill = st.fill === "hatch" ? ' fill="url(#hatch)"' : st.fill ? ` fill="${st.fill}"` : ' fill="none"';
    const alpha = st.alpha !== undefined && st.alpha !== 1 ? ` opacity="${r2(st.alpha)}"` : "";
    this.out.push(`<g${cls}${stroke}${fill}${alpha}>`);
  }

  m(x, y) {
    this.d.push(`M${r2(x)} ${r2(y)}`);
  }

  l(x, y) {
    this.d.push(`L${r2(x)} ${r2(y)}`);
  }

  seg(x0, y0, x1, y1, title) {
    if (title === undefined) {
      this.d.push(`M${r2(x0)} ${r2(y0)}L${r2(x1)} ${r2(y1)}`);
      return;
    }
    const cls = this.st.item ? ` class="${this.st.item}"` : "";
    this.out.push(`<line${cls} x1="${r2(x0)}" y1="${r2(y0)}" x2="${r2(x1)}" y2="${r2(y1)}"><title>${esc(title)}</title></line>`);
  }

  rect(x, y, w, h) {
    this.d.push(`M${r2(x)} ${r2(y)}h${r2(w)}v${r2(h)}h${r2(-w)}Z`);
  }

  z() {
    this.d.push("Z");
  }

  clip(x, y, w, h) {
    this.clips = (this.clips || 0) + 1;
    const id = `plot${this.clips}`;
    this.out.push(`<clipPath id="${id}"><rect x="${r2(x)}" y="${r2(y)}" width="${r2(w)}" height="${r2(h)}"/></clipPath><g clip-path="url(#${id})">`);
  }

  unclip() {
    this.out.push("</g>");
  }

  end() {
    if (this.d.length) this.out.push(`<path d="${this.d.join("")}"/>`);
    this.out.push("</g>");
  }

  text(s, x, y, o = {}) {
    const font = o.font || F_LABEL;
    const weight = font.split(" ")[0];
    const size = parseFloat(font.split(" ")[1]);
    const anchor = o.align === "center" ? "middle" : o.align === "right" ? "end" : "start";
    const base = o.baseline === "top" ? "hanging" : o.baseline === "bottom" || o.baseline === "alphabetic" ? "auto" : "central";
    if (o.bg) {
      const w = this.measure(s, font);
      const x0 = o.align === "center" ? x - w / 2 : o.align === "right" ? x - w : x;
      this.out.push(`<rect x="${r2(x0 - 2)}" y="${r2(y - 8)}" width="${r2(w + 4)}" height="16" fill="${o.bg}"/>`);
    }
    this.out.push(`<text x="${r2(x)}" y="${r2(y)}" font-size="${size}" font-weight="${weight}" text-anchor="${anchor}" dominant-baseline="${base}" fill="${o.color || INK}">${esc(s)}</text>`);
  }

  measure(s, font) {
    this.measureCtx.font = font || F_LABEL;
    return this.measureCtx.measureText(s).width;
  }

  svg(title) {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${r2(this.w)}" height="${r2(this.h)}" viewBox="0 0 ${r2(this.w)} ${r2(this.h)}" font-family="system-ui, sans-serif">\n<title>${esc(title)}</title>\n` +
      `<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="#fee2e2"/><path d="M-2 10L10 -2M-2 2L2 -2M6 10L10 6" stroke="${BAD}" stroke-width="2"/></pattern></defs>\n` +
      `${this.out.join("\n")}\n</svg>\n`;
  }
}

// ------------------------------------------------------------------ the diagram

export class Diagram {
  /**
   * @param {object} o canvas, plot (the canvas's box), summary (text for screen readers),
   *   buttons {follow, zoomIn, zoomOut, svg, png}, store, view (ViewState),
   *   getRun() (the server's run number: another one clears the history),
   *   onPick(seq) (an arrow or mark was clicked: pin that event in the log; false if the
   *   log no longer has it), isShown() (the diagram is on screen), show() (bring it on
   *   screen: its tab), onRunKind(metrics) (a run of the metrics stream starts or ends)
   */
  constructor({
    canvas, plot, summary, buttons = {}, store, view,
    getRun = () => null, onPick = () => false, isShown = () => true, show = () => {}, onRunKind = () => {},
  }) {
    this.canvas = canvas;
    this.plot = plot;
    this.summaryEl = summary;
    this.buttons = buttons;
    this.store = store;
    this.view = view;
    this.getRun = getRun;
    this.onPick = onPick;
    this.isShown = isShown;
    this.show = show;
    this.onRunKind = onRunKind;
    this.metricsMode = null;
    this.ctx = canvas.getContext("2d");
    this.painter = new CanvasPainter(this.ctx);
    this.stats = { draws: 0, drawMs: 0, lastDrawMs: 0 };
    this.msgs = new Cols({
      send: Float64Array, arr: Float64Array, end: Float64Array, at: Float32Array, seq: Float64Array, endSeq: Float64Array,
      id: Float64Array, order: Float64Array, leg: Uint8Array, kind: Uint8Array, fate: Uint8Array,
    });
    this.marks = new Cols({ t: Float64Array, seq: Float64Array, order: Float64Array, msg: Float64Array, type: Uint8Array });
    this.bands = new Cols({ from: Float64Array, to: Float64Array, seq: Float64Array });
    this.flags = new Cols({ t: Float64Array, pos: Float32Array, seq: Float64Array, causeSeq: Float64Array, order: Float64Array, msg: Float64Array });
    this.drawnArrows = new Int32Array(4096);
    this.drawnMarks = new Int32Array(4096);
    this.drawnFlags = new Int32Array(1024);
    this.run = undefined;
    this.storeSeq = 0;
    this.clear();
    // The window: t0 (left edge) and span (seconds across); follow keeps "now" in view.
    this.span = START_SPAN;
    this.t0 = 0;
    this.follow = true;
    this.now = 0;
    this.dirty = true;
    this.hover = null; // {hl, before}: the highlight we set on hover and the one it replaced
    this.hlKey = "";
    this.resize();
    new ResizeObserver(() => this.resize()).observe(plot);
    this.bindPointer();
    this.bindKeys();
    this.bindButtons();
  }

  clear() {
    this.msgs.n = 0;
    this.marks.n = 0;
    this.bands.n = 0;
    this.flags.n = 0;
    this.open = new Map(); // msg id -> row of a message still on its leg
    this.causes = new Map(); // seq -> [t, pos, msg] of events an order's divergence may begin at
    this.orderBase = -1; // order id of row 0 of the per-order index
    this.oReq = new Int32Array(1024); // row + 1 of an order's OrderCreated (0: none)
    this.oRep = new Int32Array(1024);
    this.oFlag = new Int32Array(1024);
    this.maxDur = 0; // the longest message so far (send to end), s
    // Time indexes for the density bands (binned per pixel column by binary search):
    // sends per leg, losses (with their rows), marks per lifeline, alarms (timeouts at the
    // sender, crashes at the receiver) per lifeline.
    this.sendT = [new Times(), new Times()];
    this.lostT = new Times();
    this.lostRow = new Int32Array(1024);
    this.markT = [new Times(), new Times()];
    this.alarmT = [new Times(), new Times()];
    this.firstT = null;
    this.lastT = 0;
    this.lastSeq = 0;
    this.nDrawnArrows = 0;
    this.nDrawnMarks = 0;
    this.nDrawnFlags = 0;
    this.model = null;
    this.dirty = true;
  }

  /** A new run starts from the store's snapshot: what is on the wire is shown from its send. */
  seedFromStore() {
    const tokens = [...this.store.tokens.values()].sort((a, b) => a.msg - b.msg);
    for (const m of tokens) {
      this.add([{ type: "message-sent", seq: 0, t: m.sent_at, msg: m.msg, order: m.order, leg: m.leg, kind: m.kind, sent_at: m.sent_at, arrives_at: m.arrives_at }]);
    }
  }

  // ---------------------------------------------------------------- input

  /** Per frame: the display time t and the events the store applied (or null). */
  frame(t, applied) {
    const run = this.getRun();
    if (run !== this.run) {
      this.run = run;
      this.clear();
      this.span = START_SPAN;
      this.follow = true;
      this.seedFromStore();
    } else if (this.store.appliedSeq < this.storeSeq) {
      // The run went back (a snapshot of an earlier moment in the same run).
      this.truncate(applied && applied.length ? applied[0].seq - 1 : this.store.appliedSeq);
    }
    this.storeSeq = this.store.appliedSeq;
    if (applied) this.add(applied);
    const metrics = this.store.metricsRun();
    if (metrics !== this.metricsMode) {
      this.metricsMode = metrics;
      this.onRunKind(metrics);
    }
    if (t > this.now || t < this.now - 1e-9) {
      this.now = t;
      if (this.follow) this.dirty = true;
    }
    this.draw();
  }

  /** Record engine events (in seq order, as the page applies them). */
  add(events) {
    for (const e of events) this.addOne(e);
    this.dirty = true;
  }

  addOne(e) {
    if (e.seq && e.seq <= this.lastSeq) return; // seen already
    if (e.seq) this.lastSeq = e.seq;
    if (this.firstT === null) this.firstT = e.t;
    if (e.t > this.lastT) this.lastT = e.t;
    switch (e.type) {
      case "message-sent": {
        const M = this.msgs;
        const i = M.push();
        const c = M.c;
        c.send[i] = e.sent_at ?? e.t;
        c.arr[i] = e.arrives_at ?? e.t;
        c.end[i] = c.arr[i];
        c.at[i] = 1;
        c.seq[i] = e.seq || 0;
        c.endSeq[i] = 0;
        c.id[i] = e.msg;
        c.order[i] = e.order || 0;
        c.leg[i] = e.leg === "reply" ? 1 : 0;
        c.kind[i] = KIND_OF[e.kind] ?? 0;
        c.fate[i] = FLIGHT;
        this.open.set(e.msg, i);
        this.sendT[c.leg[i]].push(c.send[i]);
        if (e.order) this.setOrder(e.leg === "reply" ? "oRep" : "oReq", e.order, i + 1);
        const d = c.arr[i] - c.send[i];
        if (d > this.maxDur) this.maxDur = d;
        break;
      }
      case "message-delivered": {
        const i = this.open.get(e.msg);
        if (i === undefined) break;
        this.open.delete(e.msg);
        const c = this.msgs.c;
        c.fate[i] = DELIVERED;
        c.end[i] = e.t;
        c.endSeq[i] = e.seq || 0;
        break;
      }
      case "message-lost": {
        const i = this.open.get(e.msg);
        const at = typeof e.at === "number" ? e.at : 1;
        const pos = e.leg === "reply" ? 1 - at : at;
        this.cause(e.seq, e.t, pos, e.msg);
        if (i === undefined) break;
        this.open.delete(e.msg);
        const c = this.msgs.c;
        c.fate[i] = e.reason === "receiver-down" ? DOWN : LOST;
        c.end[i] = e.t;
        c.at[i] = at;
        c.endSeq[i] = e.seq || 0;
        this.indexLoss(i);
        break;
      }
      case "message-forgotten": {
        const i = this.rowOf(e.msg);
        if (i >= 0) this.msgs.c.fate[i] = FORGOTTEN;
        this.cause(e.seq, e.t, 1, e.msg);
        break;
      }
      case "reply-ignored": {
        const i = this.rowOf(e.msg);
        if (i >= 0) this.msgs.c.fate[i] = IGNORED;
        this.mark(e, M_IGNORED);
        break;
      }
      case "order-created":
        this.mark(e, M_NEW);
        break;
      case "order-state-changed":
        this.mark(e, e.to === "cancelled" ? M_CANCELLED : M_APPROVED);
        break;
      case "credit-reserved":
        this.mark(e, M_RESERVED);
        break;
      case "credit-refused":
        this.mark(e, M_REFUSED);
        break;
      case "sender-timeout":
        this.mark(e, M_TIMEOUT);
        this.cause(e.seq, e.t, 0, 0);
        break;
      case "receiver-crashed": {
        this.mark(e, M_CRASH);
        this.cause(e.seq, e.t, 1, e.msg || 0);
        const B = this.bands;
        const i = B.push();
        B.c.from[i] = e.t;
        B.c.to[i] = typeof e.restarts_at === "number" ? e.restarts_at : e.t;
        B.c.seq[i] = e.seq || 0;
        break;
      }
      case "receiver-restarted":
        this.mark(e, M_RESTART);
        break;
      case "order-diverged":
        this.flag(e);
        break;
      default:
        break;
    }
  }

  mark(e, type) {
    const K = this.marks;
    const i = K.push();
    const c = K.c;
    c.t[i] = e.t;
    c.seq[i] = e.seq || 0;
    c.order[i] = e.order || 0;
    c.msg[i] = e.msg || 0;
    c.type[i] = type;
    this.indexMark(i);
  }

  indexMark(i) {
    const c = this.marks.c;
    const side = ON_RECEIVER[c.type[i]] ? 1 : 0;
    this.markT[side].push(c.t[i]);
    if (c.type[i] === M_CRASH || c.type[i] === M_TIMEOUT) this.alarmT[side].push(c.t[i]);
  }

  indexLoss(i) {
    const L = this.lostT;
    if (L.n === this.lostRow.length) {
      const a = new Int32Array(this.lostRow.length * 2);
      a.set(this.lostRow);
      this.lostRow = a;
    }
    const at = L.push(this.msgs.c.end[i]);
    this.lostRow.copyWithin(at + 1, at, L.n - 1);
    this.lostRow[at] = i;
  }

  /** The time indexes again from the records (after a truncation). */
  reindex() {
    this.sendT = [new Times(), new Times()];
    this.lostT = new Times();
    this.markT = [new Times(), new Times()];
    this.alarmT = [new Times(), new Times()];
    const c = this.msgs.c;
    for (let i = 0; i < this.msgs.n; i++) {
      this.sendT[c.leg[i]].push(c.send[i]);
      if (c.fate[i] === LOST || c.fate[i] === DOWN) this.indexLoss(i);
    }
    for (let i = 0; i < this.marks.n; i++) this.indexMark(i);
  }

  /** An event an order's divergence may begin at: remember where it happened. */
  cause(seq, t, pos, msg) {
    if (!seq) return;
    this.causes.set(seq, [t, pos, msg]);
    if (this.causes.size > 20000) this.causes = new Map([...this.causes].slice(-10000));
  }

  flag(e) {
    if (!e.order) return;
    const j = this.orderRow(e.order);
    if (j >= 0 && j < this.oFlag.length && this.oFlag[j]) return; // flagged already (the kind changed)
    const cause = this.causes.get(e.diverged_at_seq);
    const F = this.flags;
    const t = cause ? cause[0] : e.t;
    // Flags are kept sorted by time (a cause is never later than its judgement).
    let i = F.push();
    const c = F.c;
    while (i > 0 && c.t[i - 1] > t) {
      for (const a of Object.values(c)) a[i] = a[i - 1];
      i--;
    }
    c.t[i] = t;
    c.pos[i] = cause ? cause[1] : 0.5;
    c.seq[i] = e.seq || 0;
    c.causeSeq[i] = e.diverged_at_seq || 0;
    c.order[i] = e.order;
    c.msg[i] = cause ? cause[2] : 0;
    if (i === F.n - 1) this.setOrder("oFlag", e.order, i + 1);
    else this.reindexFlags();
  }

  reindexFlags() {
    this.oFlag.fill(0);
    const c = this.flags.c;
    for (let i = 0; i < this.flags.n; i++) this.setOrder("oFlag", c.order[i], i + 1);
  }

  orderRow(order) {
    return this.orderBase < 0 ? -1 : order - this.orderBase;
  }

  /** Per-order index: this[name][order - base] = value (name: oReq, oRep or oFlag). */
  setOrder(name, order, value) {
    if (this.orderBase < 0) this.orderBase = order;
    const j = order - this.orderBase;
    if (j < 0) return;
    if (j >= this.oReq.length) {
      let n = this.oReq.length;
      while (n <= j) n *= 2;
      for (const k of ["oReq", "oRep", "oFlag"]) {
        const a = new Int32Array(n);
        a.set(this[k]);
        this[k] = a;
      }
    }
    this[name][j] = value;
  }

  /** Row of message `id` (ids grow with the rows), or -1. */
  rowOf(id) {
    const M = this.msgs;
    const i = lowerBound(M.c.id, M.n, id);
    return i < M.n && M.c.id[i] === id ? i : -1;
  }

  /** Forget everything after event `seq` (the run went back to an earlier moment). */
  truncate(seq) {
    const M = this.msgs;
    M.n = upperBound(M.c.seq, M.n, seq);
    const c = M.c;
    this.open = new Map();
    for (let i = 0; i < M.n; i++) {
      if (c.endSeq[i] > seq || (c.fate[i] === FLIGHT)) {
        c.fate[i] = FLIGHT;
        c.end[i] = c.arr[i];
        c.at[i] = 1;
        c.endSeq[i] = 0;
        this.open.set(c.id[i], i);
      }
    }
    this.marks.n = upperBound(this.marks.c.seq, this.marks.n, seq);
    this.bands.n = upperBound(this.bands.c.seq, this.bands.n, seq);
    const F = this.flags;
    let k = 0;
    for (let i = 0; i < F.n; i++) {
      if (F.c.seq[i] <= seq) {
        if (k !== i) for (const a of Object.values(F.c)) a[k] = a[i];
        k++;
      }
    }
    F.n = k;
    for (const name of ["oReq", "oRep"]) {
      const a = this[name];
      for (let j = 0; j < a.length; j++) if (a[j] > M.n) a[j] = 0;
    }
    this.reindexFlags();
    this.reindex();
    this.lastSeq = seq;
    this.dirty = true;
  }

  // ---------------------------------------------------------------- the window

  resize() {
    const r = this.plot.getBoundingClientRect();
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    const k = Math.max(0.5, (parseFloat(getComputedStyle(document.documentElement).fontSize) || 18) / 18);
    this.k = k;
    this.dpr = dpr;
    this.cssW = Math.max(1, r.width);
    this.cssH = Math.max(1, r.height);
    this.w = this.cssW / k;
    this.h = this.cssH / k;
    this.canvas.width = Math.round(this.cssW * dpr);
    this.canvas.height = Math.round(this.cssH * dpr);
    this.canvas.style.width = `${this.cssW}px`;
    this.canvas.style.height = `${this.cssH}px`;
    this.ctx.setTransform(dpr * k, 0, 0, dpr * k, 0, 0);
    this.geometry();
    this.dirty = true;
  }

  geometry() {
    const h = this.h;
    const tight = h < 190;
    this.x0 = GUTTER;
    this.x1 = Math.max(GUTTER + 20, this.w - RIGHT);
    this.yTop = 0;
    this.ySend = tight ? 34 : 42;
    this.yRecv = Math.max(this.ySend + 40, h - (tight ? 40 : 46));
    this.yAxis = h - 20;
  }

  now_() {
    return Math.max(this.now, this.lastT);
  }

  /** Start of the run as recorded (0 if it started here). */
  start() {
    return Math.min(0, this.firstT ?? 0);
  }

  /** The window [t0, t1] drawn now. */
  windowNow() {
    if (this.follow) {
      const now = this.now_();
      const t1 = Math.max(this.start() + this.span, now + this.span * 0.04);
      this.t0 = t1 - this.span;
    }
    return [this.t0, this.t0 + this.span];
  }

  X(t) {
    return this.x0 + ((t - this.t0) / this.span) * (this.x1 - this.x0);
  }

  T(x) {
    return this.t0 + ((x - this.x0) / (this.x1 - this.x0)) * this.span;
  }

  /** Zoom by `factor` (> 1 zooms in) around time `at` (default: the middle, or now when following). */
  zoom(factor, at) {
    const [t0, t1] = this.windowNow();
    const maxSpan = Math.max(START_SPAN * 2, (this.now_() - this.start()) * 1.25);
    const span = Math.min(maxSpan, Math.max(MIN_SPAN, this.span / factor));
    if (this.follow && at === undefined) {
      this.span = span;
    } else {
      const c = at === undefined ? (t0 + t1) / 2 : at;
      const f = (c - t0) / (t1 - t0);
      this.t0 = c - f * span;
      this.span = span;
      this.clampPan();
    }
    this.changed();
  }

  /** Move the window by `dt` seconds (a pan); following stops, and starts again at now. */
  pan(dt) {
    this.windowNow();
    this.t0 += dt;
    this.follow = false;
    this.clampPan();
    this.changed();
  }

  clampPan() {
    const now = this.now_();
    const lo = this.start() - this.span * 0.5;
    if (this.t0 < lo) this.t0 = lo;
    // Panned forward to now: follow again.
    if (this.t0 + this.span >= now + this.span * 0.04 && this.t0 > lo) {
      this.follow = true;
    }
  }

  home() {
    this.follow = false;
    this.t0 = this.start();
    this.changed();
  }

  end() {
    this.follow = true;
    this.changed();
  }

  setFollow(on) {
    this.follow = on;
    this.changed();
  }

  /** Show [t0, t0 + span] (tests and the benchmark). */
  setView(t0, span) {
    this.follow = false;
    this.span = Math.max(MIN_SPAN, span);
    this.t0 = t0;
    this.changed();
  }

  changed() {
    this.dirty = true;
    const b = this.buttons.follow;
    if (b) b.setAttribute("aria-pressed", String(this.follow));
  }

  /** Scroll to where order `id`'s states parted (or its first message); returns the time, or null. */
  reveal(id) {
    const j = this.orderRow(id);
    let t = null;
    if (j >= 0 && j < this.oFlag.length && this.oFlag[j]) t = this.flags.c.t[this.oFlag[j] - 1];
    else if (j >= 0 && j < this.oReq.length && this.oReq[j]) t = this.msgs.c.send[this.oReq[j] - 1];
    if (t === null) return null;
    this.show();
    this.follow = false;
    if (this.span > 60) this.span = START_SPAN;
    this.t0 = t - this.span / 2;
    this.clampPan();
    if (this.t0 + this.span > this.now_() + this.span * 0.04) this.follow = false;
    this.view.highlight = { msg: null, order: id, seq: null };
    this.changed();
    return t;
  }

  // ---------------------------------------------------------------- interaction

  bindPointer() {
    const cv = this.canvas;
    const pts = new Map(); // pointerId -> {x, y}
    let drag = null; // {x, moved, pinch: {d, t}}
    const local = (ev) => {
      const r = cv.getBoundingClientRect();
      return [(ev.clientX - r.left) / this.k, (ev.clientY - r.top) / this.k];
    };
    cv.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const [x] = local(ev);
      const dx = ev.deltaMode === 1 ? ev.deltaX * 16 : ev.deltaX;
      const dy = ev.deltaMode === 1 ? ev.deltaY * 16 : ev.deltaY;
      if (ev.shiftKey || Math.abs(dx) > Math.abs(dy)) {
        this.pan(((ev.shiftKey ? dy : dx) / (this.x1 - this.x0)) * this.span);
      } else {
        const at = this.follow ? undefined : this.T(x);
        this.zoom(Math.exp(-dy * 0.0015), at);
      }
    }, { passive: false });
    cv.addEventListener("pointerdown", (ev) => {
      cv.setPointerCapture(ev.pointerId);
      const [x, y] = local(ev);
      pts.set(ev.pointerId, { x, y });
      if (pts.size === 1) drag = { x, moved: 0 };
      else if (pts.size === 2) {
        const [a, b] = [...pts.values()];
        drag = { pinch: { d: Math.abs(a.x - b.x) || 1, span: this.span, t: this.T((a.x + b.x) / 2) }, moved: 99 };
      }
    });
    cv.addEventListener("pointermove", (ev) => {
      const [x, y] = local(ev);
      if (!pts.has(ev.pointerId)) {
        this.hoverAt(x, y);
        return;
      }
      const p = pts.get(ev.pointerId);
      const dxp = x - p.x;
      p.x = x;
      p.y = y;
      if (!drag) return;
      if (drag.pinch && pts.size >= 2) {
        const [a, b] = [...pts.values()];
        const d = Math.abs(a.x - b.x) || 1;
        this.windowNow();
        this.follow = false;
        const span = Math.max(MIN_SPAN, drag.pinch.span * (drag.pinch.d / d));
        const f = ((a.x + b.x) / 2 - this.x0) / (this.x1 - this.x0);
        this.span = span;
        this.t0 = drag.pinch.t - f * span;
        this.clampPan();
        this.changed();
      } else if (!drag.pinch) {
        drag.moved += Math.abs(dxp);
        if (drag.moved > 3) {
          cv.style.cursor = "grabbing";
          this.pan((-dxp / (this.x1 - this.x0)) * this.span);
        }
      }
    });
    const up = (ev) => {
      if (!pts.has(ev.pointerId)) return;
      pts.delete(ev.pointerId);
      if (drag && pts.size === 0) {
        if (drag.moved <= 3 && ev.type === "pointerup") {
          const [x, y] = local(ev);
          this.pick(x, y);
        }
        drag = null;
        cv.style.cursor = "";
      }
    };
    cv.addEventListener("pointerup", up);
    cv.addEventListener("pointercancel", up);
    cv.addEventListener("pointerleave", () => {
      if (!pts.size) this.setHover(null);
    });
  }

  bindKeys() {
    this.canvas.addEventListener("keydown", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
      switch (ev.key) {
        case "+":
        case "=":
          this.zoom(ZOOM_STEP);
          break;
        case "-":
        case "_":
          this.zoom(1 / ZOOM_STEP);
          break;
        case "Home":
          this.home();
          break;
        case "End":
          this.end();
          break;
        default:
          return;
      }
      ev.preventDefault();
    });
  }

  bindButtons() {
    const b = this.buttons;
    const on = (el, fn) => el && el.addEventListener("click", (ev) => {
      fn();
      if (ev.detail > 0) el.blur(); // a mouse click: the page's keys stay the presenter's
    });
    on(b.follow, () => this.end());
    on(b.zoomIn, () => this.zoom(ZOOM_STEP));
    on(b.zoomOut, () => this.zoom(1 / ZOOM_STEP));
    on(b.svg, () => this.download("svg"));
    on(b.png, () => this.download("png"));
    this.changed();
  }

  /** What is under (x, y) (logical units): {kind: "arrow"|"mark"|"flag", i} or null. */
  hit(x, y) {
    let best = null;
    let bestD = 7 * 7;
    for (let k = 0; k < this.nDrawnFlags; k++) {
      const i = this.drawnFlags[k];
      const [fx, fy] = this.flagPoint(i);
      const d = (x - fx) ** 2 + (y - (fy - 10)) ** 2;
      if (d < 12 * 12 && d < bestD + 60) {
        best = { kind: "flag", i };
        bestD = d;
      }
    }
    for (let k = 0; k < this.nDrawnMarks; k++) {
      const i = this.drawnMarks[k];
      const mx = this.X(this.marks.c.t[i]);
      const my = ON_RECEIVER[this.marks.c.type[i]] ? this.yRecv : this.ySend;
      const d = (x - mx) ** 2 + (y - my) ** 2;
      if (d < bestD) {
        best = { kind: "mark", i };
        bestD = d;
      }
    }
    for (let k = 0; k < this.nDrawnArrows; k++) {
      const i = this.drawnArrows[k];
      const [ax, ay, bx, by] = this.arrowGeom(i);
      const vx = bx - ax;
      const vy = by - ay;
      const len2 = vx * vx + vy * vy || 1;
      const u = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / len2));
      const d = (ax + u * vx - x) ** 2 + (ay + u * vy - y) ** 2;
      if (d < bestD) {
        best = { kind: "arrow", i };
        bestD = d;
      }
    }
    return best;
  }

  /** The highlight an item stands for (as the log's: {msg, order, seq}). */
  highlightOf(h) {
    if (!h) return null;
    if (h.kind === "arrow") {
      const c = this.msgs.c;
      return { msg: c.id[h.i], order: null, seq: c.seq[h.i] || null };
    }
    if (h.kind === "mark") {
      const c = this.marks.c;
      return c.msg[h.i] ? { msg: c.msg[h.i], order: null, seq: c.seq[h.i] } : { msg: null, order: c.order[h.i] || null, seq: c.seq[h.i] };
    }
    const c = this.flags.c;
    return { msg: null, order: c.order[h.i], seq: c.causeSeq[h.i] || null };
  }

  hoverAt(x, y) {
    const h = this.hit(x, y);
    this.canvas.style.cursor = h ? "pointer" : "";
    this.setHover(this.highlightOf(h));
  }

  setHover(hl) {
    const v = this.view;
    if (!hl) {
      if (this.hover && v.highlight === this.hover.hl) v.highlight = this.hover.before;
      this.hover = null;
      this.canvas.title = "";
      return;
    }
    if (this.hover && this.hover.hl.msg === hl.msg && this.hover.hl.order === hl.order) return;
    const before = this.hover && v.highlight === this.hover.hl ? this.hover.before : v.highlight;
    this.hover = { hl, before };
    v.highlight = hl;
    this.canvas.title = this.describeHl(hl);
  }

  describeHl(hl) {
    if (hl.msg) {
      const i = this.rowOf(hl.msg);
      if (i >= 0) return `${this.arrowLabel(i)}: ${FATES[this.msgs.c.fate[i]]}. Click: show it in the event log`;
    }
    return hl.order ? `Order #${hl.order}. Click: show it in the event log` : "";
  }

  /** A click (or tap) at (x, y): pin the item's event in the log, as a click there does. */
  pick(x, y) {
    const hl = this.highlightOf(this.hit(x, y));
    this.hover = null;
    if (!hl) return;
    if (!(hl.seq && this.onPick(hl.seq))) this.view.highlight = hl;
    this.dirty = true;
  }

  // ---------------------------------------------------------------- geometry of items

  /** An arrow's ends [x0, y0, x1, y1] as drawn (an arrow still on its leg ends at now). */
  arrowGeom(i) {
    const c = this.msgs.c;
    const s = c.send[i];
    let e = c.end[i];
    let f = c.fate[i] === LOST ? c.at[i] : 1;
    const now = this.now_();
    if (c.fate[i] === FLIGHT && e > now) {
      const d = c.arr[i] - s;
      f = d > 0 ? Math.max(0, (now - s) / d) : 1;
      e = now;
    }
    const ya = c.leg[i] ? this.yRecv : this.ySend;
    const yb = c.leg[i] ? this.ySend : this.yRecv;
    return [this.X(s), ya, this.X(e), ya + (yb - ya) * f];
  }

  flagPoint(i) {
    const c = this.flags.c;
    return [this.X(c.t[i]), this.ySend + (this.yRecv - this.ySend) * c.pos[i]];
  }

  arrowLabel(i) {
    const c = this.msgs.c;
    return c.kind[i] === 3 ? `MetricSample ${fmtInt(c.id[i])}` : `${KINDS[c.kind[i]]} #${c.order[i]}`;
  }

  markLabel(i) {
    const c = this.marks.c;
    const o = c.order[i];
    switch (c.type[i]) {
      case M_NEW: return `#${o} new`;
      case M_APPROVED: return `#${o} approved`;
      case M_CANCELLED: return `#${o} cancelled`;
      case M_RESERVED: return `#${o} credit reserved`;
      case M_REFUSED: return `#${o} refused`;
      case M_TIMEOUT: return `#${o} no reply in time`;
      case M_CRASH: return "⚡ crash";
      case M_RESTART: return "↻ up";
      case M_IGNORED: return `#${o} reply ignored`;
      default: return "";
    }
  }

  // ---------------------------------------------------------------- drawing

  draw(force = false) {
    const hl = this.view.highlight;
    const key = hl ? `${hl.msg}|${hl.order}|${hl.seq}` : "";
    if (key !== this.hlKey) {
      this.hlKey = key;
      this.dirty = true;
    }
    if (!force && (!this.dirty || !this.isShown())) return;
    if (!this.isShown() && !force) return;
    if (this.plot.clientWidth && Math.abs(this.plot.clientWidth - this.cssW) > 0.5) this.resize();
    const t0 = performance.now();
    this.dirty = false;
    const p = this.painter;
    const ctx = this.ctx;
    ctx.setTransform(this.dpr * this.k, 0, 0, this.dpr * this.k, 0, 0);
    this.render(p, true);
    const ms = performance.now() - t0;
    this.stats.draws++;
    this.stats.drawMs += ms;
    this.stats.lastDrawMs = ms;
    this.summarize();
  }

  /**
   * Draw the window with painter p. `live`: the canvas (records what was drawn for the
   * pointer and for items()); false for an export.
   */
  render(p, live) {
    const [t0, t1] = this.windowNow();
    const { x0, x1, ySend, yRecv, yAxis, w, h } = this;
    const M = this.msgs;
    const mc = M.c;
    const now = this.now_();
    const plotPx = (x1 - x0) * this.k;
    const model = { t0, t1, span: this.span, follow: this.follow, now, aggregated: false, arrows: 0, crosses: 0, lost: 0, density: null };
    // background
    p.begin({ fill: "#ffffff" });
    p.rect(0, 0, w, h);
    p.end();
    // Text is placed last, the most important first; a label that would cross one already
    // placed is left out (the mark or arrow it names is still drawn).
    const labels = []; // boxes of the text placed: [x0, y0, x1, y1]
    const queue = []; // [priority, text, x, y, options]
    const free = (bx0, by0, bx1, by1) => {
      for (const b of labels) if (bx0 < b[2] && b[0] < bx1 && by0 < b[3] && b[1] < by1) return false;
      labels.push([bx0, by0, bx1, by1]);
      return true;
    };
    const label = (s, x, y, o = {}, prio = 5) => queue.push([prio, s, x, y, o]);
    const place = ([, s, x, y, o]) => {
      const wd = p.measure(s, o.font || F_LABEL);
      // kept inside the plot: a label at the edge slides in rather than being cut
      let bx0 = o.align === "center" ? x - wd / 2 : o.align === "right" ? x - wd : x;
      bx0 = Math.max(x0 + 2, Math.min(x1 - wd - 2, bx0));
      if (!free(bx0 - 2, y - 8, bx0 + wd + 2, y + 8)) return false;
      p.text(s, bx0, y, { ...o, align: "left" });
      return true;
    };

    // time axis with ticks at a round step
    const pxPerS = (x1 - x0) / this.span;
    let step = 1e-3;
    for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6]) {
      for (const base of [1e-3, 1e-2, 1e-1, 1]) {
        if (base * m * pxPerS >= 70) {
          step = base * m;
          break;
        }
      }
      if (step * pxPerS >= 70) break;
    }
    const decimals = step >= 1 ? 0 : step >= 0.1 ? 1 : step >= 0.01 ? 2 : 3;
    p.begin({ stroke: "#cbd5e1", width: 1, cls: "grid" });
    const first = Math.ceil(t0 / step) * step;
    for (let t = first; t <= t1 + 1e-9; t += step) {
      const x = this.X(t);
      p.seg(x, ySend - 6, x, yAxis);
    }
    p.end();
    p.begin({ stroke: MUTED, width: 1, cls: "axis" });
    p.seg(x0, yAxis, x1, yAxis);
    p.end();
    for (let t = first; t <= t1 + 1e-9; t += step) {
      label(`${t.toFixed(decimals)} s`, this.X(t), yAxis + 9, { align: "center", color: MUTED }, 6);
    }

    // what is drawn against time stays inside the plot (an arrow sent before the window)
    p.clip(x0 - 8, 0, x1 - x0 + 16, h);

    // downtime bands on the receiver's lifeline
    const B = this.bands;
    const bLo = Math.max(0, lowerBound(B.c.from, B.n, t0 - 3600) - 1);
    const bHi = upperBound(B.c.from, B.n, t1);
    const bands = [];
    if (bHi > bLo) {
      p.begin({ fill: "hatch", stroke: BAD, width: 1, cls: "downtime" });
      let lastX = -1e9;
      for (let i = bLo; i < bHi; i++) {
        const to = Math.min(B.c.to[i], now);
        if (to < t0) continue;
        const bx0 = Math.max(x0, this.X(B.c.from[i]));
        const bx1 = Math.min(x1, this.X(to));
        if (bx1 < x0) continue;
        if (bx1 - lastX < 0.5 && bands.length) continue; // merged at this zoom
        p.rect(bx0, yRecv - 7, Math.max(1.5, bx1 - bx0), 14);
        lastX = bx1;
        bands.push({ from: B.c.from[i], to: B.c.to[i], seq: B.c.seq[i] });
      }
      p.end();
    }

    // lifelines
    p.begin({ stroke: "#1d4ed8", width: 3, cls: "lifeline sender" });
    p.seg(x0, ySend, x1, ySend);
    p.end();
    p.begin({ stroke: GOOD, width: 3, cls: "lifeline receiver" });
    p.seg(x0, yRecv, x1, yRecv);
    p.end();
    // the gutter's words, drawn after the plot (outside its clip)
    const gutter = [
      ["Order", 6, ySend - 8, { font: F_NAME, color: "#1d4ed8" }],
      ["service", 6, ySend + 8, { font: F_NAME, color: "#1d4ed8" }],
      ["Customer", 6, yRecv - 8, { font: F_NAME, color: GOOD }],
      ["service", 6, yRecv + 8, { font: F_NAME, color: GOOD }],
    ];

    // "now"
    if (now >= t0 && now <= t1) {
      const xn = this.X(now);
      p.begin({ stroke: INK, width: 1.5, dash: [3, 3], cls: "now" });
      p.seg(xn, 4, xn, yAxis);
      p.end();
      free(xn - 16, 0, xn + 16, 14);
      p.text("now", xn, 8, { align: "center", font: F_BOLD });
    }

    // messages: the rows whose send is in [t0 - longest, t1]
    const lo = lowerBound(mc.send, M.n, t0 - this.maxDur - 1e-9);
    const hi = upperBound(mc.send, M.n, t1);
    const inView = hi - lo;
    const aggregate = inView > plotPx * DENSE;
    model.aggregated = aggregate;
    let nArrows = 0;
    if (live && this.drawnArrows.length < Math.min(inView, plotPx * DENSE + 8)) {
      this.drawnArrows = new Int32Array(Math.ceil(Math.min(inView, plotPx * DENSE + 8) * 1.5) + 64);
    }
    const lostRows = [];
    let lostInView = 0;
    if (aggregate) {
      // density bands, binned per pixel column: sent per leg (by send time), lost (by loss
      // time), from the time indexes: the cost follows the columns, not the messages
      const cols = Math.max(1, Math.floor(plotPx));
      const sentReq = binCounts(this.sendT[0].a, this.sendT[0].n, t0, this.span, cols, this.bins(0, cols));
      const sentRep = binCounts(this.sendT[1].a, this.sendT[1].n, t0, this.span, cols, this.bins(1, cols));
      const L = this.lostT;
      const lostLo = lowerBound(L.a, L.n, t0);
      const lostHi = upperBound(L.a, L.n, t1);
      lostInView = lostHi - lostLo;
      if (lostInView <= MAX_CROSSES) for (let k = lostLo; k < lostHi; k++) lostRows.push(this.lostRow[k]);
      const lost = lostInView > MAX_CROSSES ? binCounts(L.a, L.n, t0, this.span, cols, this.bins(2, cols)) : null;
      const colW = (x1 - x0) / cols;
      const mid = (ySend + yRecv) / 2;
      const third = (yRecv - ySend) / 3;
      const strip = (counts, y, hgt, color, cls) => {
        let max = 0;
        for (let b = 0; b < cols; b++) if (counts[b] > max) max = counts[b];
        if (!max) return;
        // Eight levels of opacity (by the square root of the count), one path each.
        const level = new Uint8Array(cols);
        const used = new Set();
        for (let b = 0; b < cols; b++) {
          if (!counts[b]) continue;
          level[b] = Math.max(1, Math.ceil(Math.sqrt(counts[b] / max) * 8));
          used.add(level[b]);
        }
        for (const lvl of [...used].sort()) {
          p.begin({ fill: color, alpha: 0.12 + (0.88 * lvl) / 8, cls });
          for (let b = 0; b < cols; b++) if (level[b] === lvl) p.rect(x0 + b * colW, y, colW + 0.05, hgt);
          p.end();
        }
      };
      strip(sentReq, ySend + 6, third - 8, KIND_COLOR[0], "density request");
      strip(sentRep, yRecv - third + 2, third - 8, KIND_COLOR[1], "density reply");
      if (lostInView > MAX_CROSSES) strip(lost, mid - third / 2 + 4, third - 8, BAD, "density lost");
      gutter.push(["requests →", 6, ySend + third / 2 + 2, { font: F_LABEL, color: MUTED }]);
      gutter.push(["← replies", 6, yRecv - third / 2 - 2, { font: F_LABEL, color: MUTED }]);
      if (lostInView > MAX_CROSSES) gutter.push(["✗ lost", 6, mid + 2, { font: F_BOLD, color: BAD }]);
      let sentN = 0;
      for (let b = 0; b < cols; b++) sentN += sentReq[b] + sentRep[b];
      model.density = { columns: cols, sent: sentN, lost: lostInView };
      label(`${fmtInt(inView)} messages as density · zoom in for arrows`, x0, 8, { color: MUTED, bg: "#ffffff" }, 0.2);
    } else {
      // one arrow per message, batched by style
      const groups = [
        { leg: 0, style: { stroke: KIND_COLOR[0], width: 1.75, cls: "arrows request", item: "arrow request" } },
        { leg: 1, kind: 1, style: { stroke: KIND_COLOR[1], width: 1.75, dash: [6, 4], cls: "arrows reply", item: "arrow reply" } },
        { leg: 1, kind: 2, style: { stroke: KIND_COLOR[2], width: 1.75, dash: [6, 4], cls: "arrows reply", item: "arrow reply" } },
      ];
      const metricStyle = { stroke: KIND_COLOR[3], width: 1.5, cls: "arrows request", item: "arrow request" };
      const rows = [];
      for (let i = lo; i < hi; i++) {
        if (mc.end[i] < t0 && mc.fate[i] !== FLIGHT) continue;
        rows.push(i);
      }
      for (const g of [...groups, { leg: 0, kind: 3, style: metricStyle }]) {
        p.begin(g.style);
        for (const i of rows) {
          if (mc.leg[i] !== g.leg) continue;
          const kd = mc.kind[i];
          if (g.kind !== undefined ? kd !== g.kind : kd === 3) continue;
          const [ax, ay, bx, by] = this.arrowGeom(i);
          p.seg(ax, ay, bx, by, live ? undefined : `${this.arrowLabel(i)} (${FATES[mc.fate[i]]})`);
        }
        p.end();
      }
      // ends: arrowheads (delivered), hollow heads (ignored), moving dots (in flight), crash marks (forgotten)
      const heads = { fill: INK, cls: "heads" };
      p.begin(heads);
      for (const i of rows) {
        const f = mc.fate[i];
        if (f !== DELIVERED && f !== FORGOTTEN && f !== IGNORED) continue;
        const [ax, ay, bx, by] = this.arrowGeom(i);
        const len = Math.hypot(bx - ax, by - ay) || 1;
        const ux = (bx - ax) / len;
        const uy = (by - ay) / len;
        p.m(bx, by);
        p.l(bx - ux * 8 - uy * 3.5, by - uy * 8 + ux * 3.5);
        p.l(bx - ux * 8 + uy * 3.5, by - uy * 8 - ux * 3.5);
        p.z();
      }
      p.end();
      p.begin({ fill: "#ffffff", stroke: INK, width: 1.5, cls: "in-flight" });
      for (const i of rows) {
        if (mc.fate[i] !== FLIGHT) continue;
        const [, , bx, by] = this.arrowGeom(i);
        p.rect(bx - 3, by - 3, 6, 6);
      }
      p.end();
      for (const i of rows) {
        const f = mc.fate[i];
        if (f === LOST || f === DOWN) {
          lostInView++;
          if (lostRows.length <= MAX_CROSSES) lostRows.push(i);
        }
        if (live && nArrows < this.drawnArrows.length) this.drawnArrows[nArrows++] = i;
      }
      // forgotten: the crash mark at the end on the receiver's lifeline
      for (const i of rows) {
        if (mc.fate[i] !== FORGOTTEN) continue;
        const [, , bx, by] = this.arrowGeom(i);
        p.text("⚡", bx + 1, by - 10, { font: F_BOLD, color: BAD, align: "center" });
      }
      model.arrows = rows.length;
      // labels: "OrderCreated #3" at the middle of the arrow, where there is room
      if (rows.length <= MAX_ARROW_LABELS) {
        for (const i of rows) {
          const [ax, ay, bx, by] = this.arrowGeom(i);
          const f = mc.fate[i];
          const s = this.arrowLabel(i) + (f === IGNORED ? " (ignored)" : "");
          const mx = (ax + bx) / 2;
          const my = (ay + by) / 2;
          if (Math.abs(bx - ax) < 24 && rows.length > 12) continue;
          label(s, mx, my, { align: "center", bg: "rgba(255,255,255,0.85)", color: KIND_COLOR[mc.kind[i]], font: F_BOLD }, 4);
        }
      }
    }
    this.nDrawnArrows = live ? nArrows : this.nDrawnArrows;

    // lost messages: a cross where each was lost
    if (lostInView <= MAX_CROSSES) {
      p.begin({ stroke: BAD, width: 2.5, cls: "lost", cap: "round" });
      for (const i of lostRows) {
        const [, , bx, by] = this.arrowGeom(i);
        p.seg(bx - 5, by - 5, bx + 5, by + 5);
        p.seg(bx - 5, by + 5, bx + 5, by - 5);
      }
      p.end();
      if (lostRows.length <= 12) {
        for (const i of lostRows) {
          const [, , bx, by] = this.arrowGeom(i);
          label(mc.fate[i] === DOWN ? "✗ lost: receiver down" : "✗ lost", bx + 9, by + (mc.leg[i] ? -10 : 10), { color: BAD, font: F_BOLD, bg: "rgba(255,255,255,0.85)" }, 2);
        }
      }
    }
    model.lost = lostInView;
    model.crosses = lostInView <= MAX_CROSSES ? lostRows.length : 0;
    model.lostRows = lostInView <= MAX_CROSSES ? lostRows : [];
    model.bands = bands;

    // marks: ticks on the lifelines
    const K = this.marks;
    const kc = K.c;
    const kLo = lowerBound(kc.t, K.n, t0);
    const kHi = upperBound(kc.t, K.n, t1);
    const nMarks = kHi - kLo;
    let nDrawnMarks = 0;
    const markRows = [];
    if (nMarks <= plotPx / 2) {
      if (live && this.drawnMarks.length < nMarks) this.drawnMarks = new Int32Array(nMarks * 2);
      p.begin({ stroke: INK, width: 2, cls: "ticks" });
      for (let i = kLo; i < kHi; i++) {
        const ty = kc.type[i];
        if (ty === M_CRASH || ty === M_TIMEOUT) continue;
        const x = this.X(kc.t[i]);
        const y = ON_RECEIVER[ty] ? yRecv : ySend;
        p.seg(x, y - 7, x, y + 7);
      }
      p.end();
      // timeouts: an hourglass-like open circle with "?" on the sender's lifeline
      p.begin({ fill: "#fef3c7", stroke: WARN, width: 2, cls: "timeouts" });
      for (let i = kLo; i < kHi; i++) {
        if (kc.type[i] !== M_TIMEOUT) continue;
        const x = this.X(kc.t[i]);
        p.rect(x - 6, ySend - 6, 12, 12);
      }
      p.end();
      for (let i = kLo; i < kHi; i++) {
        const ty = kc.type[i];
        const x = this.X(kc.t[i]);
        if (ty === M_TIMEOUT) p.text("?", x, ySend + 0.5, { font: F_BOLD, color: WARN, align: "center" });
        else if (ty === M_CRASH) p.text("⚡", x, yRecv, { font: `700 16px ${FONT}`, color: BAD, align: "center" });
        if (live) this.drawnMarks[nDrawnMarks++] = i;
        markRows.push(i);
      }
      if (nMarks <= MAX_MARK_LABELS) {
        // the important ones first: crashes, timeouts, state changes, then the rest
        const order = markRows.slice().sort((a, b) => rank(kc.type[a]) - rank(kc.type[b]));
        for (const i of order) {
          const ty = kc.type[i];
          const x = this.X(kc.t[i]);
          const onR = ON_RECEIVER[ty];
          const y = onR ? yRecv + 14 : ySend - 14;
          const color = ty === M_TIMEOUT || ty === M_IGNORED ? WARN : ty === M_CRASH ? BAD : ty === M_APPROVED || ty === M_RESERVED ? GOOD : INK;
          label(this.markLabel(i), x, y, { align: "center", color, font: ty === M_TIMEOUT || ty === M_CRASH ? F_BOLD : F_LABEL }, 1 + rank(ty) / 10);
        }
      }
    } else {
      // dense: one tick per pixel column that has any mark, per lifeline
      const cols = Math.max(1, Math.floor(plotPx));
      const onS = binCounts(this.markT[0].a, this.markT[0].n, t0, this.span, cols, this.bins(3, cols));
      const onR = binCounts(this.markT[1].a, this.markT[1].n, t0, this.span, cols, this.bins(4, cols));
      const alS = binCounts(this.alarmT[0].a, this.alarmT[0].n, t0, this.span, cols, this.bins(5, cols));
      const alR = binCounts(this.alarmT[1].a, this.alarmT[1].n, t0, this.span, cols, this.bins(6, cols));
      const colW = (x1 - x0) / cols;
      p.begin({ stroke: INK, width: Math.max(0.6, colW * 0.8), cls: "ticks dense" });
      for (let b = 0; b < cols; b++) {
        const x = x0 + (b + 0.5) * colW;
        if (onS[b]) p.seg(x, ySend - 5, x, ySend + 5);
        if (onR[b]) p.seg(x, yRecv - 5, x, yRecv + 5);
      }
      p.end();
      p.begin({ stroke: BAD, width: Math.max(0.8, colW), cls: "crashes dense" });
      for (let b = 0; b < cols; b++) {
        const x = x0 + (b + 0.5) * colW;
        if (alR[b]) p.seg(x, yRecv - 9, x, yRecv + 9);
        if (alS[b]) p.seg(x, ySend - 9, x, ySend + 9);
      }
      p.end();
    }
    this.nDrawnMarks = live ? nDrawnMarks : this.nDrawnMarks;
    model.markRows = markRows;
    model.marks = nMarks;

    // flags: where an order's states parted
    const F = this.flags;
    const fc = F.c;
    const fLo = lowerBound(fc.t, F.n, t0);
    const fHi = upperBound(fc.t, F.n, t1);
    const flagRows = [];
    let nDrawnFlags = 0;
    if (fHi - fLo <= MAX_FLAGS) {
      if (live && this.drawnFlags.length < fHi - fLo) this.drawnFlags = new Int32Array((fHi - fLo) * 2);
      p.begin({ stroke: BAD, width: 2, cls: "flag-poles" });
      for (let i = fLo; i < fHi; i++) {
        const [x, y] = this.flagPoint(i);
        p.seg(x, y, x, y - 22);
      }
      p.end();
      p.begin({ fill: BAD, cls: "flags" });
      for (let i = fLo; i < fHi; i++) {
        const [x, y] = this.flagPoint(i);
        p.m(x, y - 22);
        p.l(x + 12, y - 18);
        p.l(x, y - 14);
        p.z();
        if (live) this.drawnFlags[nDrawnFlags++] = i;
        flagRows.push(i);
      }
      p.end();
      if (fHi - fLo <= 30) {
        for (const i of flagRows) {
          const [x, y] = this.flagPoint(i);
          label(`⚑ #${fc.order[i]} parts here`, x + 14, y - 18, { color: "#ffffff", bg: BAD, font: F_BOLD }, 0.5);
        }
      }
    } else {
      const cols = Math.max(1, Math.floor(plotPx));
      const any = binCounts(fc.t, F.n, t0, this.span, cols, this.bins(7, cols));
      const colW = (x1 - x0) / cols;
      const mid = (ySend + yRecv) / 2;
      p.begin({ stroke: BAD, width: Math.max(0.8, colW), cls: "flags dense" });
      for (let b = 0; b < cols; b++) if (any[b]) p.seg(x0 + (b + 0.5) * colW, mid - 4, x0 + (b + 0.5) * colW, mid + 4);
      p.end();
      label(`⚑ ${fmtInt(fHi - fLo)} orders parted in view`, x1, mid - 14, { align: "right", color: "#ffffff", bg: BAD, font: F_BOLD }, 0.5);
    }
    this.nDrawnFlags = live ? nDrawnFlags : this.nDrawnFlags;
    model.flagRows = flagRows;
    model.flags = fHi - fLo;

    p.unclip();
    for (const g of gutter) p.text(...g);
    if (this.follow === false && now > t1) label("now is further on (End) →", x1, 8, { align: "right", color: MUTED, font: F_BOLD }, 0.1);
    queue.sort((a, b) => a[0] - b[0]);
    for (const q of queue) place(q);

    // the highlight, always drawn one by one on top
    const hl = this.view.highlight;
    const hlRows = [];
    if (hl) {
      if (hl.msg) {
        const i = this.rowOf(hl.msg);
        if (i >= 0) hlRows.push(i);
      } else if (hl.order) {
        const j = this.orderRow(hl.order);
        if (j >= 0 && j < this.oReq.length) {
          if (this.oReq[j]) hlRows.push(this.oReq[j] - 1);
          if (this.oRep[j]) hlRows.push(this.oRep[j] - 1);
        }
      }
    }
    const shown = hlRows.filter((i) => mc.send[i] <= t1 && (mc.end[i] >= t0 || mc.fate[i] === FLIGHT));
    if (shown.length) {
      p.clip(x0 - 8, 0, x1 - x0 + 16, h);
      p.begin({ stroke: FOCUS, width: 8, cls: "highlight halo", cap: "round" });
      for (const i of shown) {
        const [ax, ay, bx, by] = this.arrowGeom(i);
        p.seg(ax, ay, bx, by);
      }
      p.end();
      for (const i of shown) {
        const [ax, ay, bx, by] = this.arrowGeom(i);
        p.begin({ stroke: "#111111", width: 3, dash: mc.leg[i] ? [6, 4] : undefined, cls: "highlight" });
        p.seg(ax, ay, bx, by);
        p.end();
        const s = this.arrowLabel(i);
        const tw = p.measure(s, F_BOLD);
        const mx = Math.min(x1 - tw / 2, Math.max(x0 + tw / 2, (ax + bx) / 2));
        p.text(s, mx, (ay + by) / 2, { align: "center", bg: FOCUS, font: F_BOLD, color: "#111111" });
      }
      p.unclip();
    }
    model.highlighted = shown;

    this.model = model;
  }

  /** A reusable column buffer (one per purpose), so a frame allocates none. */
  bins(k, cols) {
    if (!this.binBufs) this.binBufs = [];
    const b = this.binBufs[k];
    if (b && b.length === cols) return b;
    this.binBufs[k] = new Uint32Array(cols);
    return this.binBufs[k];
  }

  /** A sentence for screen readers: what the window shows (at most twice a second). */
  summarize() {
    const el = this.summaryEl;
    const now = performance.now();
    if (!el || (this.summarizedAt && now - this.summarizedAt < 500)) return;
    this.summarizedAt = now;
    const m = this.model;
    if (!m) return;
    const parts = [`From t = ${m.t0.toFixed(1)} s to ${m.t1.toFixed(1)} s${m.follow ? ", following now" : ""}.`];
    parts.push(m.aggregated ? `${fmtInt(m.density.sent)} messages sent, shown as density.` : `${fmtInt(m.arrows)} messages.`);
    if (m.lost) parts.push(`${fmtInt(m.lost)} lost.`);
    if (m.bands.length) parts.push(`The receiver was down ${m.bands.length === 1 ? "once" : `${m.bands.length} times`}.`);
    if (m.flags) {
      const names = m.flagRows.slice(0, 3).map((i) => `#${this.flags.c.order[i]} at ${this.flags.c.t[i].toFixed(2)} s`);
      parts.push(`States parted: ${names.length ? names.join(", ") : ""}${m.flags > names.length ? ` and ${fmtInt(m.flags - names.length)} more` : ""}.`);
    }
    const text = parts.join(" ");
    if (el.textContent !== text) el.textContent = text;
  }

  // ---------------------------------------------------------------- reading it back

  /** What the last frame drew, as plain objects (tests read this, not pixels). */
  items() {
    const m = this.model;
    if (!m) return null;
    const mc = this.msgs.c;
    const k = this.k;
    const arrows = [];
    for (let n = 0; n < this.nDrawnArrows; n++) {
      const i = this.drawnArrows[n];
      const [ax, ay, bx, by] = this.arrowGeom(i);
      arrows.push({
        msg: mc.id[i], order: mc.order[i], seq: mc.seq[i], leg: LEGS[mc.leg[i]], kind: KINDS[mc.kind[i]], fate: FATES[mc.fate[i]],
        label: this.arrowLabel(i), send: mc.send[i], end: mc.end[i], x0: ax * k, y0: ay * k, x1: bx * k, y1: by * k,
      });
    }
    const crosses = m.lostRows.map((i) => {
      const [, , bx, by] = this.arrowGeom(i);
      return { msg: mc.id[i], order: mc.order[i], leg: LEGS[mc.leg[i]], t: mc.end[i], at: mc.at[i], x: bx * k, y: by * k };
    });
    const kc = this.marks.c;
    const ticks = m.markRows.map((i) => ({
      type: MARKS[kc.type[i]], order: kc.order[i], t: kc.t[i], seq: kc.seq[i], label: this.markLabel(i),
      lifeline: ON_RECEIVER[kc.type[i]] ? "receiver" : "sender",
    }));
    const fc = this.flags.c;
    const flags = m.flagRows.map((i) => {
      const [x, y] = this.flagPoint(i);
      return { order: fc.order[i], t: fc.t[i], seq: fc.causeSeq[i], msg: fc.msg[i], pos: fc.pos[i], x: x * k, y: y * k };
    });
    return {
      t0: m.t0, t1: m.t1, span: m.span, follow: m.follow, now: m.now, aggregated: m.aggregated, density: m.density,
      lifelines: { sender: this.ySend * k, receiver: this.yRecv * k },
      arrows, crosses, ticks, flags, lost: m.lost,
      bands: m.bands, timeouts: ticks.filter((t) => t.type === "timeout"),
      highlighted: m.highlighted.map((i) => mc.id[i]),
      records: { messages: this.msgs.n, marks: this.marks.n, bands: this.bands.n, flags: this.flags.n },
    };
  }

  // ---------------------------------------------------------------- export

  /** The window as SVG text (hand-built). */
  svg() {
    const sp = new SvgPainter(this.ctx, this.w, this.h);
    const keep = [this.nDrawnArrows, this.nDrawnMarks, this.nDrawnFlags, this.model];
    this.render(sp, false);
    [this.nDrawnArrows, this.nDrawnMarks, this.nDrawnFlags] = keep;
    const m = this.model;
    this.model = keep[3] || m;
    return sp.svg(`Space-time diagram, t = ${m.t0.toFixed(2)} s to ${m.t1.toFixed(2)} s`);
  }

  download(type) {
    const save = (blob, name) => {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    };
    if (type === "svg") {
      save(new Blob([this.svg()], { type: "image/svg+xml" }), "space-time-diagram.svg");
    } else {
      this.draw(true);
      this.canvas.toBlob((blob) => blob && save(blob, "space-time-diagram.png"), "image/png");
    }
  }
}

function rank(type) {
  return type === M_CRASH ? 0 : type === M_TIMEOUT ? 1 : type === M_APPROVED || type === M_CANCELLED ? 2 : type === M_RESERVED || type === M_REFUSED ? 3 : 4;
}

// ------------------------------------------------------------------ the tab switch

/**
 * Orders and the diagram share the lower-left place: a tab switch (click or Enter; the
 * arrows are the page's keys), or both side by side where the screen is wide enough
 * (CSS decides: the tabs are then not displayed). The first tab says "Metrics" in the
 * metrics stream, where the metrics panel takes the orders' place.
 */
export class LowerTabs {
  /** @param {object} o lower (the shared place), tabs (the tab buttons, Orders first), onChange(i) */
  constructor({ lower, tabs, onChange = () => {} }) {
    this.lower = lower;
    this.tabs = tabs;
    this.onChange = onChange;
    for (const [i, tab] of tabs.entries()) {
      tab.addEventListener("click", (ev) => {
        this.select(i);
        if (ev.detail > 0) tab.blur(); // a mouse click: the page's keys stay the presenter's
      });
    }
    const list = tabs[0].parentElement;
    const measure = () => lower.style.setProperty("--tabs-w", `${Math.ceil(list.getBoundingClientRect().width)}px`);
    new ResizeObserver(measure).observe(list);
    measure();
    this.select(0);
  }

  select(i) {
    this.selected = i;
    for (const [j, tab] of this.tabs.entries()) tab.setAttribute("aria-selected", String(i === j));
    this.lower.dataset.tab = i === 0 ? "orders" : "diagram";
    this.onChange(i);
  }
}
