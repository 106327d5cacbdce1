// DOM panels: the live state inside the two service nodes, the global credit comparison
// (and its alarm), the per-order table (what the sender knows beside what happened),
// and the metrics view. Re-rendered at most a few times per second, and only the parts
// the view state marks as changed. Reads the store and the view state's flashes.
import * as i18n from "./i18n.js";
import { divergenceWords, esc, failureWords, fmtInt, fmtPct, fmtT, metricsTolerance, metricsVerdict, orderStory, samplesLostWords, senderKnows, stateWord } from "./words.js";

const MAX_ORDER_ROWS = 25;
const MAX_CHIPS = 3;
const MAX_NAMED = 3;
// The metrics verdict: the aggregate's error (average received against average sent, in %
// of the average sent) within this is "barely moved"; so is losing at most this share.
const METRICS_TOLERANCE_PCT = 1;
const METRICS_MAX_LOST_PCT = 50;

const $ = (sel) => document.querySelector(sel);

// Write markup only when it changed: a busy stream re-renders often with the same text.
function setHTML(el, html) {
  if (el._html !== html) {
    el._html = html;
    el.innerHTML = html;
  }
}


function nameOrders(ids) {
  const shown = ids.slice(0, MAX_NAMED).map((id) => `#${id}`);
  const more = ids.length - shown.length;
  const list = shown.length > 1 ? i18n.t("list.and", { list: shown.slice(0, -1).join(", "), last: shown[shown.length - 1] }) : shown[0];
  return more > 0 ? i18n.t("list.and-more", { list: shown.join(", "), more: fmtInt(more) }) : list;
}

const STATE_ICON = { new: "○", approved: "✓", cancelled: "✗" };
const BADGE = {
  "in-flight": ["◷", i18n.t("judgement.in-flight")],
  consistent: ["✓", i18n.t("judgement.consistent")],
  diverged: ["⚠", i18n.t("judgement.diverged")],
};

export class Panels {
  /** onJumpToSeq(seq): the alarm's "parted at" moment was clicked (the log shows that event).
   *  onReveal(orderId): a diverged order was selected (the diagram shows where it parted). */
  constructor(store, view, onJumpToSeq, onReveal = null) {
    this.onReveal = onReveal;
    this.store = store;
    this.view = view;
    this.senderBody = $("#sender-body");
    this.receiverBody = $("#receiver-body");
    this.receiverEl = $("#receiver");
    this.downBanner = $("#receiver-down");
    this.credit = $("#credit");
    this.reserved = $("#reserved");
    this.approved = $("#approved");
    this.verdict = $("#credit-verdict");
    this.ordersBody = $("#orders tbody");
    this.orderCounts = $("#order-counts");
    this.sameNote = $("#same-note");
    this.ordersPanel = $("#orders-panel");
    this.metricsPanel = $("#metrics-panel");
    this.clockEl = $("#clock");
    this.rows = new Map(); // order id -> {tr, v}
    this.lastReserved = null;
    this.verdict.addEventListener("click", (ev) => {
      const a = ev.target.closest("[data-seq]");
      if (a) onJumpToSeq(Number(a.dataset.seq));
    });
    this.onJumpToSeq = onJumpToSeq;
    this.bindOrderRows();
  }

  reset() {
    this.rows.clear();
    this.ordersBody.textContent = "";
    this.lastReserved = null;
  }

  render(t, now) {
    const s = this.store;
    const d = this.view.dirty;
    const metricsMode = s.metricsRun();
    this.clockEl.textContent = `t = ${fmtT(Math.max(0, t))}`;
    this.ordersPanel.hidden = metricsMode;
    this.metricsPanel.hidden = !metricsMode;
    this.credit.hidden = metricsMode;
    if (d.panels || !s.customer.up || this.bannerUp || this.pulsing) {
      this.renderSender(metricsMode);
      this.renderReceiver(t, now, metricsMode);
      if (metricsMode) this.renderMetrics();
      else this.renderCredit();
      d.panels = false;
    }
    if (d.orders && !metricsMode) {
      this.renderOrders();
      d.orders = false;
    }
    if (!metricsMode) this.markSelected();
    this.renderFlashes(now);
  }

