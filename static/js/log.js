// The event log: a virtualized list over the view state's ring buffer. Only the rows in
// view exist in the DOM (a few dozen), whatever the event rate. Hovering a row highlights
// its message on the stage; clicking pins the highlight. The row where an order's
// divergence began (the store's divergedAtSeq) is flagged.
// By keyboard, the log is a listbox of its entries: Up and Down move the focus from entry
// to entry (Home and End: the oldest kept and the newest), Enter pins the focused entry as
// a click does. Only while the focus is in the log: elsewhere the arrows are the page's.
import { fmtFixed, t } from "./i18n.js";
import { describe, esc, fmtInt } from "./words.js";

// A row is 1.556rem (28 px at the base type size), as .log .row in app.css: the page's
// type grows with the viewport, so the row height is read from the root font size.
const rowH = () => Math.round(1.556 * (parseFloat(getComputedStyle(document.documentElement).fontSize) || 18));

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
      const atEnd = this.el.scrollTop + this.viewH >= this.el.scrollHeight - rowH();
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
      this.togglePin(Number(row.dataset.index));
    });
    this.cursor = null; // log index of the entry the keyboard is on
    this.inner.setAttribute("role", "none");
    this.el.addEventListener("focusin", (ev) => {
      const row = ev.target.closest(".row");
      if (row) this.cursor = Number(row.dataset.index);
    });
    this.el.addEventListener("keydown", (ev) => this.onKey(ev));
  }

  /** Pin the entry at log index i, or unpin it if it is the pinned one (a click, Enter). */
  togglePin(i) {
    this.pinned = this.pinned === i ? null : i;
    this.emitHighlight();
    this.render(true);
  }

  onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
    const v = this.view;
    if (!v.logCount) return;
    const start = v.logStart();
    const newest = v.logCount - 1;
    const row = ev.target.closest(".row");
    const at = row ? Number(row.dataset.index) : null;
    // From the log itself: the entry the keyboard was on, the pinned one, or the newest.
    const from = at !== null ? at : [this.cursor, this.pinned].find((i) => i !== null && i >= start && i <= newest) ?? newest;
    let to;
    switch (ev.key) {
      case "ArrowDown":
        to = at === null ? from : from + 1;
        break;
      case "ArrowUp":
        to = at === null ? from : from - 1;
        break;
      case "Home":
        to = start;
        break;
      case "End":
        to = newest;
        break;
      case "Enter":
        if (at === null) return;
        ev.preventDefault();
        this.togglePin(at);
        return;
      default:
        return;
    }
    ev.preventDefault();
    this.focusEntry(Math.min(newest, Math.max(start, to)));
  }

  /** Scroll the entry at log index i into view, draw it and give it the focus. */
  focusEntry(i) {
    const h = rowH();
    const y = (i - this.view.logStart()) * h;
    const el = this.el;
    this.follow = false;
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + h > el.scrollTop + this.viewH) el.scrollTop = y + h - this.viewH;
    this.cursor = i;
    this.render(true);
    const row = this.rowAt(i);
    if (row) row.focus({ preventScroll: true });
  }

  rowAt(i) {
    return this.inner.querySelector(`.row[data-index="${i}"]`);
  }

  reset() {
    this.pinned = null;
    this.cursor = null;
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
        this.el.scrollTop = (mid - s.logStart()) * rowH() - this.el.clientHeight / 2;
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
    const total = n * rowH();
    if (this.inner.style.height !== `${total}px`) this.inner.style.height = `${total}px`;
    const viewH = this.viewH;
    let top;
    if (this.follow) {
      top = Math.max(0, total - viewH);
      this.el.scrollTop = total;
    } else {
      top = this.el.scrollTop;
    }
    const first = Math.max(0, Math.floor(top / rowH()) - OVERSCAN);
    const last = Math.min(n, Math.ceil((top + viewH) / rowH()) + OVERSCAN);
    const key = `${start}:${first}:${last}:${this.pinned}:${s.divergenceRev}`;
    if (!force && key === this.rendered) return;
    this.rendered = key;
    const parts = [];
    // An entry that has the focus keeps it when the rows are drawn again.
    const active = document.activeElement;
    const focused = active && active.parentNode === this.inner ? Number(active.dataset.index) : null;
    for (let k = first; k < last; k++) {
      const i = start + k;
      const e = s.logAt(i);
      const [icon, text, tone] = describe(e);
      // The event where an order's divergence began: the moment the two states part.
      const partOrder = divergedAtSeq.get(e.seq);
      const flag = partOrder !== undefined ? `<span class="part-flag" title="${esc(t("log.part-title", { order: partOrder }))}">⚑ ${esc(t("log.parts-here", { order: partOrder }))}</span>` : "";
      parts.push(`<div class="row ${tone}${flag ? " parts" : ""}${i === this.pinned ? " pinned" : ""}" data-index="${i}" data-seq="${e.seq}" role="option" tabindex="-1" aria-selected="${i === this.pinned}" aria-posinset="${k + 1}" aria-setsize="${n}" style="top:${k * rowH()}px">` +
        `<span class="seq">${e.seq}</span><span class="lt">${fmtFixed(e.t, 2)}</span><span class="icon" aria-hidden="true">${icon}</span>${flag}<span class="text">${esc(text)}</span></div>`);
    }
    this.inner.innerHTML = parts.join("");
    if (focused !== null) (this.rowAt(focused) || this.el).focus({ preventScroll: true });
  }
}
