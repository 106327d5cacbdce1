// One lane of the "Compare semantics" view (issue 12): one delivery semantics' run, as
// GET /api/compare answers it (its events, compact), drawn at any moment of a shared
// virtual clock. The stage strip (a canvas): the Order service, the Customer service, the
// request leg above and the reply leg below; tokens move from their message-sent to their
// arrival, numbered with their order and attempt ("#7 try 2"); a retry is a square, a first
// attempt a circle; a duplicate delivery is a double-outlined diamond labelled "duplicate"
// at the receiver; a reply answered from the idempotency record is dashed; a lost message
// breaks (✂) where it was lost; a crashed service is hatched and says so. The tally and the
// deduplication table are DOM, computed from the events up to the moment shown, and the
// verdict is computed from the tally (never fixed text).
// lane.items() is what the last frame drew (tests read it, never pixels).

import * as i18n from "./i18n.js";

const { t, tn } = i18n;

const INK = "#0f172a";
const MUTED = "#334155";
const REQUEST = "#1d4ed8";
const REPLY = "#0f7a3a";
const BAD = "#c1121f";
const WARN = "#92400e";
const LINGER = 1.2; // virtual seconds a lost token's break stays drawn
const BADGE = 2.0; // virtual seconds a duplicate's or an outbox loss's badge stays drawn
// The tally's fields, one Int32Array row per event (the counts after it).
const F = { orders: 0, consistent: 1, stuck: 2, rna: 3, dbl: 4, sent: 5, retries: 6, dupDel: 7, dupSup: 8, waiting: 9, reserved: 10 };
const NF = 11;
const KIND_FIELD = { "stuck-new": F.stuck, "reserved-not-approved": F.rna, "double-reserved": F.dbl };