  renderSender(metricsMode) {
    const s = this.store;
    if (metricsMode) {
      // Every sample sent so far (a lost one too), not only those the receiver recorded.
      const sent = Math.max(s.metrics ? s.metrics.true_count : 0, s.msgs.sent);
      setHTML(this.senderBody, `<p class="figure"><span class="num" data-testid="samples-sent">${fmtInt(sent)}</span> ${esc(i18n.t("sender.samples-sent"))}</p>
        <p class="note">${esc(i18n.t("sender.fire-and-forget"))}</p>`);
      return;
    }
    const c = s.counts;
    const inFlight = c.orders - c.approved - c.cancelled;
    const chips = [];
    const ids = s.orderIds;
    const justTimedOut = new Set();
    const now = performance.now();
    for (const f of this.view.flashes) if (f.kind === "timeout" && f.until > now) justTimedOut.add(f.order);
    // A stream of timeouts (many orders): no pulsing, the "?" says it.
    if (justTimedOut.size > 3) justTimedOut.clear();
    this.pulsing = justTimedOut.size > 0;
    for (let i = ids.length - 1; i >= 0 && chips.length < MAX_CHIPS; i--) {
      const o = s.orders.get(ids[i]);
      if (!o) continue;
      const unknown = o.sender_saw === "no-reply";
      const pulse = justTimedOut.has(o.id) ? " just-timed-out" : "";
      chips.push(`<li class="chip state-${o.order_state}${unknown ? " unknown" : ""}${pulse}" data-order="${o.id}">
        <span class="chip-id">#${o.id}</span> <span class="chip-state">${STATE_ICON[o.order_state] || ""} ${esc(stateWord(o.order_state))}</span>${unknown ? ` <span class="q" title="${esc(i18n.t("sender.outcome-unknown"))}">?</span>` : ""}</li>`);
    }
    setHTML(this.senderBody, `<p class="tally"><span>✓ ${esc(i18n.t("sender.approved", { n: fmtInt(c.approved) }))}</span> <span>✗ ${esc(i18n.t("sender.cancelled", { n: fmtInt(c.cancelled) }))}</span> <span>○ ${esc(i18n.t("sender.new", { n: fmtInt(inFlight) }))}</span></p>
      <ul class="chips" aria-label="${esc(i18n.t("sender.latest"))}">${chips.join("") || `<li class="empty">${esc(i18n.t("sender.no-orders"))}</li>`}</ul>`);
  }

