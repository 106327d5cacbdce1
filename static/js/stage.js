// The stage canvas: the request leg and the reply leg between the two service nodes, the
// messages on them as tokens placed by virtual time, and the marks of lost messages.
// Canvas, not SVG: ten thousand tokens must still draw at 60 fps.
//
// The canvas is cut into horizontal bands so that no text is ever drawn over text:
//
//   top strip     clock · "request leg →  ✂ loses 5%  ✗ 8 lost" · ⚡ crash before processing
//   request lanes tokens on the request leg (lane 0 on the line, lane 1 towards the middle)
//   middle strip  caption of the latest request loss · banner or hint · latest reply loss
//   reply lanes   tokens on the reply leg
//   bottom strip  "← reply leg ..." · ⚡ crash after processing
//
// Every piece of text drawn in a frame is registered with its box; a text whose box would
// cross one already drawn (or a DOM element on the stage: the clock, the crash switches)
// is left out or replaced by a shorter variant.
//
// Reads the store (messages, losses, failure settings) and the view state (flashes, the
// highlighted message, when a loss was seen); clicking a leg switches its failure point.

import * as i18n from "./i18n.js";
import { failureWords, fmtInt, pointOnLeg } from "./words.js";

const KIND_STYLE = {
  OrderCreated: { fill: "#1d4ed8", text: "#fff", icon: "✉" },
  CreditReserved: { fill: "#0f7a3a", text: "#fff", icon: "✓" },
  InsufficientCredit: { fill: "#b45309", text: "#fff", icon: "✗" },
  MetricSample: { fill: "#475569", text: "#fff", icon: "●" },
};
const LEG_COLOR = { request: "#1d4ed8", reply: "#0f7a3a" };
const LOST_COLOR = "#c1121f";
const WARN = "#92400e";
const LABEL_LIMIT = 60; // up to this many tokens: labels where they fit; beyond, grouped marks
const TOKEN_H = 24;
const LANE_STEP = 28;
const LANES = 2;
const BEND = 8; // how far the middle of a leg bows out, px
const STRIP = 30; // height of the top and bottom strips
const FONT = "700 16px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const SMALL_FONT = "700 15px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const HINT_FONT = "400 15px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const BANNER_MS = 2600;
const LOST_CELL = 72; // losses closer than this along a leg merge into one mark

function overlaps(a, b) {
  return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
}

