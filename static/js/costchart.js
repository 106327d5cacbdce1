// "Cost of loss" (issue 11): the engine's loss sweep (GET /api/sweep, engine/sweep.py)
// drawn on a canvas by hand. x: the loss probability on each network leg; left y: the share
// of orders whose two services disagree (solid line, filled circles); right y: the metrics
// aggregate's relative error (dashed line, hollow squares), on its own axis. Fetched when
// the tab is first opened ("Computing…"), then kept; redrawn on resize.
// window.amo.costChart.items() is what the last frame drew (tests read it, never pixels).

import * as i18n from "./i18n.js";

const SWEEP_URL = "/api/sweep?points=20&orders=10000&max_loss=0.3&seed=1";
const INK = "#0f172a";
const DIVERGED = "#b91c1c";
const ERROR = "#1d4ed8";
const GRID = "#e2e8f0";
const MUTED = "#475569";

const pct = (x, digits = 1) => i18n.t("num.percent", { n: i18n.fmtFixed(x * 100, digits) });

/** A round upper bound for an axis: 1, 2, 2.5 or 5 times a power of ten, at least `x`. */
function niceMax(x) {
  if (!(x > 0)) return 0.001;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x * (1 - 1e-12)) return m * p;
  return 10 * p;
}

/** Digits an axis's tick labels (in %) need to tell ticks `step` apart. */
function digitsFor(step) {
  let d = 0;
  while (d < 4 && Math.abs(Math.round(step * 100 * 10 ** d) - step * 100 * 10 ** d) > 1e-6) d += 1;
  return d;
}

/** The words under the chart, from the data: the point nearest 5 % loss, and the last. */
export function captionFor(points) {
  if (!points || points.length < 2) return "";
  const near = points.reduce((a, b) => (Math.abs(b.loss - 0.05) < Math.abs(a.loss - 0.05) ? b : a));
  const last = points[points.length - 1];
  const errDigits = (e) => (e * 100 >= 0.1 ? 2 : 3);
  return i18n.t("cost.caption", {
    loss: pct(near.loss), diverged: pct(near.diverged_share), error: pct(near.metrics_error, errDigits(near.metrics_error)),
    last_loss: pct(last.loss), last_diverged: pct(last.diverged_share), last_error: pct(last.metrics_error, errDigits(last.metrics_error)),
  });
}

export class CostChart {
  /** @param {object} o canvas, plot (its box), caption, status, url?, fetchJson? */
  constructor({ canvas, plot, caption, status, url = SWEEP_URL, fetchJson }) {
    Object.assign(this, { canvas, plot, caption, status, url });
    this.fetchJson = fetchJson || (async (u) => {
      const res = await fetch(u);
      if (!res.ok) throw new Error((await res.text()).trim() || `HTTP ${res.status}`);
      return res.json();
    });
    this.ctx = canvas.getContext("2d");
    this.data = null;
    this.started = false;
    this.pending = null;
    this.drawn = { points: [], axes: null, legend: [] };
    this.timing = null;
    new ResizeObserver(() => this.draw()).observe(plot);
  }

  /** The tab was opened: fetch once ("Computing…"), then keep what came. */
  open() {
    if (this.started) {
      this.draw();
      return this.pending;
    }
    this.started = true;
    const t0 = performance.now();
    this.status.textContent = i18n.t("cost.computing", { runs: i18n.fmtNum(20), n: i18n.fmtNum(10000) });
    this.plot.setAttribute("aria-busy", "true");
    this.pending = this.fetchJson(this.url).then((data) => {
      this.data = data;
      const fetched = performance.now();
      this.status.textContent = "";
      this.caption.textContent = captionFor(data.points);
      this.draw();
      this.timing = { fetchMs: fetched - t0, totalMs: performance.now() - t0 };
    }, (err) => {
      this.started = false; // the next opening tries again
      this.status.textContent = i18n.t("cost.failed", { message: err.message });
    }).finally(() => this.plot.removeAttribute("aria-busy"));
    return this.pending;
  }

  /** What the last frame drew: each point with its canvas position (CSS px), the axes. */
  items() {
    return this.drawn;
  }

  /** The root font size's scale, as stage.js's scale() reads it (18 px is 1). */
  scale() {
    return Math.max(0.5, (parseFloat(getComputedStyle(document.documentElement).fontSize) || 18) / 18);
  }