  renderReceiver(t, now, metricsMode) {
    const s = this.store;
    const cu = s.customer;
    this.receiverEl.classList.toggle("down", !cu.up);
    const restartedNow = this.view.flashing("restart", now);
    this.receiverEl.classList.toggle("bannered", !cu.up || restartedNow);
    // Down: a hatched banner with the time left. Just restarted: a green one for a moment,
    // saying what survived the crash (the reservations) and what did not (its memory).
    const restarted = cu.up && restartedNow;
    this.bannerUp = restarted;
    this.downBanner.hidden = cu.up && !restarted;
    this.downBanner.classList.toggle("restarted", restarted);
    if (!cu.up) {
      const crash = s.lastCrash;
      const how = crash ? failureWords(crash.point).happened : i18n.t("receiver.crashed");
      const left = cu.restarts_at !== null && cu.restarts_at !== undefined ? Math.max(0, cu.restarts_at - t) : null;
      const down = left !== null ? i18n.t("receiver.down-for", { s: i18n.fmtFixed(left, 1) }) : i18n.t("receiver.down");
      setHTML(this.downBanner, `<strong><span aria-hidden="true">⚡</span> ${esc(down)}</strong><span class="why">${esc(how)}</span>`);
    } else if (restarted) {
      setHTML(this.downBanner, `<strong><span aria-hidden="true">↻</span> ${esc(i18n.t("receiver.restarted"))}</strong><span class="why">${esc(i18n.t("receiver.credit-kept"))}</span>`);
    }
    if (metricsMode) {
      const m = s.metrics;
      setHTML(this.receiverBody, `<p class="figure"><span class="num">${fmtInt(m ? m.seen_count : 0)}</span> ${esc(i18n.t("receiver.samples-received"))}</p>
        <p class="figure small">${esc(i18n.t("receiver.average"))} <span class="num">${m && m.seen_count ? i18n.fmtFixed(m.seen_mean, 2) : "–"}</span></p>`);
      return;
    }
    const proc = [];
    for (const p of s.processing.values()) {
      if (p.order) proc.push(`#${p.order}`);
      if (proc.length > 3) break;
    }
    const flashing = this.lastReserved !== null && cu.reserved !== this.lastReserved;
    this.lastReserved = cu.reserved;
    setHTML(this.receiverBody, `<dl class="figures">
        <div class="reserved${flashing ? " flash" : ""}"><dt>${esc(i18n.t("receiver.reserved"))}</dt><dd data-testid="credit-reserved">${fmtInt(cu.reserved)}</dd></div>
        <div class="small"><dt>${esc(i18n.t("receiver.available"))}</dt><dd>${i18n.t("receiver.available-of", { available: `<span data-testid="credit-available">${fmtInt(cu.available)}</span>`, limit: `<span data-testid="credit-limit">${fmtInt(cu.credit_limit)}</span>` })}</dd></div>
      </dl>
      <p class="activity"${cu.up ? "" : " hidden"}>${proc.length ? `<span aria-hidden="true">⚙</span> ${esc(i18n.t("receiver.processing", { orders: proc.slice(0, 3).join(", ") }))}${proc.length > 3 ? "…" : ""}` : cu.up ? `<span aria-hidden="true">●</span> ${esc(i18n.t("receiver.up-waiting"))}` : ""}</p>`);
  }

  renderCredit() {
    const s = this.store;
    const reserved = s.customer.reserved;
    const approved = s.approvedTotal;
    this.reserved.textContent = fmtInt(reserved);
    this.approved.textContent = fmtInt(approved);
    const unbacked = s.unbackedList();
    const stuck = [...s.stuckOrders].sort((a, b) => a - b);
    const inv = s.invariant;
    let html = "";
    let alarm = "off";
    if (!inv.ok || unbacked.length) {
      alarm = "credit";
      // The engine's figure: credit held that no approved or in-flight order accounts for.
      const sum = inv.unbacked;
      const moment = inv.broken_at_seq !== null && inv.broken_at_seq !== undefined
        ? ` <button type="button" class="moment" data-seq="${inv.broken_at_seq}">${esc(inv.broken_at_t !== null && inv.broken_at_t !== undefined
          ? i18n.t("credit.parted-at", { t: fmtT(inv.broken_at_t), seq: fmtInt(inv.broken_at_seq) })
          : i18n.t("credit.parted-event", { seq: fmtInt(inv.broken_at_seq) }))}</button>`
        : "";
      const orders = `<strong data-testid="alarm-orders">${esc(unbacked.length ? nameOrders(unbacked) : i18n.t("credit.before-joined"))}</strong>`;
      html += `<span class="alarm-title"><span aria-hidden="true">⚠</span> ${esc(i18n.t("credit.alarm"))}</span>
        <span class="alarm-text">${i18n.t(unbacked.length === 1 ? "credit.held-for.one" : "credit.held-for.other", { sum: `<strong>${fmtInt(sum)}</strong>`, orders })}${moment}</span>`;
    }
    if (stuck.length) {
      if (alarm === "off") alarm = "stuck";
      const orders = `<strong data-testid="stuck-orders">${esc(nameOrders(stuck))}</strong>`;
      html += `<span class="stuck-text"><span aria-hidden="true">⚠</span> ${i18n.t(stuck.length === 1 ? "credit.stuck.one" : "credit.stuck.other", { orders, new: `<em>${esc(stateWord("new"))}</em>` })}</span>`;
    }
    if (alarm === "off") {
      if (reserved === approved) html = `<span aria-hidden="true">✓</span> ${esc(i18n.t("credit.agree"))}`;
      else html = `<span aria-hidden="true">◷</span> ${esc(i18n.t("credit.apart", { n: fmtInt(Math.abs(reserved - approved)) }))}`;
    }
    this.credit.dataset.alarm = alarm;
    setHTML(this.verdict, html);
  }