/** The first index whose value is greater than x (values ascending). */
export function upper(values, x) {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A lane's events folded once into what drawing any moment needs. */
export function prepare(lane) {
  const events = lane.events;
  const n = events.length;
  const times = new Float64Array(n);
  const tally = new Int32Array(Math.max(1, n) * NF);
  const row = new Int32Array(NF);
  const msgs = [];
  const byMsg = new Map();
  const recvDown = [];
  const sendDown = [];
  const processing = [];
  const marks = [];
  const record = []; // the idempotency record: {t, order, reply, hits: [t...]}
  const recordOf = new Map();
  const judged = new Map(); // order -> F field it counts in
  const waiting = new Set();
  const fromRecord = new Set(); // orders whose next reply is answered from the record
  const retrying = lane.semantics !== "at-most-once";
  let maxFlight = 0;
  let maxWork = 0;
  for (let i = 0; i < n; i++) {
    const e = events[i];
    times[i] = e.t;
    switch (e.type) {
      case "order-created":
        row[F.orders] += 1;
        waiting.add(e.order);
        break;
      case "message-sent": {
        if (e.kind === "MetricSample") break;
        const m = { msg: e.msg, order: e.order, attempt: e.attempt || 1, leg: e.leg, kind: e.kind, t0: e.t, t1: e.arrives_at, end: e.arrives_at, lost: null, dup: null, fromRecord: false };
        if (e.leg === "reply" && fromRecord.has(e.order)) {
          m.fromRecord = true;
          fromRecord.delete(e.order);
        }
        msgs.push(m);
        byMsg.set(e.msg, m);
        maxFlight = Math.max(maxFlight, m.t1 - m.t0);
        row[F.sent] += 1;
        if (e.leg === "request" && m.attempt > 1) row[F.retries] += 1;
        break;
      }
      case "message-lost": {
        const m = byMsg.get(e.msg);
        if (m) Object.assign(m, { end: e.t, lost: { at: e.at, reason: e.reason, point: e.point } });
        break;
      }
      case "processing-started":
        processing.push({ t0: e.t, t1: e.done_at, order: e.order, attempt: e.attempt || 1 });
        maxWork = Math.max(maxWork, e.done_at - e.t);
        break;
      case "credit-reserved":
      case "credit-refused":
        row[F.reserved] = e.reserved;
        if (retrying && !recordOf.has(e.order)) {
          const r = { t: e.t, order: e.order, reply: e.type === "credit-reserved" ? "CreditReserved" : "InsufficientCredit", hits: [] };
          recordOf.set(e.order, r);
          record.push(r);
        }
        break;
      case "duplicate-delivered": {
        const m = byMsg.get(e.msg);
        if (m) m.dup = "delivered";
        row[F.dupDel] += 1;
        marks.push({ t: e.t, kind: "dup-delivered", order: e.order, attempt: e.attempt });
        break;
      }
      case "duplicate-suppressed": {
        const m = byMsg.get(e.msg);
        if (m) m.dup = "suppressed";
        row[F.dupSup] += 1;
        fromRecord.add(e.order);
        const r = recordOf.get(e.order);
        if (r) r.hits.push(e.t);
        marks.push({ t: e.t, kind: "dup-suppressed", order: e.order, attempt: e.attempt });
        break;
      }
      case "receiver-crashed":
        recvDown.push({ t0: e.t, t1: e.restarts_at, point: e.point });
        break;
      case "sender-crashed":
        sendDown.push({ t0: e.t, t1: e.restarts_at });
        break;
      case "outbox-lost":
        waiting.delete(e.order);
        marks.push({ t: e.t, kind: "outbox-lost", order: e.order, attempt: e.attempt });
        break;
      case "order-state-changed":
      case "sender-timeout":
        waiting.delete(e.order);
        break;
      case "order-consistent":
      case "order-diverged": {
        const before = judged.get(e.order);
        if (before !== undefined) row[before] -= 1;
        const field = e.type === "order-consistent" ? F.consistent : KIND_FIELD[e.divergence];
        if (field !== undefined) {
          row[field] += 1;
          judged.set(e.order, field);
        }
        break;
      }
      default:
        break;
    }
    row[F.waiting] = waiting.size;
    tally.set(row, i * NF);
  }
  msgs.sort((a, b) => a.t0 - b.t0 || a.msg - b.msg);
  return {
    semantics: lane.semantics, summary: lane.summary, end: lane.end, n, times, tally, msgs,
    msgStarts: Float64Array.from(msgs, (m) => m.t0), maxFlight: maxFlight + LINGER, recvDown, sendDown,
    processing, workStarts: Float64Array.from(processing, (p) => p.t0), maxWork, marks,
    markTimes: Float64Array.from(marks, (m) => m.t), record, recordTimes: Float64Array.from(record, (r) => r.t),
  };
}

/** The tally at time `at`: counts over the events with t <= at. */
export function tallyAt(data, at) {
  const idx = upper(data.times, at) - 1;
  const out = {};
  for (const [name, f] of Object.entries(F)) out[name] = idx < 0 ? 0 : data.tally[idx * NF + f];
  out.inFlight = out.orders - out.consistent - out.stuck - out.rna - out.dbl;
  out.events = idx + 1;
  return out;
}

/** The lane's verdict from its tally: {kind, text} (kind: none, flight, ok, diverged, double). */
export function verdictOf(c, over) {
  if (c.orders === 0) return { kind: "none", text: t("semantics.verdict.none") };
  if (c.dbl > 0) return { kind: "double", text: tn("semantics.verdict.double", c.dbl) };
  const parted = c.stuck + c.rna;
  if (parted > 0) return { kind: "diverged", text: tn("semantics.verdict.diverged", parted, { total: i18n.fmtNum(c.orders) }) };
  if (c.inFlight > 0) return { kind: "flight", text: tn("semantics.verdict.flight", c.inFlight, { ok: i18n.fmtNum(c.consistent) }) };
  if (!over) return { kind: "flight", text: t("semantics.verdict.settling", { ok: i18n.fmtNum(c.consistent) }) };
  return { kind: "ok", text: tn("semantics.verdict.ok", c.orders) };
}

const TALLY_ROWS = [
  ["consistent", "✓", "semantics.tally.consistent"],
  ["stuck", "∅", "semantics.tally.stuck"],
  ["rna", "⚠", "semantics.tally.rna"],
  ["dbl", "✕✕", "semantics.tally.double"],
  ["sent", "✉", "semantics.tally.sent"],
  ["retries", "↻", "semantics.tally.retries"],
  ["dupDel", "◈", "semantics.tally.dup-delivered"],
  ["dupSup", "⊘", "semantics.tally.dup-suppressed"],
];

export const SEMANTICS_WORDS = {
  "at-most-once": { name: "semantics.lane.at-most-once", how: "semantics.lane.at-most-once-how", icon: "1≥" },
  "at-least-once": { name: "semantics.lane.at-least-once", how: "semantics.lane.at-least-once-how", icon: "1≤" },
  "exactly-once": { name: "semantics.lane.exactly-once", how: "semantics.lane.exactly-once-how", icon: "=1" },
};

export class Lane {
  /** @param {HTMLElement} el the lane's <section>, filled here */
  constructor(el, semantics) {
    this.el = el;
    this.semantics = semantics;
    const w = SEMANTICS_WORDS[semantics];
    el.className = "lane";
    el.dataset.semantics = semantics;
    const id = `lane-${semantics}`;
    el.setAttribute("aria-labelledby", `${id}-h`);
    el.innerHTML = `
      <h3 class="lane-h" id="${id}-h"><span class="lane-icon" aria-hidden="true">${w.icon}</span> <span class="lane-name"></span></h3>
      <p class="lane-how"></p>
      <div class="lane-strip"><canvas role="img"></canvas></div>
      <p class="lane-verdict" data-kind="none"></p>
      <dl class="lane-tally"></dl>
      <div class="lane-dedup" hidden>
        <h4 class="dedup-h"></h4>
        <ol class="dedup-list"></ol>
      </div>`;
    el.querySelector(".lane-name").textContent = t(w.name);
    el.querySelector(".lane-how").textContent = t(w.how);
    el.querySelector(".lane-how").title = t(w.how);
    this.strip = el.querySelector(".lane-strip");
    this.canvas = el.querySelector("canvas");
    this.ctx = this.canvas.getContext("2d");
    this.verdictEl = el.querySelector(".lane-verdict");
    this.tallyEl = el.querySelector(".lane-tally");
    this.tallyEl.innerHTML = TALLY_ROWS.map(([name, icon, key]) =>
      `<div data-field="${name}"><dt><span aria-hidden="true">${icon}</span> ${t(key)}</dt><dd>0</dd></div>`).join("");
    this.dd = Object.fromEntries([...this.tallyEl.querySelectorAll("div")].map((d) => [d.dataset.field, d.querySelector("dd")]));
    this.dedup = el.querySelector(".lane-dedup");
    this.dedupList = el.querySelector(".dedup-list");
    this.dedupHead = el.querySelector(".dedup-h");
    this.dedup.hidden = semantics !== "exactly-once";
    this.data = null;
    this.size = { w: 0, h: 0, k: 1 };
    this.drawn = { tokens: [], badges: [], sender: "up", receiver: "up" };
    this.shownTally = "";
    this.shownDedup = "";
    new ResizeObserver(() => this.resize()).observe(this.strip);
  }

  setData(data) {
    this.data = data;
    this.shownTally = "";
    this.shownDedup = "";
    this.shown = {};
  }

  resize() {
    const r = this.strip.getBoundingClientRect();
    const k = Math.max(0.5, (parseFloat(getComputedStyle(document.documentElement).fontSize) || 18) / 18);
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    this.canvas.width = Math.max(1, Math.round(r.width * dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    Object.assign(this.canvas.style, { width: `${r.width}px`, height: `${r.height}px` });
    this.size = { w: r.width / k, h: r.height / k, k, dpr };
    this.dirty = true;
  }

  /** The tally, the verdict and the deduplication table at `at` (DOM, only on change). */
  update(at) {
    const d = this.data;
    if (!d) return null;
    const c = tallyAt(d, at);
    const over = at >= d.end;
    const v = verdictOf(c, over);
    const key = `${c.events}|${v.kind}|${over}`;
    if (key !== this.shownTally) {
      this.shownTally = key;
      // Only what changed is written: a frame at 16x changes a number or two.
      this.shown = this.shown || {};
      for (const [name] of TALLY_ROWS) {
        if (this.shown[name] === c[name]) continue;
        this.shown[name] = c[name];
        this.dd[name].textContent = i18n.fmtNum(c[name]);
        if (name === "stuck" || name === "rna" || name === "dbl") this.dd[name].parentElement.dataset.nonzero = c[name] > 0 ? "yes" : "no";
      }
      if (this.verdictEl.textContent !== v.text) this.verdictEl.textContent = v.text;
      if (this.verdictEl.dataset.kind !== v.kind) this.verdictEl.dataset.kind = v.kind;
    }
    if (!this.dedup.hidden) this.updateDedup(at);
    this.tally = c;
    return c;
  }

  updateDedup(at) {
    const d = this.data;
    const count = upper(d.recordTimes, at);
    let hits = 0;
    const first = Math.max(0, count - 3);
    for (let i = first; i < count; i++) hits += upper(d.record[i].hits, at);
    const key = `${count}|${hits}`;
    if (key === this.shownDedup) return;
    this.shownDedup = key;
    this.dedupHead.textContent = tn("semantics.dedup.heading", count);
    const rows = [];
    for (let i = count - 1; i >= first; i--) {
      const r = d.record[i];
      const h = upper(r.hits, at);
      const reply = r.reply; // the message kind's wire name (CreditReserved), as in the log
      const said = h ? ` <span class="dedup-hits">⊘ ${tn("semantics.dedup.hits", h)}</span>` : "";
      rows.push(`<li><span class="dedup-order">#${r.order}</span> → ${reply}${said}</li>`);
    }
    if (!rows.length) rows.push(`<li class="dedup-empty">${t("semantics.dedup.empty")}</li>`);
    this.dedupList.innerHTML = rows.join("");
  }

  items() {
    return this.drawn;
  }

  /** Draw the stage strip at virtual time `at`. */
  draw(at) {
    const d = this.data;
    const { w, h, k, dpr } = this.size;
    if (!d || w < 2 || h < 2) return;
    this.dirty = false;
    const ctx = this.ctx;
    ctx.setTransform(dpr * k, 0, 0, dpr * k, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const font = (px, weight = 600) => `${weight} ${px}px system-ui, sans-serif`;
    const nw = Math.min(118, w * 0.27);
    const sx = 2 + nw;
    const rx = w - 2 - nw;
    const yReq = h * 0.3;
    const yRep = h * 0.74;
    const down = (list) => list.find((x) => x.t0 <= at && at < x.t1);
    const senderDown = down(d.sendDown);
    const receiverDown = down(d.recvDown);
    // Processing at the receiver now.
    const working = [];
    for (let i = upper(d.workStarts, at) - 1; i >= 0 && d.processing[i].t0 >= at - d.maxWork; i--) {
      const p = d.processing[i];
      if (at < p.t1) working.push(p);
    }
    const c = this.tally || tallyAt(d, at);
    this.node(2, nw, h, t("semantics.node.sender"), senderDown,
      senderDown ? t("semantics.node.back-at", { t: i18n.fmtFixed(senderDown.t1, 1) }) : c.waiting ? tn("semantics.node.waiting", c.waiting) : "");
    this.node(rx, nw, h, t("semantics.node.receiver"), receiverDown,
      receiverDown ? t("semantics.node.back-at", { t: i18n.fmtFixed(receiverDown.t1, 1) })
        : working.length ? t("semantics.node.processing", { order: working.map((p) => `#${p.order}`).slice(0, 2).join(" ") }) : "");
    // The legs.
    ctx.lineWidth = 2;
    for (const [y, color, from, to, key] of [[yReq, REQUEST, sx + 4, rx - 4, "semantics.leg.request"], [yRep, REPLY, rx - 4, sx + 4, "semantics.leg.reply"]]) {
      ctx.strokeStyle = color;
      ctx.setLineDash(y === yRep ? [6, 4] : []);
      ctx.beginPath();
      ctx.moveTo(from, y);
      ctx.lineTo(to, y);
      ctx.stroke();
      ctx.setLineDash([]);
      const dir = Math.sign(to - from);
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.moveTo(to, y);
      ctx.lineTo(to - dir * 8, y - 5);
      ctx.lineTo(to - dir * 8, y + 5);
      ctx.fill();
      ctx.font = font(11, 600);
      ctx.textAlign = "left";
      ctx.textBaseline = y === yRep ? "bottom" : "top";
      ctx.fillText(t(key), sx + 8, y === yRep ? y - 4 : y + 4);
    }
    // The tokens in flight, and lost ones' breaks.
    const tokens = [];
    for (let i = upper(d.msgStarts, at) - 1; i >= 0 && d.msgs[i].t0 >= at - d.maxFlight; i--) {
      const m = d.msgs[i];
      if (m.lost ? at >= m.end + LINGER : at >= m.end) continue;
      const broken = m.lost && at >= m.end;
      const f = broken ? m.lost.at : Math.min(1, Math.max(0, (at - m.t0) / Math.max(1e-9, m.t1 - m.t0)));
      const x = m.leg === "request" ? sx + 10 + (rx - sx - 20) * f : rx - 10 - (rx - sx - 20) * f;
      tokens.push({ m, x, broken });
    }
    const many = tokens.length > 8;
    const drawnTokens = [];
    for (const { m, x, broken } of tokens) {
      const y = m.leg === "request" ? yReq : yRep;
      const color = m.leg === "request" ? REQUEST : REPLY;
      const shape = m.fromRecord ? "dashed" : m.attempt > 1 ? "square" : "circle";
      let label = m.attempt > 1 ? t("semantics.token.try", { order: m.order, n: m.attempt }) : `#${m.order}`;
      if (m.fromRecord) label = t("semantics.token.record", { order: m.order });
      if (broken) label = t("semantics.token.lost", { order: m.order });
      this.token(x, y, shape, broken ? BAD : color, broken);
      if (!many || broken || m.attempt > 1) {
        ctx.font = font(11, 700);
        ctx.textAlign = "center";
        ctx.textBaseline = m.leg === "request" ? "bottom" : "top";
        ctx.fillStyle = broken ? BAD : INK;
        ctx.fillText(label, x, m.leg === "request" ? y - 9 : y + 9);
      }
      drawnTokens.push({ order: m.order, attempt: m.attempt, leg: m.leg, shape, label, lost: Boolean(broken), fromRecord: m.fromRecord, x: x * k });
    }
    // Badges: a duplicate delivered or suppressed at the receiver, an outbox lost at the sender.
    const badges = [];
    for (let i = upper(d.markTimes, at) - 1; i >= 0 && d.marks[i].t > at - BADGE; i--) {
      const b = d.marks[i];
      const atReceiver = b.kind !== "outbox-lost";
      const x = atReceiver ? rx - 18 - badges.filter((q) => q.atReceiver).length * 6 : sx + 18;
      const y = (yReq + yRep) / 2;
      const lines = b.kind === "outbox-lost" ? [t("semantics.badge.outbox-lost", { order: b.order })]
        : [t("semantics.badge.duplicate", { order: b.order, n: b.attempt }),
          t(b.kind === "dup-delivered" ? "semantics.badge.again" : "semantics.badge.suppressed")];
      const color = b.kind === "dup-delivered" ? BAD : b.kind === "dup-suppressed" ? REPLY : WARN;
      this.diamond(x, y, color, b.kind !== "dup-suppressed");
      ctx.font = font(11, 800);
      ctx.textAlign = atReceiver ? "right" : "left";
      ctx.textBaseline = "middle";
      ctx.fillStyle = color;
      lines.forEach((line, j) => ctx.fillText(line, atReceiver ? x - 12 : x + 12, y + (j - (lines.length - 1) / 2) * 13));
      badges.push({ kind: b.kind, order: b.order, attempt: b.attempt, label: lines.join(" "), atReceiver });
    }
    this.drawn = { tokens: drawnTokens, badges, sender: senderDown ? "crashed" : "up", receiver: receiverDown ? "crashed" : "up", t: at };
    const said = t("semantics.strip-label", {
      name: t(SEMANTICS_WORDS[this.semantics].name), n: i18n.fmtNum(drawnTokens.length),
      sender: senderDown ? t("semantics.node.crashed") : t("semantics.node.up"),
      receiver: receiverDown ? t("semantics.node.crashed") : t("semantics.node.up"),
    });
    if (said !== this.said) {
      this.said = said;
      this.canvas.setAttribute("aria-label", said);
    }
  }

  node(x, nw, h, name, down, line) {
    const ctx = this.ctx;
    const y = 4;
    const hh = h - 8;
    ctx.lineWidth = 2;
    if (down) {
      ctx.fillStyle = "#fee2e2";
      ctx.fillRect(x, y, nw, hh);
      ctx.save();
      ctx.beginPath();
      ctx.rect(x, y, nw, hh);
      ctx.clip();
      ctx.strokeStyle = "#fca5a5";
      ctx.lineWidth = 4;
      for (let s = -hh; s < nw; s += 14) {
        ctx.beginPath();
        ctx.moveTo(x + s, y + hh);
        ctx.lineTo(x + s + hh, y);
        ctx.stroke();
      }
      ctx.restore();
      ctx.strokeStyle = BAD;
    } else {
      ctx.fillStyle = "#fff";
      ctx.fillRect(x, y, nw, hh);
      ctx.strokeStyle = MUTED;
    }
    ctx.lineWidth = 2;
    ctx.strokeRect(x, y, nw, hh);
    ctx.fillStyle = INK;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    this.wrap(name, x + nw / 2, y + 6, nw - 8, `700 12px system-ui, sans-serif`, 14);
    if (down) {
      ctx.fillStyle = BAD;
      ctx.font = "800 13px system-ui, sans-serif";
      ctx.textBaseline = "middle";
      ctx.fillText(`⚡ ${t("semantics.node.crashed")}`, x + nw / 2, y + hh / 2, nw - 6);
    }
    if (line) {
      ctx.fillStyle = down ? BAD : MUTED;
      ctx.textBaseline = "bottom";
      this.wrap(line, x + nw / 2, y + hh - 20, nw - 8, "600 11px system-ui, sans-serif", 13, true);
    }
  }

  /** Text in at most two lines of `width`, centred at x; `up`: the last line ends at y + lh. */
  wrap(text, x, y, width, font, lh, up = false) {
    const ctx = this.ctx;
    ctx.font = font;
    const words = String(text).split(" ");
    const lines = [];
    let cur = "";
    for (const word of words) {
      const next = cur ? `${cur} ${word}` : word;
      if (ctx.measureText(next).width > width && cur) {
        lines.push(cur);
        cur = word;
      } else cur = next;
    }
    if (cur) lines.push(cur);
    const shown = lines.slice(0, 2);
    const y0 = up ? y - (shown.length - 1) * lh : y;
    shown.forEach((line, i) => ctx.fillText(line, x, y0 + i * lh + (up ? lh : 0), width));
  }

  token(x, y, shape, color, broken) {
    const ctx = this.ctx;
    ctx.lineWidth = 2;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    if (broken) {
      ctx.font = "800 15px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText("✂", x, y);
      return;
    }
    if (shape === "square") {
      ctx.fillRect(x - 6, y - 6, 12, 12);
    } else if (shape === "dashed") {
      ctx.fillStyle = "#fff";
      ctx.setLineDash([3, 2]);
      ctx.beginPath();
      ctx.arc(x, y, 7, 0, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
      ctx.setLineDash([]);
    } else {
      ctx.beginPath();
      ctx.arc(x, y, 6.5, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  /** A duplicate's mark: a diamond, doubled when the duplicate was processed again. */
  diamond(x, y, color, double) {
    const ctx = this.ctx;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    for (const r of double ? [9, 5] : [8]) {
      ctx.beginPath();
      ctx.moveTo(x, y - r);
      ctx.lineTo(x + r, y);
      ctx.lineTo(x, y + r);
      ctx.lineTo(x - r, y);
      ctx.closePath();
      ctx.stroke();
    }
  }
}
