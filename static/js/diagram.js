// The space-time (Lamport) diagram: the two services as lifelines, virtual time running
// across, every message an arrow from its send to its arrival (request solid, reply
// dashed). A lost message ends mid-air in a cross where and when it was lost; a message
// forgotten in a crash ends on the receiver's lifeline with the crash mark; the receiver's
// downtime is a hatched band; state changes and the sender's timeouts are labelled ticks;
// a flag marks where an order's two states parted.
//
// Data: the events the loop has applied (frame()), or add() (benchmark, tests), kept in
// typed columns appended in seq order, so times and message ids are sorted and the window
// is found by binary search. A new run clears them; a snapshot of an earlier moment of the
// same run (the timeline) keeps them and draws them as of that moment.
// Level of detail: beyond DENSE arrows per pixel column, messages become density bands
// binned per column from sorted time indexes (the cost follows the columns, not the
// events); what stays readable (losses, flags, the highlight) is still drawn one by one.
// A canvas in logical units (root font size / 18, as the stage); the same drawing code
// writes SVG for the export. Linked through the view state's highlight, both ways.
import * as i18n from "./i18n.js";
import { esc, fmtInt } from "./words.js";

const LEGS = ["request", "reply"];
const KINDS = ["OrderCreated", "CreditReserved", "InsufficientCredit", "MetricSample"];
// fates of a message
const [FLIGHT, DELIVERED, LOST, FORGOTTEN, IGNORED, DOWN] = [0, 1, 2, 3, 4, 5];
const FATES = ["in-flight", "delivered", "lost", "forgotten", "ignored", "lost-receiver-down"];
// marks: ticks on a lifeline (type, the words after "#id", on the receiver's lifeline?)
const [M_NEW, M_APPROVED, M_CANCELLED, M_RESERVED, M_REFUSED, M_TIMEOUT, M_CRASH, M_RESTART, M_IGNORED] =
  [0, 1, 2, 3, 4, 5, 6, 7, 8];
const MARKS = ["new", "approved", "cancelled", "credit-reserved", "credit-refused", "timeout", "crash", "restart", "reply-ignored"];
const MARK_WORDS = [i18n.t("state.new"), i18n.t("state.approved"), i18n.t("state.cancelled"), i18n.t("diagram.credit-reserved"),
  i18n.t("diagram.refused"), i18n.t("diagram.timeout"), "", "", i18n.t("diagram.reply-ignored")];
// a message's fate in words (the SVG's tooltips), by FATES index
const FATE_WORDS = [i18n.t("judgement.in-flight"), i18n.t("diagram.fate-delivered"), i18n.t("diagram.fate-lost"),
  i18n.t("diagram.fate-forgotten"), i18n.t("diagram.fate-ignored"), i18n.t("diagram.fate-lost-down")];
const ON_RECEIVER = [0, 0, 0, 1, 1, 0, 1, 1, 0];
const MARK_OF = {
  "order-created": M_NEW, "credit-reserved": M_RESERVED, "credit-refused": M_REFUSED, "sender-timeout": M_TIMEOUT,
  "receiver-crashed": M_CRASH, "receiver-restarted": M_RESTART, "reply-ignored": M_IGNORED,
};

const INK = "#0f172a";
const MUTED = "#475569";
const GHOST = "#64748b"; // the original run under a fork
const BAD = "#c1121f";
const WARN = "#92400e";
const GOOD = "#0f7a3a";
const BLUE = "#1d4ed8";
const FOCUS = "#facc15";
const KIND_COLOR = [BLUE, GOOD, "#b45309", MUTED];
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const F_LABEL = `600 13px ${FONT}`;
const F_BOLD = `700 13px ${FONT}`;
const F_NAME = `700 14px ${FONT}`;
const ON_WHITE = "rgba(255,255,255,0.85)";

const GUTTER = 88; // the lifelines' names, logical units
const DENSE = 2; // more arrows than this per pixel column in view: density bands
const MAX_CROSSES = 400; // losses in view drawn one by one up to this many
const MAX_FLAGS = 60; // flags in view drawn one by one up to this many; beyond, a tick per column
const MAX_LABELS = 60; // arrows (or marks) in view labelled up to this many
const MIN_SPAN = 0.02;
const START_SPAN = 12;
const ZOOM_STEP = 1.6;

// ------------------------------------------------------------------ compact storage