  renderOrders() {
    const s = this.store;
    const c = s.counts;
    const inFlight = Math.max(0, c.orders - c.consistent - c.diverged);
    this.orderCounts.textContent = c.orders
      ? i18n.t("orders.counts", { consistent: fmtInt(c.consistent), in_flight: fmtInt(inFlight), diverged: fmtInt(c.diverged) })
      : "";
    this.sameNote.hidden = c.timeouts === 0;
    const ids = s.orderIds;
    const want = [];
    for (let i = ids.length - 1; i >= 0 && want.length < MAX_ORDER_ROWS; i--) {
      if (s.orders.has(ids[i])) want.push(ids[i]);
    }
    const keep = new Set(want);
    const hadFocus = this.ordersBody.contains(document.activeElement);
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    let prev = null;
    for (const id of want) {
      const o = s.orders.get(id);
      let row = this.rows.get(id);
      if (!row) {
        const tr = document.createElement("tr");
        tr.dataset.order = id;
        tr.tabIndex = -1;
        tr.setAttribute("aria-selected", String(id === this.selectedOrder));
        row = { tr, rev: -1 };
        this.rows.set(id, row);
      }
      if (row.rev !== o.rev) {
        row.rev = o.rev;
        this.fillRow(row.tr, o);
      }
      const before = prev ? prev.nextSibling : this.ordersBody.firstChild;
      if (before !== row.tr) this.ordersBody.insertBefore(row.tr, before);
      prev = row.tr;
    }
    // One tab stop for the table: the row the keyboard was on, or else the newest.
    const cur = this.rows.get(this.orderCursor);
    const tr = cur ? cur.tr : this.ordersBody.firstElementChild;
    if (tr) {
      this.rove(tr);
      if (hadFocus && !this.ordersBody.contains(document.activeElement)) tr.focus({ preventScroll: true });
    }
  }