export class Stage {
  /**
   * @param {object} o canvas, stageEl, senderEl, receiverEl (DOM), store, view (ViewState),
   *   onFailureClick(point): a leg was clicked, switch its failure point
   */
  constructor({ canvas, stageEl, senderEl, receiverEl, store, view, onFailureClick }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: true });
    this.stageEl = stageEl;
    this.senderEl = senderEl;
    this.receiverEl = receiverEl;
    this.store = store;
    this.view = view;
    this.hoverLeg = null;
    this.reducedMotion = false;
    this.widths = new Map();
    this.laneOf = new Map(); // msg -> lane it had last frame (tokens keep their lane)
    this.texts = []; // boxes of the text drawn this frame: [x0, y0, x1, y1, text, kind]
    this.tokenBoxes = []; // boxes of the labelled tokens drawn this frame
    this.obstacles = [];
    this.resize();
    new ResizeObserver(() => this.resize()).observe(stageEl);
    canvas.addEventListener("pointermove", (ev) => this.pointer(ev));
    canvas.addEventListener("pointerleave", () => this.setHover(null));
    canvas.addEventListener("click", (ev) => {
      const point = this.legPoint(this.legAt(ev));
      if (point) onFailureClick(point);
    });
  }

  resize() {
    const r = this.canvas.parentElement.getBoundingClientRect();
    const b = this.stageEl.clientLeft || 0; // the canvas fills the padding box
    const left = r.left + b;
    const topEdge = r.top + (this.stageEl.clientTop || 0);
    const w = this.stageEl.clientWidth || r.width;
    const h = this.stageEl.clientHeight || r.height;
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    // The page's type scale (the root font size over 18 px, see app.css): the canvas draws
    // in logical units and scales them, so tokens, lanes and labels grow with the type.
    const k = this.scale();
    this.k = k;
    this.w = w / k;
    this.h = h / k;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.dpr = dpr;
    const s = this.senderEl.getBoundingClientRect();
    const v = this.receiverEl.getBoundingClientRect();
    const x0 = (s.right - left) / k + 6;
    const x1 = (v.left - left) / k - 6;
    const top = (Math.max(s.top, v.top) - topEdge) / k;
    const bottom = (Math.min(s.bottom, v.bottom) - topEdge) / k;
    // The lanes hug the strips: the middle of a leg bows BEND px outwards, a token is
    // TOKEN_H tall, so lane 0 sits that far inside the strip.
    const yReq = Math.max(top + 12, STRIP + BEND + TOKEN_H / 2);
    const yRep = Math.min(bottom - 12, this.h - STRIP - BEND - TOKEN_H / 2);
    const mid = (x0 + x1) / 2;
    this.legs = {
      request: { p0: [x0, yReq], c: [mid, yReq - 2 * BEND], p1: [x1, yReq], dir: 1 },
      reply: { p0: [x1, yRep], c: [mid, yRep + 2 * BEND], p1: [x0, yRep], dir: -1 },
    };
    for (const g of Object.values(this.legs)) g.len = Math.max(1, Math.abs(g.p1[0] - g.p0[0]));
    this.span = [Math.min(x0, x1), Math.max(x0, x1)];
    // The middle strip, between the inner edges of the two lane bands.
    const reqInner = yReq + (LANES - 1) * LANE_STEP + TOKEN_H / 2;
    const repInner = yRep - (LANES - 1) * LANE_STEP - TOKEN_H / 2;
    this.rows = {
      requestCaption: reqInner + 10,
      replyCaption: repInner - 10,
      middle: (reqInner + repInner) / 2,
      top: STRIP / 2,
      bottom: this.h - STRIP / 2,
    };
    this.placeStepNumbers();
    this.measureObstacles();
    this.ctx.setTransform(dpr * k, 0, 0, dpr * k, 0, 0);
  }

  /** Lessons (issue 11): the three steps numbered on the stage, 1 send, 2 react, 3 reply,
   * each with the failure points that sit on it (DOM badges, kept clear by the canvas). */
  showStepNumbers(on) {
    let box = this.stageEl.querySelector(".step-nums");
    if (!on) {
      if (box) box.remove();
      return;
    }
    if (box) return;
    box = document.createElement("div");
    box.className = "step-nums";
    for (const n of [1, 2, 3]) {
      const b = document.createElement("p");
      b.className = "step-num";
      b.dataset.step = String(n);
      b.innerHTML = `<b class="n">${n}</b> <span class="what"></span> <span class="where"></span>`;
      b.querySelector(".what").textContent = i18n.t(`lessons.stepnum.${n}`);
      b.querySelector(".where").textContent = i18n.t(`lessons.stepnum.${n}.fails`);
      box.append(b);
    }
    this.stageEl.append(box);
    this.placeStepNumbers();
    this.measureObstacles();
  }

  placeStepNumbers() {
    const box = this.stageEl.querySelector(".step-nums");
    if (!box || !this.legs) return;
    const k = this.k || 1;
    const [one, two, three] = box.children;
    const place = (el, x, y, ax, ay) => {
      el.style.left = `${Math.round(x * k)}px`;
      el.style.top = `${Math.round(y * k)}px`;
      el.style.transform = `translate(${ax}%, ${ay}%)`;
    };
    // 1 under the request leg by the sender, 3 over the reply leg by the receiver, 2 between
    // them by the receiver: three rows, so they never cover each other.
    const yReq = this.legs.request.p0[1] + TOKEN_H / 2 + 3;
    const yRep = this.legs.reply.p0[1] - TOKEN_H / 2 - 3;
    place(one, this.span[0] + 4, yReq, 0, 0);
    place(two, this.span[1] - 4, (yReq + yRep) / 2, -100, -50);
    place(three, this.span[1] - 4, yRep, -100, -100);
  }

  /** The band of a leg (its lanes) in client pixels: what a lesson highlights. */
  legRect(leg) {
    if (!this.legs) return null;
    const c = this.canvas.getBoundingClientRect();
    const k = this.k || 1;
    const y = this.legs[leg].p0[1];
    const reach = (LANES - 1) * LANE_STEP + TOKEN_H / 2;
    const [y0, y1] = leg === "request" ? [y - TOKEN_H / 2 - BEND, y + reach] : [y - reach, y + TOKEN_H / 2 + BEND];
    return new DOMRect(c.left + this.span[0] * k, c.top + y0 * k, (this.span[1] - this.span[0]) * k, (y1 - y0) * k);
  }

  /** Logical units per CSS pixel: 1 at the base type size (18 px). */
  scale() {
    const f = parseFloat(getComputedStyle(document.documentElement).fontSize) || 18;
    return Math.max(0.5, f / 18);
  }

  /** DOM pieces drawn over the canvas that text must keep clear of (clock, crash switches). */
  measureObstacles() {
    const c = this.canvas.getBoundingClientRect();
    const k = this.k || 1;
    this.obstacles = [];
    // ... and a lesson's "Look here" labels over the stage (lessons.js).
    for (const el of [...this.stageEl.querySelectorAll(".clock, .crash-chip, .step-num"), ...document.querySelectorAll("#lesson-marks .look-label")]) {
      const e = el.getBoundingClientRect();
      if (e.width) this.obstacles.push([(e.left - c.left) / k - 6, (e.top - c.top) / k, (e.right - c.left) / k + 6, (e.bottom - c.top) / k]);
    }
    const v = this.receiverEl.getBoundingClientRect();
    this.receiverBox = [(v.left - c.left) / k, (v.top - c.top) / k, v.width / k, v.height / k];
    this.obstaclesAt = performance.now();
  }

  /** Where a token `w` px wide is at progress p: its edges, not its centre, meet the nodes. */
  tokenPoint(leg, p, w) {
    const a = Math.min(0.45, (w / 2 + 4) / this.legs[leg].len);
    return this.point(leg, a + (1 - 2 * a) * p);
  }

  point(leg, p) {
    const g = this.legs[leg];
    const u = 1 - p;
    return [
      u * u * g.p0[0] + 2 * u * p * g.c[0] + p * p * g.p1[0],
      u * u * g.p0[1] + 2 * u * p * g.c[1] + p * p * g.p1[1],
    ];
  }

  legAt(ev) {
    const r = this.canvas.getBoundingClientRect();
    const x = (ev.clientX - r.left) / this.k;
    const y = (ev.clientY - r.top) / this.k;
    let best = null;
    let bestD = 30 * 30;
    for (const leg of ["request", "reply"]) {
      const dir = this.legs[leg].dir;
      for (let i = 0; i <= 40; i++) {
        const [px, py] = this.point(leg, i / 40);
        // The whole lane band counts, not only the line.
        const dy = (y - py) * dir;
        const d = (px - x) ** 2 + (dy < 0 ? dy * dy : Math.max(0, dy - (LANES - 1) * LANE_STEP) ** 2);
        if (d < bestD) {
          bestD = d;
          best = leg;
        }
      }
    }
    return best;
  }

  pointer(ev) {
    this.setHover(this.legAt(ev));
  }

  /** The failure point switched by clicking this leg (null: none). */
  legPoint(leg) {
    return leg ? pointOnLeg(Object.keys(this.store.failures), leg) : null;
  }

  setHover(leg) {
    const point = this.legPoint(leg);
    this.hoverLeg = point ? leg : null;
    this.canvas.style.cursor = point ? "pointer" : "default";
    this.canvas.title = point
      ? i18n.t(leg === "request" ? "stage.leg-title-request" : "stage.leg-title-reply", { label: failureWords(point).label })
      : "";
  }

  textWidth(text, font) {
    const key = font + text;
    let w = this.widths.get(key);
    if (w === undefined) {
      this.ctx.font = font;
      w = this.ctx.measureText(text).width;
      if (this.widths.size > 5000) this.widths.clear();
      this.widths.set(key, w);
    }
    return w;
  }

  // ----------------------------------------------------------------- text registry
  /** The free stretch of a text row around the legs: between the DOM pieces in that row. */
  rowBounds(cy) {
    const centre = (this.span[0] + this.span[1]) / 2;
    let lo = 8;
    let hi = this.w - 8;
    for (const o of this.obstacles) {
      if (o[1] >= cy + 10 || o[3] <= cy - 10) continue;
      if ((o[0] + o[2]) / 2 < centre) lo = Math.max(lo, o[2]);
      else hi = Math.min(hi, o[0]);
    }
    return [lo, hi];
  }

  free(box) {
    for (const o of this.obstacles) if (overlaps(o, box)) return false;
    for (const t of this.texts) if (overlaps(t, box)) return false;
    return true;
  }

  /**
   * Draw one line of text made of [text, colour] parts, centred at (cx, cy) and kept
   * within [lo, hi]; with `pill`, on a filled rounded box. The first variant that fits
   * without crossing other text is drawn; returns whether one was.
   */
  label(variants, cx, cy, { font = FONT, lo = 0, hi = this.w, pill = null, kind = "text" } = {}) {
    const ctx = this.ctx;
    const padX = pill ? 8 : 2;
    const hh = 10;
    for (const parts of variants) {
      let w = 0;
      for (const [t] of parts) w += this.textWidth(t, font);
      const half = w / 2 + padX;
      if (2 * half > hi - lo) continue;
      const x = Math.max(lo + half, Math.min(hi - half, cx));
      const box = [x - half, cy - hh, x + half, cy + hh];
      if (!this.free(box)) continue;
      this.texts.push([...box, parts.map((p) => p[0]).join(""), kind]);
      ctx.save();
      if (pill) {
        ctx.fillStyle = pill.fill;
        ctx.beginPath();
        roundRect(ctx, box[0], box[1], box[2] - box[0], box[3] - box[1], 6);
        ctx.fill();
        if (pill.stroke) {
          ctx.strokeStyle = pill.stroke;
          ctx.lineWidth = 2;
          ctx.stroke();
        }
      }
      ctx.font = font;
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      let px = x - w / 2;
      for (const [t, color] of parts) {
        ctx.fillStyle = color;
        ctx.fillText(t, px, cy + 1);
        px += this.textWidth(t, font);
      }
      ctx.restore();
      return true;
    }
    return false;
  }

  // ----------------------------------------------------------------- drawing
  draw(t, now) {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, this.w, this.h);
    if (now - this.obstaclesAt > 500) this.measureObstacles(); // the switches change width
    this.texts = [];
    this.tokenBoxes = [];
    const failures = this.store.failures;
    const onLeg = (leg) => failures[this.legPoint(leg)];
    // A metrics stream has no replies: its reply leg is not drawn.
    const replies = !this.store.metricsRun();
    this.drawLeg("request", onLeg("request"));
    if (replies) this.drawLeg("reply", onLeg("reply"));
    // Token labels are placed first and claim their boxes; the strips' text comes after.
    const layout = this.layoutTokens(t);
    this.legLabel("request", onLeg("request"));
    if (replies) this.legLabel("reply", onLeg("reply"));
    this.drawLost(now);
    this.drawMiddle(now);
    const n = layout ? this.drawLabelled(layout) : this.drawGrouped(t);
    this.drawFlashes(now);
    return n;
  }

  drawLeg(leg, failure) {
    const ctx = this.ctx;
    const g = this.legs[leg];
    const losing = failure && failure.mode !== "off";
    const prob = failure ? failure.probability : 0;
    const hover = this.hoverLeg === leg;
    ctx.save();
    ctx.lineCap = "round";
    if (hover) {
      ctx.strokeStyle = "rgba(250, 204, 21, 0.55)";
      ctx.lineWidth = 26;
      this.curve(g);
      ctx.stroke();
    }
    ctx.strokeStyle = losing ? LOST_COLOR : LEG_COLOR[leg];
    ctx.lineWidth = 7;
    ctx.setLineDash(losing ? [14, 10] : prob > 0 ? [28, 6] : []);
    this.curve(g);
    ctx.stroke();
    ctx.setLineDash([]);
    // Arrowhead at the receiving end.
    const [ax, ay] = this.point(leg, 1);
    const [bx, by] = this.point(leg, 0.96);
    const ang = Math.atan2(ay - by, ax - bx);
    ctx.fillStyle = ctx.strokeStyle;
    ctx.beginPath();
    ctx.moveTo(ax + 4 * Math.cos(ang), ay + 4 * Math.sin(ang));
    ctx.lineTo(ax - 20 * Math.cos(ang - 0.45), ay - 20 * Math.sin(ang - 0.45));
    ctx.lineTo(ax - 20 * Math.cos(ang + 0.45), ay - 20 * Math.sin(ang + 0.45));
    ctx.closePath();
    ctx.fill();
    ctx.restore();
  }

  // The label, outside the lanes: the request leg's in the top strip, the reply leg's in
  // the bottom strip. Shorter variants when space is short.
  legLabel(leg, failure) {
    const losing = failure && failure.mode !== "off";
    const prob = failure ? failure.probability : 0;
    const name = leg === "request" ? `${i18n.t("stage.request-leg")}  →` : `←  ${i18n.t("stage.reply-leg")}`;
    const short = leg === "request" ? `${i18n.t("stage.request")} →` : `← ${i18n.t("stage.reply")}`;
    const color = losing ? LOST_COLOR : leg === "request" ? "#1e3a8a" : "#14532d";
    let loss = null;
    let lossShort = null;
    if (losing) {
      loss = `✂ ${i18n.t(failure.mode === "next" ? "stage.loses-next" : "stage.loses-every")}`;
      lossShort = `✂ ${i18n.t(failure.mode === "next" ? "stage.next" : "stage.all")}`;
    } else if (prob > 0) {
      const pct = i18n.t("failures.pct", { n: fmtInt(Math.round(prob * 100)) });
      loss = `✂ ${i18n.t("stage.loses-pct", { pct })}`;
      lossShort = `✂ ${pct}`;
    }
    const lost = this.store.lostTotal[leg];
    const lostText = lost ? `✗ ${i18n.t("burst.lost", { n: fmtInt(lost) })}` : null;
    const build = (n, l, x) => {
      const parts = [[n, color]];
      if (l) parts.push([`   ${l}`, LOST_COLOR]);
      if (x) parts.push([`   ${x}`, LOST_COLOR]);
      return parts;
    };
    const variants = [
      build(name, loss, lostText), build(short, loss, lostText), build(short, lossShort, lostText),
      build(short, lossShort, null), build(short, null, null),
    ];
    const cy = leg === "request" ? this.rows.top : this.rows.bottom;
    const [lo, hi] = this.rowBounds(cy);
    this.label(variants, (this.span[0] + this.span[1]) / 2, cy, { lo, hi, kind: `leg-${leg}` });
  }

  curve(g) {
    const ctx = this.ctx;
    ctx.beginPath();
    ctx.moveTo(g.p0[0], g.p0[1]);
    ctx.quadraticCurveTo(g.c[0], g.c[1], g.p1[0], g.p1[1]);
  }

  progress(m, t, quant) {
    const span = m.arrives_at - m.sent_at;
    let p = span > 0 ? (t - m.sent_at) / span : 1;
    p = p < 0 ? 0 : p > 1 ? 1 : p;
    if (quant) p = Math.round(p * quant) / quant;
    return p;
  }

  tokenLabels(m) {
    const style = KIND_STYLE[m.kind] || KIND_STYLE.MetricSample;
    if (m.kind === "MetricSample") {
      const v = typeof m.value === "number" ? i18n.fmtFixed(m.value, 1) : "";
      return [`${style.icon} ${v}`.trim()];
    }
    return [`${style.icon} ${m.kind} #${m.order}`, `${style.icon} #${m.order}`];
  }

  /**
   * Few tokens: give each a lane and the longest label that fits without touching its
   * neighbours (oldest first, each keeping its lane of the last frame when it can). Many
   * tokens: null, the grouped drawing takes over.
   */
  layoutTokens(t) {
    const tokens = this.store.tokens;
    if (tokens.size > LABEL_LIMIT) {
      this.laneOf.clear();
      return null;
    }
    const quant = this.reducedMotion ? 10 : 0;
    const out = [];
    const lanes = new Map();
    for (const leg of ["request", "reply"]) {
      const list = [];
      for (const m of tokens.values()) if (m.leg === leg) list.push(m);
      list.sort((a, b) => a.sent_at - b.sent_at || a.msg - b.msg);
      const used = []; // boxes of the labels placed on this leg, 3 px apart at least
      const dir = this.legs[leg].dir;
      const laneIds = [...Array(LANES).keys()];
      for (const m of list) {
        const p = this.progress(m, t, quant);
        let placed = null;
        const prev = this.laneOf.get(m.msg);
        const order = prev === undefined ? laneIds : [prev, ...laneIds.filter((k) => k !== prev)];
        for (const text of this.tokenLabels(m)) {
          const w = this.textWidth(text, FONT) + 18;
          const [x, y0] = this.tokenPoint(leg, p, w);
          for (const lane of order) {
            // Boxes, not lanes, are compared: the legs bow, so lanes are not straight.
            const y = y0 + dir * lane * LANE_STEP;
            const box = [x - w / 2 - 3, y - TOKEN_H / 2 - 1, x + w / 2 + 3, y + TOKEN_H / 2 + 1];
            if (used.every((b) => !overlaps(b, box))) {
              used.push(box);
              placed = { m, text, w, x, y, lane };
              break;
            }
          }
          if (placed) break;
        }
        if (!placed) {
          const [x, y] = this.tokenPoint(leg, p, 12);
          placed = { m, text: null, w: 12, x, y, lane: 0 };
        }
        lanes.set(m.msg, placed.lane);
        if (placed.text) {
          const box = [placed.x - placed.w / 2, placed.y - TOKEN_H / 2, placed.x + placed.w / 2, placed.y + TOKEN_H / 2];
          this.tokenBoxes.push([...box, placed.text, leg]);
          this.texts.push([...box, placed.text, "token"]);
        }
        out.push(placed);
      }
    }
    this.laneOf = lanes;
    return out;
  }

  drawLabelled(layout) {
    const ctx = this.ctx;
    const hl = this.view.highlight;
    // Unlabelled marks first: labelled tokens are drawn over them, never under.
    for (const tk of layout) {
      if (tk.text) continue;
      const style = KIND_STYLE[tk.m.kind] || KIND_STYLE.MetricSample;
      ctx.fillStyle = style.fill;
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.rect(tk.x - 6, tk.y - 6, 12, 12);
      ctx.fill();
      ctx.stroke();
    }
    ctx.save();
    ctx.font = FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const tk of layout) {
      if (!tk.text) continue;
      const style = KIND_STYLE[tk.m.kind] || KIND_STYLE.MetricSample;
      const box = [tk.x - tk.w / 2, tk.y - TOKEN_H / 2, tk.x + tk.w / 2, tk.y + TOKEN_H / 2];
      ctx.fillStyle = style.fill;
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      const r = tk.m.kind === "OrderCreated" ? 4 : TOKEN_H / 2; // request: envelope corners; reply: pill
      roundRect(ctx, box[0], box[1], tk.w, TOKEN_H, r);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = style.text;
      ctx.fillText(tk.text, tk.x, tk.y + 1);
    }
    ctx.restore();
    if (hl) {
      for (const tk of layout) {
        if (tk.m.msg === hl.msg || (hl.order && tk.m.order === hl.order)) {
          this.ring(tk.x, tk.y, tk.w / 2 + 10, TOKEN_H / 2 + 8);
        }
      }
    }
    return layout.length;
  }

  drawGrouped(t) {
    // Many tokens: one path per kind, small shapes, no labels. Thousands of tokens crowd
    // a thin band, so they are binned on a 2 px grid per lane: one rectangle per occupied
    // cell (what the eye sees is the same; a path of 10,000 overlapping rectangles costs
    // the rasterizer far more than the ~1,000 cells they cover). The nine lanes stay
    // inside the leg's band, clear of the label strips.
    const tokens = this.store.tokens;
    const n = tokens.size;
    const quant = this.reducedMotion ? 10 : 0;
    const ctx = this.ctx;
    const cols = Math.ceil(this.w / 2) + 2;
    if (!this.grid || this.grid.length !== cols * 9) this.grid = new Uint8Array(cols * 9);
    const grid = this.grid;
    const byKind = new Map();
    for (const m of tokens.values()) {
      let list = byKind.get(m.kind);
      if (!list) byKind.set(m.kind, (list = []));
      list.push(m);
    }
    for (const [kind, list] of byKind) {
      const style = KIND_STYLE[kind] || KIND_STYLE.MetricSample;
      // Plain rectangles (cheapest to raster): requests square, replies flat, samples tall.
      const [w, h] = kind === "OrderCreated" ? [8, 8] : kind === "MetricSample" ? [5, 10] : [12, 5];
      grid.fill(0);
      ctx.fillStyle = style.fill;
      ctx.beginPath();
      for (const m of list) {
        const p = this.progress(m, t, quant);
        const [x, y] = this.tokenPoint(m.leg, p, 10);
        const lane = m.msg % 9;
        const cell = (Math.max(0, Math.round(x / 2)) % cols) * 9 + lane;
        if (grid[cell]) continue;
        grid[cell] = 1;
        const dy = (lane * 4 - 6) * (m.leg === "request" ? 1 : -1);
        ctx.rect(x - w / 2, y + dy - h / 2, w, h);
      }
      ctx.fill();
    }
    const hl = this.view.highlight;
    if (hl) {
      for (const m of tokens.values()) {
        if (m.msg === hl.msg || (hl.order && m.order === hl.order)) {
          const [x, y] = this.tokenPoint(m.leg, this.progress(m, t, quant), 10);
          this.ring(x, y, 18);
        }
      }
    }
    return n;
  }

  ring(x, y, rx, ry = rx) {
    const ctx = this.ctx;
    ctx.save();
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 4;
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.ellipse(x, y, rx, ry, 0, 0, 6.2832);
    ctx.stroke();
    ctx.strokeStyle = "#facc15";
    ctx.lineDashOffset = 5;
    ctx.stroke();
    ctx.restore();
  }

  // Lost messages, merged by place: the losses at one place on a leg (a cell about a
  // token wide, or the receiver's door while it is down) draw as one broken token, the
  // newest, with a count when there are several ("×12"), never as an unreadable clump.
  drawLost(now) {
    const lost = this.store.lost;
    if (!lost.length) return;
    // Per leg, along it: a mark starts a new group when it is a cell away from the
    // group's first mark, so groups (and their counts) never overlap.
    const marks = [];
    for (let i = 0; i < lost.length; i++) {
      const l = lost[i];
      const [x, y] = this.markPos(l);
      marks.push({ l, i, x, y, door: l.reason === "receiver-down" && l.leg === "request" });
    }
    marks.sort((a, b) => (a.l.leg === b.l.leg ? a.x - b.x : a.l.leg < b.l.leg ? -1 : 1));
    const groups = [];
    let g = null;
    for (const m of marks) {
      if (g && g.leg === m.l.leg && (m.x - g.x0 < LOST_CELL || (g.door && m.door))) {
        g.n++;
        if (m.i > g.i) Object.assign(g, { l: m.l, i: m.i, x: m.x, y: m.y }); // the newest shows
      } else {
        g = { leg: m.l.leg, x0: m.x, door: m.door, l: m.l, i: m.i, x: m.x, y: m.y, n: 1 };
        groups.push(g);
      }
    }
    const hl = this.view.highlight;
    for (const grp of groups) {
      this.drawBroken(grp.l, now, grp.x, grp.y);
      if (grp.n > 1) this.drawCount(grp.n, grp.x, grp.y, this.legs[grp.leg].dir);
    }
    if (hl) {
      for (const l of lost) {
        if (l.msg === hl.msg || (hl.order && l.order === hl.order)) {
          const [x, y] = this.markPos(l);
          this.ring(x, y, 30, 20);
        }
      }
    }
  }

  /** The count of a merged mark, in a pill beside it where no text is (a token's label
   * has the room first; the count waits for the next frame when there is none). */
  drawCount(n, x, y, dir) {
    const ctx = this.ctx;
    const text = `×${fmtInt(n)}`;
    ctx.save();
    ctx.font = SMALL_FONT;
    const w = ctx.measureText(text).width + 10;
    let box = null;
    for (const [dx, dy] of [[14, dir * 20], [14, -dir * 20], [-14 - w, dir * 20], [-14 - w, -dir * 20]]) {
      const b = [x + dx, y + dy - 10, x + dx + w, y + dy + 10];
      if (this.free(b) && !this.tokenBoxes.some((t) => overlaps(t, b))) {
        box = b;
        break;
      }
    }
    if (!box) {
      ctx.restore();
      return;
    }
    const [cx, top] = box;
    ctx.fillStyle = "#fff";
    ctx.strokeStyle = LOST_COLOR;
    ctx.lineWidth = 2;
    ctx.beginPath();
    roundRect(ctx, cx, top, w, 20, 8);
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = LOST_COLOR;
    ctx.textBaseline = "middle";
    ctx.fillText(text, cx + 5, top + 11);
    ctx.restore();
    this.texts.push([...box, text, "count"]);
  }

  markPos(l) {
    if (l.leg === "request" && l.reason === "receiver-down") return this.tokenPoint("request", 1, 60);
    return this.tokenPoint(l.leg, Math.min(1, Math.max(0, l.at)), 60);
  }

  // A lost message: the token split in two where it was lost, with a red cross, kept.
  drawBroken(l, now, x, y) {
    const ctx = this.ctx;
    const style = KIND_STYLE[l.kind] || KIND_STYLE.MetricSample;
    const seen = this.view.lossSeen.get(l.msg);
    const age = seen === undefined ? 1 : Math.min(1, (now - seen) / 500);
    const open = this.reducedMotion ? 1 : age;
    const gap = 4 + 8 * open;
    ctx.save();
    ctx.translate(x, y);
    ctx.globalAlpha = 0.9;
    ctx.fillStyle = style.fill;
    for (const side of [-1, 1]) {
      // Left half tilted down, right half tilted up: a broken token.
      ctx.save();
      ctx.translate(side * gap, 0);
      ctx.rotate(side * 0.25 * open);
      ctx.beginPath();
      ctx.moveTo(side * 26, -11);
      ctx.lineTo(0, -11);
      ctx.lineTo(-6, -4);
      ctx.lineTo(2, 3);
      ctx.lineTo(-4, 11);
      ctx.lineTo(side * 26, 11);
      ctx.closePath();
      ctx.fill();
      ctx.restore();
    }
    ctx.globalAlpha = 1;
    // The red cross in a white disc.
    ctx.fillStyle = "#fff";
    ctx.strokeStyle = LOST_COLOR;
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.arc(0, 0, 11, 0, 6.2832);
    ctx.fill();
    ctx.stroke();
    ctx.lineWidth = 3.5;
    ctx.beginPath();
    ctx.moveTo(-5, -5);
    ctx.lineTo(5, 5);
    ctx.moveTo(5, -5);
    ctx.lineTo(-5, 5);
    ctx.stroke();
    ctx.restore();
  }

  /** The latest loss of a leg, the newest events first. */
  latestLoss(leg) {
    const lost = this.store.lost;
    for (let i = lost.length - 1; i >= 0; i--) if (lost[i].leg === leg) return lost[i];
    return null;
  }

  // The middle strip, most important first: the moment an order diverges (a banner), the
  // caption of the latest loss on each leg, a sender's timeout, and the hint.
  drawMiddle(now) {
    const [lo, hi] = this.span;
    const mid = (lo + hi) / 2;
    const flashes = this.view.flashes;
    let diverged = null;
    let timeout = null;
    for (const f of flashes) {
      if (f.kind === "diverged" && now - f.wall < BANNER_MS) diverged = f;
      if (f.kind === "timeout" && f.until > now) timeout = f;
    }
    if (diverged) { // reduced motion keeps the banner: only movement stops
      const order = diverged.order;
      this.label([[[`⚠ ${i18n.t("stage.part-long", { order })}`, "#fff"]],
        [[`⚠ ${i18n.t("stage.part-mid", { order })}`, "#fff"]], [[`⚠ ${i18n.t("stage.part-short", { order })}`, "#fff"]]],
      mid, this.rows.middle, { font: SMALL_FONT, lo, hi, pill: { fill: LOST_COLOR }, kind: "banner" });
    }
    for (const leg of ["request", "reply"]) {
      const l = this.latestLoss(leg);
      if (!l) continue;
      const [x] = this.markPos(l);
      const who = l.order ? `${l.kind} #${l.order}` : l.kind;
      const variants = l.reason === "receiver-down"
        ? [[[`✗ ${i18n.t("stage.lost-down", { who })}`, LOST_COLOR]], [[`✗ ${i18n.t("stage.lost", { who })}`, LOST_COLOR]]]
        : [[[`✗ ${i18n.t("stage.lost", { who })}`, LOST_COLOR]], [[l.order ? `✗ ${i18n.t("stage.lost", { who: `#${l.order}` })}` : `✗ ${i18n.t("diagram.fate-lost")}`, LOST_COLOR]]];
      const row = leg === "request" ? this.rows.requestCaption : this.rows.replyCaption;
      this.label(variants, x, row, { font: SMALL_FONT, lo, hi, kind: `caption-${leg}` });
    }
    if (timeout) {
      this.label([[["? ", WARN], [i18n.t("stage.timeout-long", { order: timeout.order }), WARN]],
        [["? ", WARN], [i18n.t("stage.timeout-short", { order: timeout.order }), WARN]]],
      lo + 4, this.rows.middle, { font: SMALL_FONT, lo, hi, pill: { fill: "#fde68a" }, kind: "timeout" });
    }
    if (!this.store.lost.length && !diverged) {
      this.label([[[i18n.t("stage.hint"), "#475569"]]], mid, this.rows.middle,
        { font: HINT_FONT, lo, hi, kind: "hint" });
    }
  }

  // A ring growing out of the receiver when it crashes (red) or restarts (green): the
  // latest one only, so a receiver that crashes often does not pile rings up.
  drawFlashes(now) {
    if (this.reducedMotion || !this.receiverBox) return;
    let f = null;
    for (const x of this.view.flashes) {
      if ((x.kind === "crash" || x.kind === "restart") && x.until >= now) f = x;
    }
    if (!f) return;
    const ctx = this.ctx;
    const k = (now - f.wall) / (f.until - f.wall);
    const [x, y, w, h] = this.receiverBox;
    ctx.save();
    ctx.globalAlpha = Math.max(0, 1 - k);
    ctx.strokeStyle = f.kind === "crash" ? LOST_COLOR : "#0f7a3a";
    ctx.lineWidth = 6;
    const grow = 4 + 14 * k;
    ctx.beginPath();
    roundRect(ctx, x - grow, y - grow, w + 2 * grow, h + 2 * grow, 18);
    ctx.stroke();
    ctx.restore();
  }
}

function roundRect(ctx, x, y, w, h, r) {
  r = Math.min(r, h / 2, w / 2);
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