/** Growable typed columns, one row per record: c[name][row]. */
class Cols {
  constructor(spec) {
    this.spec = spec;
    this.n = 0;
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

/** A sorted, growable list of times with a row each: an index for the density bands. */
class Times extends Cols {
  constructor() {
    super({ t: Float64Array, row: Int32Array });
  }

  add(t, row) {
    let i = this.push();
    const { t: a, row: r } = this.c;
    for (; i > 0 && a[i - 1] > t; i--) { // events come in time order: an append but for ties
      a[i] = a[i - 1];
      r[i] = r[i - 1];
    }
    a[i] = t;
    r[i] = row;
  }
}

/** First i in [from, n) with a[i] >= v (a sorted), galloping from `from`. */
function lowerBound(a, n, v, from = 0) {
  let lo = from;
  let hi = from;
  for (let step = 1; hi < n && a[hi] < v; step *= 2) {
    lo = hi + 1;
    hi += step;
  }
  hi = Math.min(hi, n);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First i with a[i] > v. */
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

/** Counts of the sorted times a[0..n) in each of `cols` columns of [t0, t0 + span), the first
 *  `upto` of them (the rest 0): O(cols log n), whatever n. */
function binCounts(a, n, t0, span, cols, upto, out) {
  let i = lowerBound(a, n, t0);
  for (let b = 0; b < cols; b++) {
    const j = b < upto ? lowerBound(a, n, t0 + ((b + 1) * span) / cols, i) : i;
    out[b] = j - i;
    i = j;
  }
  return out;
}

const r2 = (x) => Math.round(x * 100) / 100;

// ------------------------------------------------------------------ painters
// The drawing code speaks to a painter: the canvas one batches each style into one path,
// the SVG one writes elements (one line per arrow, with a title) for the export.

class CanvasPainter {
  constructor(ctx) {
    this.ctx = ctx;
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
    const { ctx: c, st } = this;
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
    this.ctx.save();
    this.ctx.beginPath();
    this.ctx.rect(x, y, w, h);
    this.ctx.clip();
  }

  unclip() {
    this.ctx.restore();
  }

  hatch() {
    if (!this.pattern) {
      const p = document.createElement("canvas");
      p.width = p.height = 8;
      const g = p.getContext("2d");
      g.fillStyle = "#fee2e2";
      g.fillRect(0, 0, 8, 8);
      g.strokeStyle = BAD;
      g.lineWidth = 2;
      g.stroke(new Path2D("M-2 10L10 -2M-2 2L2 -2M6 10L10 6"));
      this.pattern = this.ctx.createPattern(p, "repeat");
    }
    return this.pattern;
  }

  text(s, x, y, o = {}) {
    const c = this.ctx;
    c.font = o.font || F_LABEL;
    c.textAlign = o.align || "left";
    c.textBaseline = "middle";
    if (o.bg) {
      const w = c.measureText(s).width;
      c.fillStyle = o.bg;
      c.fillRect((o.align === "center" ? x - w / 2 : x) - 2, y - 8, w + 4, 16);
    }
    c.fillStyle = o.color || INK;
    c.fillText(s, x, y);
  }

  measure(s, font) {
    this.ctx.font = font || F_LABEL;
    return this.ctx.measureText(s).width;
  }
}

class SvgPainter extends CanvasPainter {
  constructor(ctx) {
    super(ctx); // measures text with the canvas
    this.out = [];
    this.clips = 0;
  }

  begin(st) {
    this.st = st;
    this.d = [];
    const stroke = st.stroke ? ` stroke="${st.stroke}" stroke-width="${st.width || 1}"${st.dash ? ` stroke-dasharray="${st.dash.join(" ")}"` : ""}` : "";
    const fill = st.fill === "hatch" ? "url(#hatch)" : st.fill || "none";
    const alpha = st.alpha !== undefined ? ` opacity="${r2(st.alpha)}"` : "";
    this.out.push(`<g class="${st.cls || ""}"${stroke} fill="${fill}"${alpha}>`);
  }

  m(x, y) {
    this.d.push(`M${r2(x)} ${r2(y)}`);
  }

  l(x, y) {
    this.d.push(`L${r2(x)} ${r2(y)}`);
  }

  seg(x0, y0, x1, y1, title) {
    if (title === undefined) this.d.push(`M${r2(x0)} ${r2(y0)}L${r2(x1)} ${r2(y1)}`);
    else this.out.push(`<line class="${this.st.item}" x1="${r2(x0)}" y1="${r2(y0)}" x2="${r2(x1)}" y2="${r2(y1)}"><title>${esc(title)}</title></line>`);
  }

  rect(x, y, w, h) {
    this.d.push(`M${r2(x)} ${r2(y)}h${r2(w)}v${r2(h)}h${r2(-w)}Z`);
  }

  z() {
    this.d.push("Z");
  }

  end() {
    if (this.d.length) this.out.push(`<path d="${this.d.join("")}"/>`);
    this.out.push("</g>");
  }

  clip(x, y, w, h) {
    const id = `plot${++this.clips}`;
    this.out.push(`<clipPath id="${id}"><rect x="${r2(x)}" y="${r2(y)}" width="${r2(w)}" height="${r2(h)}"/></clipPath><g clip-path="url(#${id})">`);
  }

  unclip() {
    this.out.push("</g>");
  }

  text(s, x, y, o = {}) {
    const [weight, size] = (o.font || F_LABEL).split(" ");
    if (o.bg) {
      const w = this.measure(s, o.font);
      this.out.push(`<rect x="${r2((o.align === "center" ? x - w / 2 : x) - 2)}" y="${r2(y - 8)}" width="${r2(w + 4)}" height="16" fill="${o.bg}"/>`);
    }
    const anchor = o.align === "center" ? "middle" : o.align === "right" ? "end" : "start";
    this.out.push(`<text x="${r2(x)}" y="${r2(y)}" font-size="${parseFloat(size)}" font-weight="${weight}" text-anchor="${anchor}" dominant-baseline="central" fill="${o.color || INK}">${esc(s)}</text>`);
  }

  svg(w, h, title) {
    return `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${r2(w)}" height="${r2(h)}" viewBox="0 0 ${r2(w)} ${r2(h)}" font-family="system-ui, sans-serif">\n<title>${esc(title)}</title>\n` +
      `<defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse"><rect width="8" height="8" fill="#fee2e2"/><path d="M-2 10L10 -2M-2 2L2 -2M6 10L10 6" stroke="${BAD}" stroke-width="2"/></pattern></defs>\n` +
      `${this.out.join("\n")}\n</svg>\n`;
  }
}

// ------------------------------------------------------------------ the diagram

export class Diagram {
  /**
   * @param {object} o canvas, plot (the canvas's box), summary (words for screen readers),
   *   buttons {follow, zoomIn, zoomOut, svg, png}, store, view (ViewState), getRun() (the
   *   server's run number: another one clears the history), onPick(seq) (an arrow or mark
   *   was clicked: pin that event in the log; false if the log has it no more), isShown(),
   *   show() (bring the diagram on screen: its tab), onRunKind(metrics) (a metrics run or not)
   */
  constructor(o) {
    Object.assign(this, { getRun: () => null, onPick: () => false, isShown: () => true, show() {}, onRunKind() {}, buttons: {} }, o);
    this.ctx = this.canvas.getContext("2d");
    this.painter = new CanvasPainter(this.ctx);
    this.stats = { draws: 0, drawMs: 0 };
    this.drawn = { arrows: new Int32Array(4096), marks: new Int32Array(4096), flags: new Int32Array(256) };
    this.nDrawn = { arrows: 0, marks: 0, flags: 0 };
    this.run = undefined;
    this.metricsMode = null;
    this.clear();
    this.span = START_SPAN;
    this.t0 = 0;
    this.follow = true; // keep the newest moment in view
    this.now = 0;
    this.hover = null; // {hl, before}: the highlight set on hover and the one it replaced
    this.hlKey = "";
    this.resize();
    new ResizeObserver(() => this.resize()).observe(this.plot);
    this.bindPointer();
    this.bindKeys();
    const b = this.buttons;
    for (const [el, fn] of [[b.follow, () => this.end()], [b.zoomIn, () => this.zoom(ZOOM_STEP)],
      [b.zoomOut, () => this.zoom(1 / ZOOM_STEP)], [b.svg, () => this.download("svg")], [b.png, () => this.download("png")]]) {
      if (el) el.addEventListener("click", (ev) => {
        fn();
        if (ev.detail > 0) el.blur(); // a mouse click: the page's keys stay the presenter's
      });
    }
  }

  clear() {
    this.msgs = new Cols({
      send: Float64Array, arr: Float64Array, end: Float64Array, at: Float32Array, seq: Float64Array,
      id: Float64Array, order: Float64Array, leg: Uint8Array, kind: Uint8Array, fate: Uint8Array,
    });
    this.marks = new Cols({ t: Float64Array, seq: Float64Array, order: Float64Array, msg: Float64Array, type: Uint8Array });
    this.bands = new Cols({ from: Float64Array, to: Float64Array, seq: Float64Array });
    this.flags = new Cols({ t: Float64Array, pos: Float32Array, seq: Float64Array, order: Float64Array, msg: Float64Array });
    // Time indexes: sends per leg, losses, marks and alarms (timeouts, crashes) per lifeline.
    this.ix = { send: [new Times(), new Times()], lost: new Times(), mark: [new Times(), new Times()], alarm: [new Times(), new Times()] };
    this.open = new Map(); // msg id -> row of a message still on its leg
    this.causes = new Map(); // seq -> [t, pos, msg] of events an order's divergence may begin at
    this.orderBase = -1; // the order id of row 0 of the per-order index
    this.oReq = new Int32Array(1024); // row + 1 of an order's OrderCreated (0: none)
    this.oRep = new Int32Array(1024);
    this.oFlag = new Float64Array(1024).fill(NaN); // when its states parted
    this.maxDur = 0; // the longest message so far, s
    this.firstT = null;
    this.lastT = 0;
    this.lastSeq = 0;
    this.storeSeq = 0;
    this.past = false; // the store shows an earlier moment than the history holds
    this.model = null;
    this.dirty = true;
  }

  // ---------------------------------------------------------------- input

  /** Per frame: the display time t and the events the store applied (or null). */
  frame(t, applied) {
    const run = this.getRun();
    if (run !== this.run) {
      // A fork of the run drawn so far ("Run from here"): the original stays, ghosted
      // under the fork from the moment they part, so the two can be compared.
      const fork = this.store.forkedFrom;
      this.ghost = fork && fork.run === this.run && this.msgs.n ? this.ghostOf(fork) : null;
      const legend = document.getElementById("diagram-ghost");
      if (legend) {
        legend.hidden = !this.ghost;
        if (this.ghost) legend.textContent = i18n.t("diagram.ghost", { run: this.ghost.run, t: `${i18n.fmtFixed(this.ghost.at, 2)} s` });
      }
      this.run = run;
      this.clear();
      this.span = START_SPAN;
      this.follow = true;
      // a run joined midway: what is on the wire is drawn from its send
      this.add([...this.store.tokens.values()].sort((a, b) => a.msg - b.msg).map((m) => ({ type: "message-sent", t: m.sent_at, ...m })));
    }
    if (applied) this.add(applied);
    const seq = this.store.appliedSeq;
    if (seq < this.storeSeq && seq < this.lastSeq) this.past = true; // an earlier moment is shown
    else if (seq >= this.lastSeq) this.past = false;
    this.storeSeq = seq;
    const metrics = this.store.metricsRun();
    if (metrics !== this.metricsMode) this.onRunKind((this.metricsMode = metrics));
    if (t !== this.now) {
      this.now = t;
      if (this.follow || this.past) this.dirty = true;
    }
    this.draw();
  }

  /** Record engine events (in seq order, as the page applies them). */
  add(events) {
    for (const e of events) this.addOne(e);
    this.dirty = true;
  }

  addOne(e) {
    if (e.seq) {
      if (e.seq <= this.lastSeq) return; // had it already
      this.lastSeq = e.seq;
    }
    if (this.firstT === null) this.firstT = e.t;
    if (e.t > this.lastT) this.lastT = e.t;
    const c = this.msgs.c;
    let i = this.open.get(e.msg);
    switch (e.type) {
      case "message-sent": {
        i = this.msgs.push(); // (c is the same object after a growth: its arrays are replaced)
        const leg = e.leg === "reply" ? 1 : 0;
        c.send[i] = e.sent_at ?? e.t;
        c.arr[i] = c.end[i] = e.arrives_at ?? e.t;
        c.at[i] = 1;
        c.seq[i] = e.seq || 0;
        c.id[i] = e.msg;
        c.order[i] = e.order || 0;
        c.leg[i] = leg;
        c.kind[i] = Math.max(0, KINDS.indexOf(e.kind));
        c.fate[i] = FLIGHT;
        this.open.set(e.msg, i);
        this.ix.send[leg].add(c.send[i], i);
        if (e.order) this.setOrder(leg ? "oRep" : "oReq", e.order, i + 1);
        this.maxDur = Math.max(this.maxDur, c.arr[i] - c.send[i]);
        break;
      }
      case "message-delivered":
      case "message-lost":
        if (e.type === "message-lost") this.cause(e, e.leg === "reply" ? 1 - (e.at ?? 1) : e.at ?? 1);
        if (i === undefined) break;
        this.open.delete(e.msg);
        c.end[i] = e.t;
        c.fate[i] = e.type === "message-delivered" ? DELIVERED : e.reason === "receiver-down" ? DOWN : LOST;
        if (c.fate[i] !== DELIVERED) {
          c.at[i] = e.at ?? 1;
          this.ix.lost.add(e.t, i);
        }
        break;
      case "message-forgotten":
      case "reply-ignored":
        i = this.rowOf(e.msg);
        if (i >= 0) c.fate[i] = e.type === "reply-ignored" ? IGNORED : FORGOTTEN;
        if (e.type === "reply-ignored") this.mark(e, M_IGNORED);
        else this.cause(e, 1);
        break;
      case "order-state-changed":
        this.mark(e, e.to === "cancelled" ? M_CANCELLED : M_APPROVED);
        break;
      case "receiver-crashed": {
        const b = this.bands.push();
        const B = this.bands.c;
        [B.from[b], B.to[b], B.seq[b]] = [e.t, e.restarts_at ?? e.t, e.seq || 0];
        this.cause(e, 1);
        this.mark(e, M_CRASH);
        break;
      }
      case "order-diverged":
        this.flag(e);
        break;
      default:
        if (e.type in MARK_OF) {
          this.mark(e, MARK_OF[e.type]);
          if (e.type === "sender-timeout") this.cause({ ...e, msg: 0 }, 0);
        }
    }
  }

  mark(e, type) {
    const i = this.marks.push();
    const c = this.marks.c;
    [c.t[i], c.seq[i], c.order[i], c.msg[i], c.type[i]] = [e.t, e.seq || 0, e.order || 0, e.msg || 0, type];
    const side = ON_RECEIVER[type];
    this.ix.mark[side].add(e.t, i);
    if (type === M_CRASH || type === M_TIMEOUT) this.ix.alarm[side].add(e.t, i);
  }

  /** An event an order's divergence may begin at: where (pos: 0 sender .. 1 receiver) and when. */
  cause(e, pos) {
    if (!e.seq) return;
    this.causes.set(e.seq, [e.t, pos, e.msg || 0]);
    if (this.causes.size > 20000) this.causes = new Map([...this.causes].slice(-10000));
  }

  flag(e) {
    const j = this.orderRow(e.order);
    if (!e.order || (j >= 0 && j < this.oFlag.length && !Number.isNaN(this.oFlag[j]))) return; // flagged (the kind changed)
    const [t, pos, msg] = this.causes.get(e.diverged_at_seq) || [e.t, 0.5, 0];
    const F = this.flags;
    let i = F.push();
    const c = F.c;
    for (; i > 0 && c.t[i - 1] > t; i--) for (const a of Object.values(c)) a[i] = a[i - 1]; // kept sorted by time
    [c.t[i], c.pos[i], c.seq[i], c.order[i], c.msg[i]] = [t, pos, e.diverged_at_seq || 0, e.order, msg];
    this.setOrder("oFlag", e.order, t);
  }

  orderRow(order) {
    return this.orderBase < 0 ? -1 : order - this.orderBase;
  }

  /** The per-order index: this[name][order - base] = value. */
  setOrder(name, order, value) {
    if (this.orderBase < 0) this.orderBase = order;
    const j = order - this.orderBase;
    if (j < 0) return;
    if (j >= this.oReq.length) {
      let n = this.oReq.length;
      while (n <= j) n *= 2;
      for (const k of ["oReq", "oRep", "oFlag"]) {
        const a = new this[k].constructor(n).fill(k === "oFlag" ? NaN : 0);
        a.set(this[k]);
        this[k] = a;
      }
    }
    this[name][j] = value;
  }

  /** The row of message `id` (ids grow with the rows), or -1. */
  rowOf(id) {
    const { n, c } = this.msgs;
    const i = lowerBound(c.id, n, id);
    return i < n && c.id[i] === id ? i : -1;
  }

  // ---------------------------------------------------------------- the window

  resize() {
    const r = this.plot.getBoundingClientRect();
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    this.k = Math.max(0.5, (parseFloat(getComputedStyle(document.documentElement).fontSize) || 18) / 18);
    this.dpr = dpr;
    this.cssW = Math.max(1, r.width);
    this.cssH = Math.max(1, r.height);
    this.w = this.cssW / this.k;
    this.h = this.cssH / this.k;
    this.canvas.width = Math.round(this.cssW * dpr);
    this.canvas.height = Math.round(this.cssH * dpr);
    Object.assign(this.canvas.style, { width: `${this.cssW}px`, height: `${this.cssH}px` });
    const tight = this.h < 190;
    this.x0 = GUTTER;
    this.x1 = Math.max(GUTTER + 20, this.w - 12);
    this.ySend = tight ? 34 : 42;
    this.yRecv = Math.max(this.ySend + 40, this.h - (tight ? 40 : 46));
    this.yAxis = this.h - 20;
    this.dirty = true;
  }

  /** The moment drawn as now: the display time (or the newest event, for events added by hand). */
  now_() {
    return this.past ? this.now : Math.max(this.now, this.lastT);
  }

  start() {
    return Math.min(0, this.firstT ?? 0);
  }

  /** The window [t0, t1] drawn now. */
  windowNow() {
    if (this.follow) this.t0 = Math.max(this.start() + this.span, this.now_() + this.span * 0.04) - this.span;
    return [this.t0, this.t0 + this.span];
  }

  X(t) {
    return this.x0 + ((t - this.t0) / this.span) * (this.x1 - this.x0);
  }

  T(x) {
    return this.t0 + ((x - this.x0) / (this.x1 - this.x0)) * this.span;
  }

  /** Zoom by `factor` (> 1: in) around time `at` (default: the middle, or now when following). */
  zoom(factor, at) {
    const [t0, t1] = this.windowNow();
    const span = Math.min(Math.max(START_SPAN * 2, (this.now_() - this.start()) * 1.25), Math.max(MIN_SPAN, this.span / factor));
    if (!this.follow || at !== undefined) {
      const c = at ?? (t0 + t1) / 2;
      this.t0 = c - ((c - t0) / (t1 - t0)) * span;
    }
    this.span = span;
    this.clampPan();
  }

  /** Move the window by dt seconds: following stops (and starts again at now). */
  pan(dt) {
    this.windowNow();
    this.t0 += dt;
    this.follow = false;
    this.clampPan();
  }

  clampPan() {
    const lo = this.start() - this.span * 0.5;
    if (this.t0 < lo) this.t0 = lo;
    else if (!this.follow && this.t0 + this.span >= this.now_() + this.span * 0.04) this.follow = true; // panned to now
    this.changed();
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

  /** Show [t0, t0 + span] (tests and the benchmark). */
  setView(t0, span) {
    this.follow = false;
    this.span = Math.max(MIN_SPAN, span);
    this.t0 = t0;
    this.changed();
  }

  changed() {
    this.dirty = true;
    if (this.buttons.follow) this.buttons.follow.setAttribute("aria-pressed", String(this.follow));
  }

  /** Bring the diagram on screen at where order `id`'s states parted (or its first
   *  message), and highlight it; returns that time, or null. `show: false` moves the
   *  diagram there without switching to its tab (an order chosen in the table). */
  reveal(id, { show = true } = {}) {
    const j = this.orderRow(id);
    let t = j >= 0 && j < this.oFlag.length ? this.oFlag[j] : NaN;
    if (Number.isNaN(t) && j >= 0 && this.oReq[j]) t = this.msgs.c.send[this.oReq[j] - 1];
    if (Number.isNaN(t) || j < 0) return null;
    if (show) this.show();
    if (this.span > 60) this.span = START_SPAN;
    this.follow = false;
    this.t0 = Math.max(this.start() - this.span * 0.5, t - this.span / 2);
    this.view.highlight = { msg: null, order: id, seq: null };
    this.changed();
    return t;
  }

  // ---------------------------------------------------------------- interaction

  bindPointer() {
    const cv = this.canvas;
    const pts = new Map(); // pointerId -> [x, y]
    let drag = null; // {moved} or {pinch: {d, span, t}}
    const local = (ev) => {
      const r = cv.getBoundingClientRect();
      return [(ev.clientX - r.left) / this.k, (ev.clientY - r.top) / this.k];
    };
    cv.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const unit = ev.deltaMode === 1 ? 16 : 1;
      const [dx, dy] = [ev.deltaX * unit, ev.deltaY * unit];
      if (ev.shiftKey || Math.abs(dx) > Math.abs(dy)) this.pan(((ev.shiftKey ? dy : dx) / (this.x1 - this.x0)) * this.span);
      else this.zoom(Math.exp(-dy * 0.0015), this.follow ? undefined : this.T(local(ev)[0]));
    }, { passive: false });
    cv.addEventListener("pointerdown", (ev) => {
      cv.setPointerCapture(ev.pointerId);
      pts.set(ev.pointerId, local(ev));
      this.windowNow();
      const [a, b] = [...pts.values()];
      drag = b ? { pinch: { d: Math.abs(a[0] - b[0]) || 1, span: this.span, t: this.T((a[0] + b[0]) / 2) }, moved: 99 } : { moved: 0 };
    });
    cv.addEventListener("pointermove", (ev) => {
      const [x, y] = local(ev);
      const p = pts.get(ev.pointerId);
      if (!p) return this.setHover(this.highlightOf(this.hit(x, y)));
      const dx = x - p[0];
      pts.set(ev.pointerId, [x, y]);
      const [a, b] = [...pts.values()];
      if (drag && drag.pinch && b) {
        this.follow = false;
        this.span = Math.max(MIN_SPAN, drag.pinch.span * (drag.pinch.d / (Math.abs(a[0] - b[0]) || 1)));
        this.t0 = drag.pinch.t - (((a[0] + b[0]) / 2 - this.x0) / (this.x1 - this.x0)) * this.span;
        this.clampPan();
      } else if (drag && !drag.pinch && (drag.moved += Math.abs(dx)) > 3) {
        cv.style.cursor = "grabbing";
        this.pan((-dx / (this.x1 - this.x0)) * this.span);
      }
    });
    const up = (ev) => {
      if (!pts.delete(ev.pointerId) || pts.size || !drag) return;
      if (drag.moved <= 3 && ev.type === "pointerup") this.pick(...local(ev));
      drag = null;
      cv.style.cursor = "";
    };
    cv.addEventListener("pointerup", up);
    cv.addEventListener("pointercancel", up);
    cv.addEventListener("pointerleave", () => pts.size || this.setHover(null));
  }

  bindKeys() {
    const keys = { "+": () => this.zoom(ZOOM_STEP), "=": () => this.zoom(ZOOM_STEP), "-": () => this.zoom(1 / ZOOM_STEP),
      "_": () => this.zoom(1 / ZOOM_STEP), Home: () => this.home(), End: () => this.end() };
    this.canvas.addEventListener("keydown", (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented || !keys[ev.key]) return;
      ev.preventDefault();
      keys[ev.key]();
    });
  }

  /** What is under (x, y), logical units: {kind: "arrow" | "mark" | "flag", i} or null. */
  hit(x, y) {
    let best = null;
    let bestD = 49;
    const near = (kind, i, d) => {
      if (d < bestD) [best, bestD] = [{ kind, i }, d];
    };
    const { arrows, marks, flags } = this.drawn;
    for (let k = 0; k < this.nDrawn.flags; k++) {
      const [fx, fy] = this.flagPoint(flags[k]);
      near("flag", flags[k], ((x - fx) ** 2 + (y - fy + 14) ** 2) / 3);
    }
    for (let k = 0; k < this.nDrawn.marks; k++) {
      const i = marks[k];
      near("mark", i, (x - this.X(this.marks.c.t[i])) ** 2 + (y - (ON_RECEIVER[this.marks.c.type[i]] ? this.yRecv : this.ySend)) ** 2);
    }
    for (let k = 0; k < this.nDrawn.arrows; k++) {
      const [ax, ay, bx, by] = this.arrowGeom(arrows[k]);
      const [vx, vy] = [bx - ax, by - ay];
      const u = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / (vx * vx + vy * vy || 1)));
      near("arrow", arrows[k], (ax + u * vx - x) ** 2 + (ay + u * vy - y) ** 2);
    }
    return best;
  }

  /** The highlight an item stands for, as the log's: {msg, order, seq}. */
  highlightOf(h) {
    if (!h) return null;
    const { c } = h.kind === "arrow" ? this.msgs : h.kind === "mark" ? this.marks : this.flags;
    const msg = h.kind === "flag" ? 0 : h.kind === "arrow" ? c.id[h.i] : c.msg[h.i];
    return msg ? { msg, order: null, seq: c.seq[h.i] || null } : { msg: null, order: c.order[h.i] || null, seq: c.seq[h.i] || null };
  }

  setHover(hl) {
    const v = this.view;
    this.canvas.style.cursor = hl ? "pointer" : "";
    if (!hl) {
      if (this.hover && v.highlight === this.hover.hl) v.highlight = this.hover.before;
      this.hover = null;
      return;
    }
    if (this.hover && this.hover.hl.msg === hl.msg && this.hover.hl.order === hl.order) return;
    this.hover = { hl, before: this.hover && v.highlight === this.hover.hl ? this.hover.before : v.highlight };
    v.highlight = hl;
  }

  /** A click or tap: pin the item's event in the log, as a click there does. */
  pick(x, y) {
    const hl = this.highlightOf(this.hit(x, y));
    this.hover = null;
    if (hl && !(hl.seq && this.onPick(hl.seq))) this.view.highlight = hl;
  }

  // ---------------------------------------------------------------- geometry

  /** The fate of message row i as of now (one that ends later is still on its leg). */
  fate(i, now = this.now_()) {
    return this.msgs.c.end[i] > now ? FLIGHT : this.msgs.c.fate[i];
  }

  /** An arrow's ends [x0, y0, x1, y1] as drawn (one still on its leg ends at now). */
  arrowGeom(i) {
    const c = this.msgs.c;
    const now = this.now_();
    const s = c.send[i];
    let [e, f] = [c.end[i], c.fate[i] === LOST ? c.at[i] : 1];
    if (e > now) [e, f] = [now, Math.max(0, (now - s) / (c.arr[i] - s || 1))];
    const [ya, yb] = c.leg[i] ? [this.yRecv, this.ySend] : [this.ySend, this.yRecv];
    return [this.X(s), ya, this.X(e), ya + (yb - ya) * f];
  }

  flagPoint(i) {
    return [this.X(this.flags.c.t[i]), this.ySend + (this.yRecv - this.ySend) * this.flags.c.pos[i]];
  }

  arrowLabel(i) {
    const c = this.msgs.c;
    return c.kind[i] === 3 ? `MetricSample ${fmtInt(c.id[i])}` : `${KINDS[c.kind[i]]} #${c.order[i]}`;
  }

  markLabel(i) {
    const { type, order } = this.marks.c;
    return type[i] === M_CRASH ? `⚡ ${i18n.t("diagram.crash")}` : type[i] === M_RESTART ? `↻ ${i18n.t("diagram.up")}` : `#${order[i]} ${MARK_WORDS[type[i]]}`;
  }

  /** The original run's messages and flags after the fork's moment, kept to be ghosted. */
  ghostOf(fork) {
    const c = this.msgs.c;
    const at = fork.t;
    const rows = [];
    for (let i = 0; i < this.msgs.n; i++) {
      if (c.send[i] > at || (c.send[i] === at && c.seq[i] > fork.seq)) {
        rows.push({ send: c.send[i], end: c.end[i], arr: c.arr[i], at: c.at[i], leg: c.leg[i], fate: c.fate[i] });
      }
    }
    const flags = [];
    const F = this.flags.c;
    for (let i = 0; i < this.flags.n; i++) if (F.seq[i] > fork.seq) flags.push({ t: F.t[i], pos: F.pos[i], order: F.order[i] });
    return { run: this.run, at, rows, flags };
  }

  /** The original run under a fork: its messages from the fork's moment on, in grey, dashed,
   *  losses crossed, flags outlined; a caption says what it is. Canvas only. */
  drawGhost() {
    const g = this.ghost;
    if (!g || (!g.rows.length && !g.flags.length)) return 0;
    const ctx = this.ctx;
    const [t0, t1] = this.windowNow();
    const { x0, x1, ySend, yRecv, h } = this;
    let n = 0;
    ctx.save();
    ctx.beginPath();
    ctx.rect(x0 - 8, 0, x1 - x0 + 16, h);
    ctx.clip();
    ctx.globalAlpha = 0.55;
    ctx.strokeStyle = GHOST;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([2, 3]);
    ctx.beginPath();
    const crosses = [];
    for (const r of g.rows) {
      if (r.end < t0 || r.send > t1) continue;
      const f = r.fate === LOST ? r.at : 1;
      const [ya, yb] = r.leg ? [yRecv, ySend] : [ySend, yRecv];
      const [xa, xb, yEnd] = [this.X(r.send), this.X(r.end), ya + (yb - ya) * f];
      ctx.moveTo(xa, ya + (r.leg ? -3 : 3));
      ctx.lineTo(xb, yEnd + (r.leg ? -3 : 3));
      if (r.fate === LOST) crosses.push([xb, yEnd]);
      n++;
    }
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (const [x, y] of crosses) {
      ctx.moveTo(x - 4, y - 4);
      ctx.lineTo(x + 4, y + 4);
      ctx.moveTo(x - 4, y + 4);
      ctx.lineTo(x + 4, y - 4);
    }
    for (const fl of g.flags) {
      if (fl.t < t0 || fl.t > t1) continue;
      const [x, y] = [this.X(fl.t), ySend + (yRecv - ySend) * fl.pos];
      ctx.moveTo(x, y);
      ctx.lineTo(x, y - 20);
      ctx.lineTo(x + 11, y - 16);
      ctx.lineTo(x, y - 12);
    }
    ctx.stroke();
    ctx.globalAlpha = 1;
    const gx = this.X(g.at);
    if (gx >= x0 && gx <= x1) {
      ctx.strokeStyle = GHOST;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(gx, ySend - 14);
      ctx.lineTo(gx, yRecv + 14);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.restore();
    return n;
  }

  // ---------------------------------------------------------------- drawing

  draw(force = false) {
    const hl = this.view.highlight;
    const key = hl ? `${hl.msg}|${hl.order}|${hl.seq}` : "";
    if (key !== this.hlKey) [this.hlKey, this.dirty] = [key, true];
    if (!force && (!this.dirty || !this.isShown())) return;
    if (Math.abs(this.plot.clientWidth - this.cssW) > 1) this.resize();
    const started = performance.now();
    this.dirty = false;
    this.ctx.setTransform(this.dpr * this.k, 0, 0, this.dpr * this.k, 0, 0);
    this.render(this.painter, true);
    if (this.model) this.model.ghostArrows = this.drawGhost();
    this.stats.draws++;
    this.stats.drawMs += performance.now() - started;
    this.summarize();
  }

  /** The window, drawn with painter p; `live`: on the canvas (what is drawn is kept for the
   *  pointer and items()), else an export. */
  render(p, live) {
    const [t0, t1] = this.windowNow();
    const { x0, x1, ySend, yRecv, yAxis, w, h, span } = this;
    const { n: nMsgs, c: mc } = this.msgs;
    const now = this.now_();
    const tEnd = Math.min(t1, now); // nothing after now is drawn
    const plotPx = (x1 - x0) * this.k;
    const cols = Math.max(1, Math.floor(plotPx));
    const upto = Math.max(0, Math.min(cols, Math.ceil(((now - t0) / span) * cols)));
    const colW = (x1 - x0) / cols;
    const mid = (ySend + yRecv) / 2;
    const bins = (k, a, n) => binCounts(a, n, t0, span, cols, upto, this.bins(k, cols));
    const binsOf = (k, ix) => bins(k, ix.c.t, ix.n);
    const model = { t0, t1, span, follow: this.follow, now, aggregated: false, arrows: 0, density: null, lostRows: [], markRows: [], flagRows: [], bands: [] };
    const keep = (what, i) => {
      if (live && this.nDrawn[what] < this.drawn[what].length) this.drawn[what][this.nDrawn[what]++] = i;
    };
    if (live) this.nDrawn = { arrows: 0, marks: 0, flags: 0 };
    const path = (st, fn) => {
      p.begin(st);
      fn();
      p.end();
    };
    // Text is placed last, the most important first; one that would cross one already
    // placed is left out (what it names is still drawn). Kept inside the plot.
    const boxes = [];
    const queue = []; // [priority, text, x, y, options]
    const label = (s, x, y, o = {}, prio = 5) => queue.push([prio, s, x, y, o]);
    const place = ([, s, x, y, o]) => {
      const wd = p.measure(s, o.font);
      const bx = Math.max(x0 + 2, Math.min(x1 - wd - 2, o.align === "center" ? x - wd / 2 : o.align === "right" ? x - wd : x));
      const box = [bx - 2, y - 8, bx + wd + 2, y + 8];
      if (boxes.some((b) => box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3])) return;
      boxes.push(box);
      p.text(s, bx, y, { ...o, align: "left" });
    };

    path({ fill: "#ffffff" }, () => p.rect(0, 0, w, h));
    // the time axis, ticks at a round step at least 70 units apart
    const least = (70 * span) / (x1 - x0);
    const mag = 10 ** Math.floor(Math.log10(least));
    const step = [1, 2, 5, 10].map((f) => f * mag).find((st) => st >= least);
    const first = Math.ceil(t0 / step) * step;
    const ticks = [];
    for (let t = first; t <= t1 + 1e-9; t += step) ticks.push(t);
    path({ stroke: "#cbd5e1", cls: "grid" }, () => ticks.forEach((t) => p.seg(this.X(t), ySend - 6, this.X(t), yAxis)));
    path({ stroke: MUTED, cls: "axis" }, () => p.seg(x0, yAxis, x1, yAxis));
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    for (const t of ticks) label(`${i18n.fmtFixed(t, decimals)} s`, this.X(t), yAxis + 9, { align: "center", color: MUTED }, 6);

    p.clip(x0 - 8, 0, x1 - x0 + 16, h); // what is drawn against time stays in the plot
    // the receiver's downtimes: hatched bands on its lifeline (merged below half a unit)
    const B = this.bands.c;
    path({ fill: "hatch", stroke: BAD, cls: "downtime" }, () => {
      let lastX = -1e9;
      for (let i = Math.max(0, upperBound(B.from, this.bands.n, t0 - 3600) - 1); i < this.bands.n && B.from[i] <= tEnd; i++) {
        const to = Math.min(B.to[i], now);
        if (to < t0 || this.X(to) - lastX < 0.5) continue;
        const bx = Math.max(x0, this.X(B.from[i]));
        lastX = this.X(to);
        p.rect(bx, yRecv - 7, Math.max(1.5, lastX - bx), 14);
        model.bands.push({ from: B.from[i], to: B.to[i], seq: B.seq[i] });
      }
    });
    path({ stroke: BLUE, width: 3, cls: "lifeline sender" }, () => p.seg(x0, ySend, x1, ySend));
    path({ stroke: GOOD, width: 3, cls: "lifeline receiver" }, () => p.seg(x0, yRecv, x1, yRecv));
    const gutter = [[i18n.t("diagram.sender-1"), ySend - 8, BLUE], [i18n.t("diagram.sender-2"), ySend + 8, BLUE],
      [i18n.t("diagram.receiver-1"), yRecv - 8, GOOD], [i18n.t("diagram.receiver-2"), yRecv + 8, GOOD]]
      .map(([s, y, color]) => [s, 6, y, { font: F_NAME, color }]);
    if (now >= t0 && now <= t1) {
      path({ stroke: INK, width: 1.5, dash: [3, 3], cls: "now" }, () => p.seg(this.X(now), 4, this.X(now), yAxis));
      label(i18n.t("timeline.now"), this.X(now), 8, { align: "center", font: F_BOLD }, 0);
    }

    // messages: the rows sent in [t0 - the longest, now]
    const lo = lowerBound(mc.send, nMsgs, t0 - this.maxDur - 1e-9);
    const hi = upperBound(mc.send, nMsgs, tEnd);
    const L = this.ix.lost;
    let lostRows = [];
    let lostInView = 0;
    if (hi - lo > plotPx * DENSE) {
      // density bands per pixel column: sent per leg (by send time), lost (by loss time)
      model.aggregated = true;
      const third = (yRecv - ySend) / 3;
      const lLo = lowerBound(L.c.t, L.n, t0);
      lostInView = upperBound(L.c.t, L.n, tEnd) - lLo;
      if (lostInView <= MAX_CROSSES) lostRows = Array.from(L.c.row.subarray(lLo, lLo + lostInView));
      const strip = (counts, y, color, cls) => {
        // eight levels of opacity by the square root of the count, one path each
        const max = counts.reduce((a, b) => Math.max(a, b), 0);
        const level = counts.map((n) => (n ? Math.max(1, Math.ceil(Math.sqrt(n / max) * 8)) : 0));
        for (const lvl of new Set(level)) {
          if (lvl) path({ fill: color, alpha: 0.12 + (0.88 * lvl) / 8, cls }, () => level.forEach((l, b) => l === lvl && p.rect(x0 + b * colW, y, colW + 0.05, third - 8)));
        }
      };
      const [req, rep] = [binsOf(0, this.ix.send[0]), binsOf(1, this.ix.send[1])];
      strip(req, ySend + 6, BLUE, "density request");
      strip(rep, yRecv - third + 2, GOOD, "density reply");
      gutter.push(["requests →", 6, ySend + third / 2 + 2, { color: MUTED }], ["← replies", 6, yRecv - third / 2 - 2, { color: MUTED }]);
      if (lostInView > MAX_CROSSES) {
        strip(binsOf(2, L), mid - third / 2 + 4, BAD, "density lost");
        gutter.push(["✗ lost", 6, mid + 2, { font: F_BOLD, color: BAD }]);
      }
      model.density = { columns: cols, sent: req.reduce((a, b) => a + b, 0) + rep.reduce((a, b) => a + b, 0), lost: lostInView };
      label(i18n.t("diagram.density", { n: fmtInt(hi - lo) }), x0, 8, { color: MUTED, bg: "#ffffff" }, 0.2);
    } else {
      // one arrow per message, one path per style
      const rows = [];
      for (let i = lo; i < hi; i++) if (mc.end[i] >= t0 || mc.end[i] > now) rows.push(i);
      if (live && this.drawn.arrows.length < rows.length) this.drawn.arrows = new Int32Array(rows.length * 2);
      const geo = rows.map((i) => this.arrowGeom(i));
      const fates = rows.map((i) => this.fate(i, now));
      for (const [kind, st] of [[0, { stroke: BLUE, item: "arrow request" }], [1, { stroke: GOOD, dash: [6, 4], item: "arrow reply" }],
        [2, { stroke: KIND_COLOR[2], dash: [6, 4], item: "arrow reply" }], [3, { stroke: MUTED, item: "arrow request" }]]) {
        path({ ...st, width: 1.75, cls: `arrows ${st.item.slice(6)}` }, () => rows.forEach((i, k) => {
          if (mc.kind[i] === kind) p.seg(...geo[k], live ? undefined : `${this.arrowLabel(i)} (${FATE_WORDS[fates[k]]})`);
        }));
      }
      // ends: a head (arrived), a square (still on its leg)
      path({ fill: INK, cls: "heads" }, () => rows.forEach((i, k) => {
        if (fates[k] !== DELIVERED && fates[k] !== FORGOTTEN && fates[k] !== IGNORED) return;
        const [ax, ay, bx, by] = geo[k];
        const len = Math.hypot(bx - ax, by - ay) || 1;
        const [ux, uy] = [(bx - ax) / len, (by - ay) / len];
        p.m(bx, by);
        p.l(bx - ux * 8 - uy * 3.5, by - uy * 8 + ux * 3.5);
        p.l(bx - ux * 8 + uy * 3.5, by - uy * 8 - ux * 3.5);
        p.z();
      }));
      path({ fill: "#ffffff", stroke: INK, width: 1.5, cls: "in-flight" }, () => rows.forEach((i, k) => fates[k] === FLIGHT && p.rect(geo[k][2] - 3, geo[k][3] - 3, 6, 6)));
      rows.forEach((i, k) => {
        keep("arrows", i);
        if (fates[k] === LOST || fates[k] === DOWN) lostRows.push(i);
        if (fates[k] === FORGOTTEN) p.text("⚡", geo[k][2] + 1, geo[k][3] - 10, { font: F_BOLD, color: BAD, align: "center" }); // forgotten in a crash
        if (rows.length <= MAX_LABELS && (rows.length <= 12 || Math.abs(geo[k][2] - geo[k][0]) >= 24)) {
          label(this.arrowLabel(i) + (fates[k] === IGNORED ? ` (${i18n.t("diagram.fate-ignored")})` : ""), (geo[k][0] + geo[k][2]) / 2, (geo[k][1] + geo[k][3]) / 2,
            { align: "center", bg: ON_WHITE, color: KIND_COLOR[mc.kind[i]], font: F_BOLD }, 4);
        }
      });
      lostInView = lostRows.length;
      model.arrows = rows.length;
    }
    // losses: a cross where each was lost
    if (lostInView <= MAX_CROSSES) {
      const ends = lostRows.map((i) => this.arrowGeom(i));
      path({ stroke: BAD, width: 2.5, cls: "lost", cap: "round" }, () => ends.forEach(([, , x, y]) => {
        p.seg(x - 5, y - 5, x + 5, y + 5);
        p.seg(x - 5, y + 5, x + 5, y - 5);
      }));
      if (lostRows.length <= 12) {
        lostRows.forEach((i, k) => label(mc.fate[i] === DOWN ? `✗ ${i18n.t("diagram.lost-down")}` : `✗ ${i18n.t("diagram.fate-lost")}`, ends[k][2] + 9, ends[k][3] + (mc.leg[i] ? -10 : 10),
          { color: BAD, font: F_BOLD, bg: ON_WHITE }, 2));
      }
      model.lostRows = lostRows;
    }
    model.lost = lostInView;

    // marks: ticks on the lifelines (timeouts a "?" box, crashes a ⚡), or one per column
    const K = this.marks.c;
    const kLo = lowerBound(K.t, this.marks.n, t0);
    const kHi = upperBound(K.t, this.marks.n, tEnd);
    const yOf = (i) => (ON_RECEIVER[K.type[i]] ? yRecv : ySend);
    model.marks = kHi - kLo;
    if (kHi - kLo <= plotPx / 2) {
      const rows = Array.from({ length: kHi - kLo }, (_, k) => kLo + k);
      if (live && this.drawn.marks.length < rows.length) this.drawn.marks = new Int32Array(rows.length * 2);
      path({ stroke: INK, width: 2, cls: "ticks" }, () => rows.forEach((i) => K.type[i] !== M_CRASH && K.type[i] !== M_TIMEOUT && p.seg(this.X(K.t[i]), yOf(i) - 7, this.X(K.t[i]), yOf(i) + 7)));
      path({ fill: "#fef3c7", stroke: WARN, width: 2, cls: "timeouts" }, () => rows.forEach((i) => K.type[i] === M_TIMEOUT && p.rect(this.X(K.t[i]) - 6, ySend - 6, 12, 12)));
      const rank = [4, 2, 2, 3, 3, 1, 0, 4, 4]; // crashes, timeouts, state changes, credit, the rest
      for (const i of rows) {
        const [ty, x] = [K.type[i], this.X(K.t[i])];
        if (ty === M_TIMEOUT) p.text("?", x, ySend + 0.5, { font: F_BOLD, color: WARN, align: "center" });
        if (ty === M_CRASH) p.text("⚡", x, yRecv, { font: `700 16px ${FONT}`, color: BAD, align: "center" });
        keep("marks", i);
        const color = ty === M_TIMEOUT || ty === M_IGNORED ? WARN : ty === M_CRASH ? BAD : ty === M_APPROVED || ty === M_RESERVED ? GOOD : INK;
        if (rows.length <= MAX_LABELS) label(this.markLabel(i), x, ON_RECEIVER[ty] ? yRecv + 14 : ySend - 14, { align: "center", color, font: rank[ty] < 2 ? F_BOLD : F_LABEL }, 1 + rank[ty] / 10);
      }
      model.markRows = rows;
    } else {
      const [onS, onR, alS, alR] = [binsOf(3, this.ix.mark[0]), binsOf(4, this.ix.mark[1]), binsOf(5, this.ix.alarm[0]), binsOf(6, this.ix.alarm[1])];
      const each = (fn) => () => onS.forEach((_, b) => fn(x0 + (b + 0.5) * colW, b));
      path({ stroke: INK, width: Math.max(0.6, colW * 0.8), cls: "ticks dense" }, each((x, b) => {
        if (onS[b]) p.seg(x, ySend - 5, x, ySend + 5);
        if (onR[b]) p.seg(x, yRecv - 5, x, yRecv + 5);
      }));
      path({ stroke: BAD, width: Math.max(0.8, colW), cls: "alarms dense" }, each((x, b) => {
        if (alS[b]) p.seg(x, ySend - 9, x, ySend + 9);
        if (alR[b]) p.seg(x, yRecv - 9, x, yRecv + 9);
      }));
    }

    // flags: where an order's states parted
    const F = this.flags.c;
    const fLo = lowerBound(F.t, this.flags.n, t0);
    const fHi = upperBound(F.t, this.flags.n, tEnd);
    model.flags = fHi - fLo;
    if (fHi - fLo <= MAX_FLAGS) {
      const rows = Array.from({ length: fHi - fLo }, (_, k) => fLo + k);
      const pts = rows.map((i) => this.flagPoint(i));
      path({ stroke: BAD, width: 2, cls: "flag-poles" }, () => pts.forEach(([x, y]) => p.seg(x, y, x, y - 22)));
      path({ fill: BAD, cls: "flags" }, () => pts.forEach(([x, y]) => {
        p.m(x, y - 22);
        p.l(x + 12, y - 18);
        p.l(x, y - 14);
        p.z();
      }));
      rows.forEach((i, k) => {
        keep("flags", i);
        if (rows.length <= 30) label(`⚑ ${i18n.t("log.parts-here", { order: F.order[i] })}`, pts[k][0] + 14, pts[k][1] - 18, { color: "#ffffff", bg: BAD, font: F_BOLD }, 0.5);
      });
      model.flagRows = rows;
    } else {
      const any = bins(7, F.t, this.flags.n); // the flags' own times, sorted, are their index
      path({ stroke: BAD, width: Math.max(0.8, colW), cls: "flags dense" }, () => any.forEach((n, b) => n && p.seg(x0 + (b + 0.5) * colW, mid - 4, x0 + (b + 0.5) * colW, mid + 4)));
      label(`⚑ ${i18n.t("diagram.parted-in-view", { n: fmtInt(fHi - fLo) })}`, x1, mid - 14, { align: "right", color: "#ffffff", bg: BAD, font: F_BOLD }, 0.5);
    }
    p.unclip();
    for (const g of gutter) p.text(...g);
    if (!this.follow && now > t1) label(i18n.t("diagram.now-further"), x1, 8, { align: "right", color: MUTED, font: F_BOLD }, 0.1);
    queue.sort((a, b) => a[0] - b[0]).forEach(place);

    // the highlight: always drawn one by one, on top
    const hl = this.view.highlight;
    const j = hl && hl.order ? this.orderRow(hl.order) : -1;
    const hlRows = !hl ? [] : hl.msg ? [this.rowOf(hl.msg)] : j >= 0 && j < this.oReq.length ? [this.oReq[j] - 1, this.oRep[j] - 1] : [];
    model.highlighted = hlRows.filter((i) => i >= 0 && mc.send[i] <= tEnd && (mc.end[i] >= t0 || mc.end[i] > now));
    if (model.highlighted.length) {
      p.clip(x0 - 8, 0, x1 - x0 + 16, h);
      const geo = model.highlighted.map((i) => this.arrowGeom(i));
      path({ stroke: FOCUS, width: 8, cls: "highlight halo", cap: "round" }, () => geo.forEach((g) => p.seg(...g)));
      model.highlighted.forEach((i, k) => {
        path({ stroke: "#111111", width: 3, dash: mc.leg[i] ? [6, 4] : undefined, cls: "highlight" }, () => p.seg(...geo[k]));
        const s = this.arrowLabel(i);
        const tw = p.measure(s, F_BOLD);
        p.text(s, Math.min(x1 - tw / 2, Math.max(x0 + tw / 2, (geo[k][0] + geo[k][2]) / 2)), (geo[k][1] + geo[k][3]) / 2, { align: "center", bg: FOCUS, font: F_BOLD, color: "#111111" });
      });
      p.unclip();
    }
    this.model = model;
  }

  /** A reusable column buffer per purpose: a frame allocates none. */
  bins(k, cols) {
    this.binBufs = this.binBufs || [];
    if (!this.binBufs[k] || this.binBufs[k].length !== cols) this.binBufs[k] = new Uint32Array(cols);
    return this.binBufs[k];
  }

  /** What the window shows, in words for screen readers (at most twice a second). */
  summarize() {
    const m = this.model;
    const el = this.summary;
    if (!el || !m) return;
    // At most twice a second, and always once after the last frame (a trailing update: the
    // summary never stays behind what is drawn).
    const wait = 500 - (performance.now() - (this.saidAt || 0));
    if (wait > 0) {
      if (!this.sayTimer) this.sayTimer = setTimeout(() => { this.sayTimer = null; this.summarize(); }, wait + 1);
      return;
    }
    this.saidAt = performance.now();
    const F = this.flags.c;
    const sec = (x, d) => `${i18n.fmtFixed(x, d)} s`;
    const parted = m.flagRows.slice(0, 3).map((i) => i18n.t("diagram.parted-at", { order: F.order[i], t: sec(F.t[i], 2) }));
    const list = parted.join(", ");
    const text = [i18n.t(m.follow ? "diagram.span-following" : "diagram.span", { from: sec(m.t0, 1), to: sec(m.t1, 1) }),
      m.aggregated ? i18n.t("diagram.sent-density", { n: fmtInt(m.density.sent) }) : i18n.tn("diagram.messages", m.arrows),
      m.lost ? i18n.t("diagram.lost-n", { n: fmtInt(m.lost) }) : "",
      m.bands.length ? i18n.tn("diagram.down-times", m.bands.length) : "",
      m.flags ? (m.flags > parted.length ? i18n.t("diagram.states-parted-more", { list, more: fmtInt(m.flags - parted.length) }) : i18n.t("diagram.states-parted", { list })) : ""]
      .filter(Boolean).join(" ");
    if (el.textContent !== text) el.textContent = text;
  }

  // ---------------------------------------------------------------- reading it back

  /** What the last frame drew, as plain objects (tests read this, not pixels). */
  items() {
    const m = this.model;
    if (!m) return null;
    const { c } = this.msgs;
    const k = this.k;
    const K = this.marks.c;
    const F = this.flags.c;
    const ticks = m.markRows.map((i) => ({ type: MARKS[K.type[i]], order: K.order[i], t: K.t[i], seq: K.seq[i], label: this.markLabel(i), lifeline: ON_RECEIVER[K.type[i]] ? "receiver" : "sender" }));
    return {
      t0: m.t0, t1: m.t1, span: m.span, follow: m.follow, now: m.now, aggregated: m.aggregated, density: m.density, lost: m.lost,
      ghost: this.ghost ? { run: this.ghost.run, at: this.ghost.at, arrows: m.ghostArrows || 0, total: this.ghost.rows.length } : null,
      lifelines: { sender: this.ySend * k, receiver: this.yRecv * k },
      arrows: Array.from(this.drawn.arrows.subarray(0, this.nDrawn.arrows), (i) => {
        const g = this.arrowGeom(i);
        return { msg: c.id[i], order: c.order[i], seq: c.seq[i], leg: LEGS[c.leg[i]], kind: KINDS[c.kind[i]], fate: FATES[this.fate(i)],
          label: this.arrowLabel(i), send: c.send[i], end: c.end[i], x0: g[0] * k, y0: g[1] * k, x1: g[2] * k, y1: g[3] * k };
      }),
      crosses: m.lostRows.map((i) => {
        const g = this.arrowGeom(i);
        return { msg: c.id[i], order: c.order[i], leg: LEGS[c.leg[i]], t: c.end[i], at: c.at[i], x: g[2] * k, y: g[3] * k };
      }),
      ticks, timeouts: ticks.filter((t) => t.type === "timeout"), bands: m.bands,
      flags: m.flagRows.map((i) => {
        const [x, y] = this.flagPoint(i);
        return { order: F.order[i], t: F.t[i], seq: F.seq[i], msg: F.msg[i], pos: F.pos[i], x: x * k, y: y * k };
      }),
      highlighted: m.highlighted.map((i) => c.id[i]),
      records: { messages: this.msgs.n, marks: this.marks.n, bands: this.bands.n, flags: this.flags.n },
    };
  }

  // ---------------------------------------------------------------- export

  /** The window as SVG text (hand-built). */
  svg() {
    const sp = new SvgPainter(this.ctx);
    const [model, nDrawn] = [this.model, this.nDrawn];
    this.render(sp, false);
    const m = this.model;
    [this.model, this.nDrawn] = [model || m, nDrawn];
    return sp.svg(this.w, this.h, i18n.t("diagram.svg-title", { from: `${i18n.fmtFixed(m.t0, 2)} s`, to: `${i18n.fmtFixed(m.t1, 2)} s` }));
  }

  download(type) {
    const save = (blob, name) => {
      const a = Object.assign(document.createElement("a"), { href: URL.createObjectURL(blob), download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    };
    if (type === "svg") return save(new Blob([this.svg()], { type: "image/svg+xml" }), "space-time-diagram.svg");
    this.draw(true);
    this.canvas.toBlob((blob) => blob && save(blob, "space-time-diagram.png"), "image/png");
  }
}

// ------------------------------------------------------------------ the tab switch

/**
 * Orders (or the metrics panel) and the diagram share the lower-left place: a tab switch
 * (click or Enter; the arrow keys are the page's), or both side by side where CSS finds
 * room (the tabs are then not displayed).
 */
export class LowerTabs {
  /** @param {object} o lower (the shared place), tabs (the tab buttons, Orders first),
   * names (each tab's data-tab value), onChange(i) */
  constructor({ lower, tabs, names = ["orders", "diagram"], onChange = () => {} }) {
    Object.assign(this, { lower, tabs, names, onChange });
    tabs.forEach((tab, i) => tab.addEventListener("click", (ev) => {
      this.select(i);
      if (ev.detail > 0) tab.blur(); // a mouse click: the page's keys stay the presenter's
    }));
    const list = tabs[0].parentElement;
    const measure = () => lower.style.setProperty("--tabs-w", `${Math.ceil(list.getBoundingClientRect().width)}px`);
    new ResizeObserver(measure).observe(list);
    measure();
    this.select(0);
  }

  select(i) {
    this.tabs.forEach((tab, j) => tab.setAttribute("aria-selected", String(i === j)));
    this.lower.dataset.tab = this.names[i];
    this.onChange(i);
  }
}