  // ---- the orders by keyboard: Up and Down (Home, End) move between the rows while the
  // focus is in the table; Enter, or a click, selects an order: its first entry in the log
  // is pinned, so its messages are highlighted on the stage as a click in the log does.
  bindOrderRows() {
    this.orderCursor = null; // id of the row with the table's tab stop
    this.selectedOrder = null; // id of the order the highlight is on
    const rowOf = (ev) => ev.target.closest("tr[data-order]");
    this.tabStop = null; // the row with tabindex 0
    this.ordersBody.addEventListener("focusin", (ev) => {
      const tr = rowOf(ev);
      if (!tr) return;
      this.orderCursor = Number(tr.dataset.order);
      this.rove(tr);
    });
    this.ordersBody.addEventListener("click", (ev) => {
      const tr = rowOf(ev);
      if (tr) this.selectOrder(Number(tr.dataset.order));
    });
    this.ordersBody.addEventListener("keydown", (ev) => {
      const tr = rowOf(ev);
      if (!tr || ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
      const body = this.ordersBody;
      let to = null;
      if (ev.key === "ArrowDown") to = tr.nextElementSibling;
      else if (ev.key === "ArrowUp") to = tr.previousElementSibling;
      else if (ev.key === "Home") to = body.firstElementChild;
      else if (ev.key === "End") to = body.lastElementChild;
      else if (ev.key === "Enter") {
        ev.preventDefault();
        this.selectOrder(Number(tr.dataset.order));
        return;
      } else return;
      ev.preventDefault();
      if (to) to.focus();
    });
  }

  /** Give the row `tr` the table's one tab stop. */
  rove(tr) {
    if (this.tabStop && this.tabStop !== tr) this.tabStop.tabIndex = -1;
    this.tabStop = tr;
    if (tr.tabIndex !== 0) tr.tabIndex = 0;
  }

  /** Highlight an order: pin its first event in the log (or, if the log no longer has it,
   *  highlight its messages directly). */
  selectOrder(id) {
    const o = this.store.orders.get(id);
    const first = o ? o.history.find((e) => e.type === "order-created") || o.history[0] : null;
    if (!(first && this.onJumpToSeq(first.seq))) this.view.highlight = { msg: null, order: id, seq: null };
    this.markSelected();
    if (o && o.judgement === "diverged" && this.onReveal) this.onReveal(id);
  }

  /** Mark the row of the order the highlight is on (hovered or pinned in the log, or selected). */
  markSelected() {
    const hl = this.view.highlight;
    const id = hl && !hl.msg && hl.order ? hl.order : null;
    if (id === this.selectedOrder) return;
    const old = this.rows.get(this.selectedOrder);
    if (old) old.tr.setAttribute("aria-selected", "false");
    const row = this.rows.get(id);
    if (row) row.tr.setAttribute("aria-selected", "true");
    this.selectedOrder = id;
  }

  fillRow(tr, o) {
    const [kIcon, kWords] = senderKnows(o);
    const [bIcon, bWords] = BADGE[o.judgement] || ["", o.judgement];
    const [steps, saysReserved] = orderStory(o);
    const story = steps.length ? steps.join(" → ") : o.judgement === "in-flight" ? i18n.t("orders.on-its-way") : "";
    const reason = o.judgement === "diverged" ? divergenceWords(o.divergence, o.reason) : "";
    // "(holds N)" only when the story does not already say the credit was reserved.
    const holds = o.credit_reserved && !saysReserved;
    tr.className = `judgement-${o.judgement}`;
    tr.innerHTML = `<th scope="row"><span class="oid">#${o.id} <span class="amount">${fmtInt(o.amount)}</span></span>
        <span class="badge ${o.judgement}" data-testid="badge"><span aria-hidden="true">${bIcon}</span> ${bWords}</span></th>
      <td class="knows"><span class="state state-${o.order_state}">${STATE_ICON[o.order_state] || ""} ${esc(stateWord(o.order_state))}</span>
        <span class="knows-text${o.sender_saw === "no-reply" ? " unknown" : ""}"><span aria-hidden="true">${kIcon}</span> ${esc(kWords)}</span></td>
      <td class="actual"><span class="story">${esc(story)}</span>${holds ? ` <span class="holds">${esc(i18n.t("orders.holds", { n: fmtInt(o.credit_reserved) }))}</span>` : ""}${reason ? `<span class="reason"><span aria-hidden="true">⚠</span> ${esc(reason)}</span>` : ""}</td>`;
  }

  renderMetrics() {
    const s = this.store;
    const m = s.metrics;
    // Samples sent: the message-sent events applied (the store's metrics are as of the
    // latest sample received, its loss count is up to date).
    const sent = Math.max(s.msgs.sent, m ? m.true_count : 0);
    const lost = s.samplesLost;
    const received = m ? m.seen_count : 0;
    // The verdict is judged on the figures as shown (rounded), so the two always agree.
    const lostPct = sent ? Number(((100 * lost) / sent).toFixed(1)) : 0;
    const errorPct = received ? Number((m.drift * 100).toFixed(2)) : null;
    $("#m-lost").textContent = samplesLostWords(lost, sent, lostPct);
    $("#m-true").textContent = m && m.true_count ? i18n.fmtFixed(m.true_mean, 2) : "–";
    $("#m-seen").textContent = received ? i18n.fmtFixed(m.seen_mean, 2) : "–";
    $("#m-drift").textContent = errorPct === null ? "–" : fmtPct(errorPct, 2);
    setHTML($("#m-tolerance"), esc(metricsTolerance(METRICS_TOLERANCE_PCT, METRICS_MAX_LOST_PCT)));
    const [tone, icon, words] = metricsVerdict({
      sent, lost, received, lostPct, errorPct, tolerancePct: METRICS_TOLERANCE_PCT, maxLostPct: METRICS_MAX_LOST_PCT,
    });
    const el = $("#m-verdict");
    el.dataset.verdict = tone;
    setHTML(el, `<span aria-hidden="true">${icon}</span> ${esc(words)}`);
  }

  renderFlashes(now) {
    // The receiver's reaction: highlight the reserved credit for a moment.
    const el = this.receiverBody.querySelector(".reserved");
    if (el) el.classList.toggle("flash", this.view.flashing("reserve", now));
  }
}
