// The stage canvas: the request leg and the reply leg between the two service nodes,
// the messages on them as tokens placed by virtual time, and the marks of lost messages.
// Canvas, not SVG: ten thousand tokens must still draw at 60 fps.

const KIND_STYLE = {
  OrderCreated: { fill: "#1d4ed8", text: "#fff", icon: "✉" },
  CreditReserved: { fill: "#0f7a3a", text: "#fff", icon: "✓" },
  InsufficientCredit: { fill: "#b45309", text: "#fff", icon: "✗" },
  MetricSample: { fill: "#475569", text: "#fff", icon: "●" },
};
const LEG_COLOR = { request: "#1d4ed8", reply: "#0f7a3a" };
const LOST_COLOR = "#c1121f";
const FULL_LABEL_LIMIT = 4; // up to this many tokens: "✉ OrderCreated #3"
const LABEL_LIMIT = 60; // up to this many: compact "✉3"; beyond: small marks, no labels
const FONT = "600 16px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const SMALL_FONT = "600 15px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

export class Stage {
  constructor(canvas, stageEl, senderEl, receiverEl, store, clock) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { alpha: true });
    this.stageEl = stageEl;
    this.senderEl = senderEl;
    this.receiverEl = receiverEl;
    this.store = store;
    this.clock = clock;
    this.hoverLeg = null;
    this.highlight = null; // {msg?, order?}
    this.reducedMotion = false;
    this.onLegClick = null;
    this.widths = new Map();
    this.resize();
    new ResizeObserver(() => this.resize()).observe(stageEl);
    canvas.addEventListener("pointermove", (ev) => this.pointer(ev));
    canvas.addEventListener("pointerleave", () => this.setHover(null));
    canvas.addEventListener("click", (ev) => {
      const leg = this.legAt(ev);
      if (leg && this.onLegClick) this.onLegClick(leg);
    });
  }

  resize() {
    const r = this.stageEl.getBoundingClientRect();
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    this.w = r.width;
    this.h = r.height;
    this.canvas.width = Math.round(r.width * dpr);
    this.canvas.height = Math.round(r.height * dpr);
    this.canvas.style.width = `${r.width}px`;
    this.canvas.style.height = `${r.height}px`;
    this.dpr = dpr;
    const s = this.senderEl.getBoundingClientRect();
    const v = this.receiverEl.getBoundingClientRect();
    const x0 = s.right - r.left + 6;
    const x1 = v.left - r.left - 6;
    const top = Math.max(s.top, v.top) - r.top;
    const bottom = Math.min(s.bottom, v.bottom) - r.top;
    const span = bottom - top;
    const yReq = top + span * 0.27;
    const yRep = top + span * 0.73;
    const bend = Math.min(70, span * 0.22);
    const mid = (x0 + x1) / 2;
    this.legs = {
      request: { p0: [x0, yReq], c: [mid, yReq - bend], p1: [x1, yReq] },
      reply: { p0: [x1, yRep], c: [mid, yRep + bend], p1: [x0, yRep] },
    };
    for (const g of Object.values(this.legs)) g.len = Math.max(1, Math.abs(g.p1[0] - g.p0[0]));
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
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
    const x = ev.clientX - r.left;
    const y = ev.clientY - r.top;
    let best = null;
    let bestD = 30 * 30;
    for (const leg of ["request", "reply"]) {
      for (let i = 0; i <= 40; i++) {
        const [px, py] = this.point(leg, i / 40);
        const d = (px - x) ** 2 + (py - y) ** 2;
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

  setHover(leg) {
    this.hoverLeg = leg;
    this.canvas.style.cursor = leg ? "pointer" : "default";
    this.canvas.title = leg
      ? `Click: switch “${leg === "request" ? "Request lost" : "Reply lost"}” (the ${leg} leg loses messages)`
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

  // ----------------------------------------------------------------- drawing
  draw(t, now) {
    const ctx = this.ctx;
    ctx.clearRect(0, 0, this.w, this.h);
    const failures = this.store.failures;
    this.drawLeg("request", failures["request-lost"]);
    this.drawLeg("reply", failures["reply-lost"]);
    this.drawLost(now);
    const n = this.drawTokens(t);
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
    // Label, above the request leg and below the reply leg.
    const [mx, my] = this.point(leg, 0.5);
    const dy = leg === "request" ? -22 : 30;
    const lost = this.store.lostTotal[leg];
    let label = leg === "request" ? "request leg  →" : "←  reply leg";
    if (losing) label += failure.mode === "next" ? "   ✂ loses the next message" : "   ✂ loses every message";
    else if (prob > 0) label += `   ✂ loses ${Math.round(prob * 100)}%`;
    ctx.font = FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillStyle = losing ? LOST_COLOR : "#1f2937";
    ctx.fillText(label, mx, my + dy);
    if (lost) {
      ctx.font = SMALL_FONT;
      ctx.fillStyle = LOST_COLOR;
      ctx.fillText(`✗ ${lost.toLocaleString("en-US")} lost`, mx, my + dy + (leg === "request" ? -22 : 22));
    }
    ctx.restore();
  }

  curve(g) {
    const ctx = this.ctx;
    ctx.beginPath();
    ctx.moveTo(g.p0[0], g.p0[1]);
    ctx.quadraticCurveTo(g.c[0], g.c[1], g.p1[0], g.p1[1]);
  }

  drawTokens(t) {
    const tokens = this.store.tokens;
    const n = tokens.size;
    if (n === 0) return 0;
    const quant = this.reducedMotion ? 10 : 0;
    if (n <= LABEL_LIMIT) {
      const full = n <= FULL_LABEL_LIMIT;
      for (const m of tokens.values()) this.drawLabelled(m, this.progress(m, t, quant), n, full);
      return n;
    }
    // Many tokens: one path per kind, small shapes, no labels. Thousands of tokens crowd
    // a thin band, so they are binned on a 2 px grid per lane: one rectangle per occupied
    // cell (what the eye sees is the same; a path of 10,000 overlapping rectangles costs
    // the rasterizer far more than the ~1,000 cells they cover).
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
        ctx.rect(x - w / 2, y + (lane - 4) * 4 - h / 2, w, h);
      }
      ctx.fill();
    }
    const hl = this.highlight;
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

  progress(m, t, quant) {
    const span = m.arrives_at - m.sent_at;
    let p = span > 0 ? (t - m.sent_at) / span : 1;
    p = p < 0 ? 0 : p > 1 ? 1 : p;
    if (quant) p = Math.round(p * quant) / quant;
    return p;
  }

  drawLabelled(m, p, n, full) {
    const ctx = this.ctx;
    const style = KIND_STYLE[m.kind] || KIND_STYLE.MetricSample;
    const label = full
      ? (m.order ? `${style.icon} ${m.kind} #${m.order}` : `${style.icon} ${m.kind}`)
      : (m.order ? `${style.icon}${m.order}` : style.icon);
    const w = this.textWidth(label, full ? FONT : SMALL_FONT) + (full ? 20 : 12);
    let [x, y] = this.tokenPoint(m.leg, p, w);
    // Spread neighbours over lanes so their labels do not cover each other.
    if (full) y += n > 2 ? ((m.msg % 3) - 1) * 26 : 0;
    else y += ((m.msg % 5) - 2) * 15;
    const h = full ? 28 : 22;
    const hl = this.highlight && (this.highlight.msg === m.msg || (this.highlight.order && this.highlight.order === m.order));
    ctx.save();
    ctx.fillStyle = style.fill;
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    const r = m.kind === "OrderCreated" ? 4 : h / 2; // request: envelope corners; reply: pill
    roundRect(ctx, x - w / 2, y - h / 2, w, h, r);
    ctx.fill();
    ctx.stroke();
    ctx.fillStyle = style.text;
    ctx.font = full ? FONT : SMALL_FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(label, x, y + 1);
    ctx.restore();
    if (hl) this.ring(x, y, w / 2 + 10, h / 2 + 10);
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

  drawLost(now) {
    const lost = this.store.lost;
    if (!lost.length) return;
    const ctx = this.ctx;
    const many = lost.length > 30;
    const hl = this.highlight;
    // Older marks: small crosses in one path.
    ctx.save();
    ctx.strokeStyle = LOST_COLOR;
    ctx.lineWidth = 3;
    ctx.beginPath();
    const detailFrom = many ? lost.length - 6 : 0;
    // Older marks: one small cross per 4 px cell (marks pile up where losses happen).
    const seen = new Set();
    for (let i = detailFrom - 1; i >= 0; i--) {
      const l = lost[i];
      const [x, y] = this.markPos(l);
      const key = (Math.round(x / 4) << 12) | (Math.round(y / 4) & 4095);
      if (seen.has(key)) continue;
      seen.add(key);
      ctx.moveTo(x - 5, y - 5);
      ctx.lineTo(x + 5, y + 5);
      ctx.moveTo(x + 5, y - 5);
      ctx.lineTo(x - 5, y + 5);
    }
    ctx.stroke();
    ctx.restore();
    this.captions = [];
    for (let i = lost.length - 1; i >= detailFrom; i--) this.drawBroken(lost[i], now);
    if (hl) {
      for (const l of lost) {
        if (l.msg === hl.msg || (hl.order && l.order === hl.order)) {
          const [x, y] = this.markPos(l);
          this.ring(x, y, 30, 24);
        }
      }
    }
  }

  markPos(l) {
    if (l.leg === "request" && l.reason === "receiver-down") {
      const [x, y] = this.tokenPoint("request", 1, 60);
      return [x - (l.msg % 4) * 16, y];
    }
    const [x, y] = this.tokenPoint(l.leg, Math.min(1, Math.max(0, l.at)), 140);
    const off = this.store.lost.length > 30 ? ((l.msg % 9) - 4) * 4 : 0;
    return [x, y + off];
  }

  // A lost message: the token split in two where it was lost, with a red cross, kept.
  drawBroken(l, now) {
    const ctx = this.ctx;
    const [x, y] = this.markPos(l);
    const style = KIND_STYLE[l.kind] || KIND_STYLE.MetricSample;
    const age = Math.min(1, (now - l.wall) / 500);
    const open = this.reducedMotion ? 1 : age;
    const gap = 4 + 8 * open;
    ctx.save();
    ctx.translate(x, y);
    ctx.globalAlpha = 0.9;
    ctx.fillStyle = style.fill;
    // Left half, tilted down; right half, tilted up: a broken token.
    ctx.save();
    ctx.translate(-gap, 0);
    ctx.rotate(-0.25 * open);
    ctx.beginPath();
    ctx.moveTo(-26, -12);
    ctx.lineTo(0, -12);
    ctx.lineTo(-6, -4);
    ctx.lineTo(2, 3);
    ctx.lineTo(-4, 12);
    ctx.lineTo(-26, 12);
    ctx.closePath();
    ctx.fill();
    ctx.restore();
    ctx.save();
    ctx.translate(gap, 0);
    ctx.rotate(0.25 * open);
    ctx.beginPath();
    ctx.moveTo(26, -12);
    ctx.lineTo(0, -12);
    ctx.lineTo(-6, -4);
    ctx.lineTo(2, 3);
    ctx.lineTo(-4, 12);
    ctx.lineTo(26, 12);
    ctx.closePath();
    ctx.fill();
    ctx.restore();
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
    // Caption under (request leg: above) the mark.
    ctx.font = SMALL_FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillStyle = LOST_COLOR;
    const who = l.order ? `${l.kind} #${l.order}` : l.kind;
    const text = `${who} lost`;
    // Keep the caption between the nodes.
    const half = this.textWidth(text, SMALL_FONT) / 2;
    const g = this.legs[l.leg];
    const lo = Math.min(g.p0[0], g.p1[0]) + half + 4;
    const hi = Math.max(g.p0[0], g.p1[0]) - half - 4;
    const cx = Math.max(lo, Math.min(hi, x)) - x;
    const cy = l.leg === "request" ? 28 : -28;
    // Newest first; a caption that would overlap a newer one is left out.
    const box = [x + cx - half, y + cy - 10, x + cx + half, y + cy + 10];
    const clash = this.captions.some((b) => b[0] < box[2] && box[0] < b[2] && b[1] < box[3] && box[1] < b[3]);
    if (!clash) {
      this.captions.push(box);
      ctx.fillText(text, cx, cy);
    }
    ctx.restore();
  }

  drawFlashes(now) {
    if (this.reducedMotion) return;
    const ctx = this.ctx;
    for (const f of this.store.flashes) {
      if (f.until < now) continue;
      if (f.kind !== "crash" && f.kind !== "restart") continue; // the reaction flashes in the DOM
      const k = (now - f.wall) / (f.until - f.wall);
      const v = this.receiverEl.getBoundingClientRect();
      const r = this.stageEl.getBoundingClientRect();
      ctx.save();
      ctx.globalAlpha = Math.max(0, 1 - k);
      ctx.strokeStyle = f.kind === "reserve" ? "#0f7a3a" : f.kind === "crash" ? LOST_COLOR : "#1d4ed8";
      ctx.lineWidth = 6;
      const grow = 4 + 14 * k;
      ctx.beginPath();
      roundRect(ctx, v.left - r.left - grow, v.top - r.top - grow, v.width + 2 * grow, v.height + 2 * grow, 18);
      ctx.stroke();
      ctx.restore();
    }
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