  draw() {
    const r = this.plot.getBoundingClientRect();
    if (!this.data || r.width < 2 || r.height < 2) return;
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    const k = this.scale();
    const cssW = r.width;
    const cssH = r.height;
    this.canvas.width = Math.round(cssW * dpr);
    this.canvas.height = Math.round(cssH * dpr);
    Object.assign(this.canvas.style, { width: `${cssW}px`, height: `${cssH}px` });
    const ctx = this.ctx;
    ctx.setTransform(dpr * k, 0, 0, dpr * k, 0, 0);
    const w = cssW / k;
    const h = cssH / k;
    ctx.clearRect(0, 0, w, h);
    const points = this.data.points;
    const maxLoss = this.data.max_loss || points[points.length - 1].loss || 0.3;
    const errMax = niceMax(Math.max(...points.map((p) => p.metrics_error)));
    const font = (px, weight = 600) => `${weight} ${px}px system-ui, sans-serif`;

    // The legend's rows first (a narrow chart wraps it): the plot starts below them.
    const legend = [
      { label: i18n.t("cost.legend-diverged"), line: "solid", marker: "circle", color: DIVERGED },
      { label: i18n.t("cost.legend-error"), line: "dashed", marker: "square", color: ERROR },
    ];
    const left = 50;
    const right = 66;
    ctx.font = font(13, 700);
    let lx = left;
    let ly = 11;
    for (const item of legend) {
      const wText = ctx.measureText(item.label).width;
      if (lx + 36 + wText > w - 4 && lx > left) {
        lx = left;
        ly += 17;
      }
      Object.assign(item, { lx, ly });
      lx += 36 + wText + 18;
    }
    // A short chart (presentation mode) leaves the x axis's title out: the tick labels,
    // the legend and the caption say what x is.
    const compact = h < 170;
    const top = ly + 17;
    const bottom = compact ? 20 : 36;
    const x0 = left;
    const x1 = Math.max(left + 40, w - right);
    const y0 = Math.max(top + 24, h - bottom);
    const y1 = top;
    const X = (loss) => x0 + (x1 - x0) * (loss / maxLoss);
    const Y = (share) => y0 - (y0 - y1) * share;
    const Y2 = (err) => y0 - (y0 - y1) * (err / errMax);

    // The grid and the axes (tick labels in their line's colour, the legend names them).
    ctx.lineWidth = 1;
    ctx.strokeStyle = GRID;
    ctx.font = font(13);
    ctx.textBaseline = "middle";
    const yTicks = y0 - y1 < 110 ? [0, 0.5, 1] : [0, 0.25, 0.5, 0.75, 1];
    const errDigits = digitsFor(errMax / (yTicks.length - 1));
    for (const s of yTicks) {
      ctx.beginPath();
      ctx.moveTo(x0, Y(s));
      ctx.lineTo(x1, Y(s));
      ctx.stroke();
      ctx.textAlign = "right";
      ctx.fillStyle = DIVERGED;
      ctx.fillText(pct(s, 0), x0 - 6, Y(s));
      ctx.textAlign = "left";
      ctx.fillStyle = ERROR;
      ctx.fillText(pct(s * errMax, errDigits), x1 + 6, Y(s));
    }
    const xStep = maxLoss <= 0.3 ? 0.05 : maxLoss <= 0.6 ? 0.1 : 0.2;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.fillStyle = MUTED;
    ctx.strokeStyle = INK;
    for (let v = 0; v <= maxLoss + 1e-9; v += xStep) {
      ctx.beginPath();
      ctx.moveTo(X(v), y0);
      ctx.lineTo(X(v), y0 + 4);
      ctx.stroke();
      ctx.fillText(pct(v, 0), X(v), y0 + 5);
    }
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x0, y1);
    ctx.lineTo(x0, y0);
    ctx.lineTo(x1, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    ctx.fillStyle = INK;
    ctx.font = font(13, 700);
    if (!compact) {
      const title = [i18n.t("cost.axis-long"), i18n.t("cost.axis-mid"), i18n.t("cost.axis-short")]
        .find((s) => ctx.measureText(s).width <= x1 - x0) || i18n.t("cost.axis-tiny");
      ctx.fillText(title, (x0 + x1) / 2, y0 + 20);
    }

    // The two lines: solid with filled circles, dashed with hollow squares.
    const series = [
      { key: "diverged_share", y: Y, color: DIVERGED, dash: [], marker: "circle" },
      { key: "metrics_error", y: Y2, color: ERROR, dash: [7, 5], marker: "square" },
    ];
    for (const s of series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2.5;
      ctx.setLineDash(s.dash);
      ctx.beginPath();
      points.forEach((p, i) => (i ? ctx.lineTo(X(p.loss), s.y(p[s.key])) : ctx.moveTo(X(p.loss), s.y(p[s.key]))));
      ctx.stroke();
      ctx.setLineDash([]);
      for (const p of points) this.marker(s.marker, X(p.loss), s.y(p[s.key]), s.color);
    }

    // The legend, over the plot's top.
    ctx.font = font(13, 700);
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const item of legend) {
      ctx.strokeStyle = item.color;
      ctx.lineWidth = 2.5;
      ctx.setLineDash(item.line === "dashed" ? [7, 5] : []);
      ctx.beginPath();
      ctx.moveTo(item.lx, item.ly);
      ctx.lineTo(item.lx + 30, item.ly);
      ctx.stroke();
      ctx.setLineDash([]);
      this.marker(item.marker, item.lx + 15, item.ly, item.color);
      ctx.fillStyle = INK;
      ctx.fillText(item.label, item.lx + 36, item.ly);
    }

    this.drawn = {
      points: points.map((p) => ({
        loss: p.loss, diverged_share: p.diverged_share, metrics_error: p.metrics_error,
        diverged: p.diverged, orders: p.orders,
        x: X(p.loss) * k, y: Y(p.diverged_share) * k, y2: Y2(p.metrics_error) * k,
      })),
      axes: { x: [0, maxLoss], y: [0, 1], y2: [0, errMax] },
      legend: legend.map(({ label, line, marker }) => ({ label, line, marker })),
      scale: k,
    };
  }

  marker(kind, x, y, color) {
    const ctx = this.ctx;
    ctx.lineWidth = 2;
    ctx.strokeStyle = color;
    if (kind === "circle") {
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.arc(x, y, 4.5, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.fillStyle = "#fff";
      ctx.fillRect(x - 4.5, y - 4.5, 9, 9);
      ctx.strokeRect(x - 4.5, y - 4.5, 9, 9);
    }
  }
}
