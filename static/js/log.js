// The event log: a virtualized list over the view state's ring buffer. Only the rows in
// view exist in the DOM (a few dozen), whatever the event rate. Hovering a row highlights
// its message on the stage; clicking pins the highlight. The row where an order's
// divergence began (the store's divergedAtSeq) is flagged.
import { describe, fmtInt } from "./words.js";

const ROW_H = 28; // keep in step with .log .row in app.css

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}
const OVERSCAN = 4;

export class EventLog {
  constructor(container, countEl, store, view) {
    this.el = container;
    this.inner = container.querySelector(".log-inner");
    this.countEl = countEl;
    this.store = store;
    this.view = view;
    this.follow = true;
    this.pinned = null; // log index of a pinned row
    this.hovered = null;
    this.rendered = "";
    this.viewH = container.clientHeight || 200;
    new ResizeObserver(() => {
      this.viewH = this.el.clientHeight || 200;
    }).observe(container);
    this.el.addEventListener("scroll", () => {
      const atEnd = this.el.scrollTop + this.viewH >= this.el.scrollHeight - ROW_H;
      if (atEnd && this.follow) return; // our own scroll to the newest entry
      this.follow = atEnd;
      this.render(true);
    });
    this.el.addEventListener("mouseover", (ev) => {
      const row = ev.target.closest(".row");
      if (!row) return;
      this.hovered = Number(row.dataset.index);
      this.emitHighlight();
    });
    this.el.addEventListener("mouseleave", () => {
      this.hovered = null;
      this.emitHighlight();
    });
    this.el.addEventListener("click", (ev) => {
      const row = ev.target.closest(".row");
      if (!row) return;
      const i = Number(row.dataset.index);
      this.pinned = this.pinned === i ? null : i;
      this.emitHighlight();
      this.render(true);
    });
  }

  reset() {
    this.pinned = null;
    this.hovered = null;
    this.follow = true;
    this.rendered = "";
    this.emitHighlight();
  }

  emitHighlight() {
    const v = this.view;
    const i = this.hovered !== null ? this.hovered : this.pinned;
    const e = i !== null && i >= v.logStart() ? v.logAt(i) : null;
    v.highlight = e ? { msg: e.msg || null, order: e.msg ? null : e.order || null, seq: e.seq } : null;
  }

  /** Scroll to the entry with this seq (if still in the log) and pin it. */
  jumpToSeq(seq) {
    const s = this.view;
    let lo = s.logStart();
    let hi = s.logCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = s.logAt(mid);
      if (e.seq === seq) {
        this.pinned = mid;
        this.follow = false;
        this.el.scrollTop = (mid - s.logStart()) * ROW_H - this.el.clientHeight / 2;
        this.emitHighlight();
        this.render(true);
        return true;
      }
      if (e.seq < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  render(force = false) {
    const s = this.view;
    if (!force && !s.dirty.log) return;
    s.dirty.log = false;
    const divergedAtSeq = this.store.divergedAtSeq;
    const start = s.logStart();
    const n = s.logCount - start;
    this.countEl.textContent = s.logCount ? `(${fmtInt(s.logCount)})` : "";
    const total = n * ROW_H;
    if (this.inner.style.height !== `${total}px`) this.inner.style.height = `${total}px`;
    const viewH = this.viewH;
    let top;
    if (this.follow) {
      top = Math.max(0, total - viewH);
      this.el.scrollTop = total;
    } else {
      top = this.el.scrollTop;
    }
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + viewH) / ROW_H) + OVERSCAN);
    const key = `${start}:${first}:${last}:${this.pinned}:${s.divergenceRev}`;
    if (!force && key === this.rendered) return;
    this.rendered = key;
    const parts = [];
    for (let k = first; k < last; k++) {
      const i = start + k;
      const e = s.logAt(i);
      const [icon, text, tone] = describe(e);
      // The event where an order's divergence began: the moment the two states part.
      const partOrder = divergedAtSeq.get(e.seq);
      const flag = partOrder !== undefined ? `<span class="part-flag" title="Order #${partOrder} diverges at this event">⚑ #${partOrder} parts here</span>` : "";
      parts.push(`<div class="row ${tone}${flag ? " parts" : ""}${i === this.pinned ? " pinned" : ""}" data-index="${i}" data-seq="${e.seq}" style="top:${k * ROW_H}px">` +
        `<span class="seq">${e.seq}</span><span class="lt">${e.t.toFixed(2)}</span><span class="icon" aria-hidden="true">${icon}</span>${flag}<span class="text">${esc(text)}</span></div>`);
    }
    this.inner.innerHTML = parts.join("");
  }
}
