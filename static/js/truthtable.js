// The truth table (issue 12): every combination of the failure points for one order (rows)
// under the three semantics (columns), each cell the engine's outcome (GET /api/truth-table,
// engine/truth.py), never written by hand. A cell is a button: clicking it (or Enter) plays
// its case in the lanes. One tab stop per column (a roving tabindex): ↑ ↓ Home End move
// within the column, Tab goes to the next column (→ and PageDown stay Step).
// The outcome is said by an icon and a word, not by colour alone.

import * as i18n from "./i18n.js";
import { failureWords } from "./words.js";
import { SEMANTICS_WORDS } from "./lanes.js";

const { t } = i18n;

export const OUTCOME_WORDS = {
  consistent: { icon: "✓", key: "semantics.outcome.consistent" },
  stuck: { icon: "∅", key: "semantics.outcome.stuck" },
  "reserved-not-approved": { icon: "⚠", key: "semantics.outcome.reserved-not-approved" },
  "double-reserved": { icon: "✕✕", key: "semantics.outcome.double-reserved" },
  "in-flight": { icon: "…", key: "semantics.outcome.in-flight" },
};

const POINT_SHORT = {
  "request-lost": "semantics.point.request-lost",
  "crash-before-processing": "semantics.point.crash-before-processing",
  "crash-after-processing": "semantics.point.crash-after-processing",
  "reply-lost": "semantics.point.reply-lost",
  "sender-crash": "semantics.point.sender-crash",
};

export class TruthTable {
  /** @param {object} o table (<table>), status (<p>), onPlay(case, semantics, cell) */
  constructor({ table, status, onPlay, fetchJson }) {
    Object.assign(this, { table, status, onPlay });
    this.fetchJson = fetchJson;
    this.data = null;
    this.key = null;
    this.current = null; // {case, semantics}
    table.addEventListener("click", (ev) => {
      const b = ev.target.closest("button.tt-cell");
      if (b) this.play(b);
    });
    table.addEventListener("keydown", (ev) => this.keydown(ev));
  }

  /** Load the table for an outbox and a number of attempts (kept while they stay). */
  async load(outbox, maxAttempts) {
    const key = `${outbox}|${maxAttempts}`;
    if (key === this.key && this.data) return this.data;
    this.key = key;
    this.table.setAttribute("aria-busy", "true");
    this.status.textContent = t("semantics.table.computing");
    try {
      const data = await this.fetchJson(`/api/truth-table?outbox=${encodeURIComponent(outbox)}&max_attempts=${maxAttempts}`);
      if (this.key !== key) return null;
      this.data = data;
      this.render();
      this.status.textContent = t("semantics.table.caption", { outbox: t(`semantics.outbox.${outbox}`), n: i18n.fmtNum(maxAttempts) });
      return data;
    } catch (err) {
      this.key = null;
      this.status.textContent = t("semantics.table.failed", { message: err.message });
      return null;
    } finally {
      this.table.removeAttribute("aria-busy");
    }
  }

  render() {
    const d = this.data;
    const points = d.failure_points;
    const head = points.map((p) => {
      const w = failureWords(p);
      return `<th scope="col" class="tt-point" title="${w.label}"><span class="tt-rot"><span aria-hidden="true">${w.icon}</span>&nbsp;${t(POINT_SHORT[p] || "semantics.point.unknown")}</span></th>`;
    }).join("") + d.semantics.map((s) =>
      `<th scope="col" class="tt-sem" data-semantics="${s}"><span aria-hidden="true">${SEMANTICS_WORDS[s].icon}</span> ${t(SEMANTICS_WORDS[s].name)}</th>`).join("");
    const body = d.rows.map((row, r) => {
      const marks = points.map((p) => (row.failures.includes(p)
        ? `<td class="tt-mark" data-on="yes"><span aria-hidden="true">●</span><span class="tt-sr">${t("semantics.table.on")}</span></td>`
        : `<td class="tt-mark" data-on="no"><span aria-hidden="true">·</span><span class="tt-sr">${t("semantics.table.off")}</span></td>`)).join("");
      const caseWords = row.failures.length ? row.failures.map((p) => failureWords(p).label).join(" + ") : t("semantics.table.none");
      const cells = d.semantics.map((s, c) => {
        const cell = row.cells[s];
        const o = OUTCOME_WORDS[cell.outcome] || OUTCOME_WORDS["in-flight"];
        const label = t("semantics.table.cell-label", { failures: caseWords, semantics: t(SEMANTICS_WORDS[s].name), outcome: t(o.key) });
        return `<td class="tt-out"><button type="button" class="tt-cell" data-outcome="${cell.outcome}" data-case="${row.case}" data-semantics="${s}"
          data-row="${r}" data-col="${c}" tabindex="${r === 0 ? 0 : -1}" aria-label="${label}" title="${cell.reason}"><span class="tt-icon" aria-hidden="true">${o.icon}</span> <span class="tt-word">${t(o.key)}</span></button></td>`;
      }).join("");
      return `<tr data-case="${row.case}"><th scope="row" class="tt-case"><span class="tt-sr">${caseWords}</span>${r + 1}</th>${marks}${cells}</tr>`;
    }).join("");
    this.table.innerHTML = `<caption class="tt-sr">${t("semantics.table.heading")}</caption>
      <thead><tr><th scope="col" class="tt-num">${t("semantics.table.case")}</th>${head}</tr></thead><tbody>${body}</tbody>`;
    this.mark();
  }

  /** The cell of `case` and `semantics` (a button), or null. */
  cell(caseName, semantics) {
    return this.table.querySelector(`button.tt-cell[data-case="${CSS.escape(caseName)}"][data-semantics="${CSS.escape(semantics)}"]`);
  }

  /** Which cell is playing: aria-pressed on it, and its column's tab stop. */
  mark(current = this.current) {
    this.current = current;
    for (const b of this.table.querySelectorAll("button.tt-cell[aria-pressed]")) b.removeAttribute("aria-pressed");
    if (!current) return;
    const b = this.cell(current.case, current.semantics);
    if (b) {
      b.setAttribute("aria-pressed", "true");
      this.rove(b);
    }
  }

  rove(b) {
    const col = b.dataset.col;
    for (const o of this.table.querySelectorAll(`button.tt-cell[data-col="${col}"]`)) o.tabIndex = o === b ? 0 : -1;
  }

  play(b) {
    this.rove(b);
    const cell = this.data.rows[Number(b.dataset.row)].cells[b.dataset.semantics];
    this.mark({ case: b.dataset.case, semantics: b.dataset.semantics });
    this.onPlay(b.dataset.case, b.dataset.semantics, cell);
  }

  keydown(ev) {
    const b = ev.target.closest && ev.target.closest("button.tt-cell");
    if (!b) return;
    const rows = this.data.rows.length;
    const r = Number(b.dataset.row);
    let to = null;
    if (ev.key === "ArrowDown") to = Math.min(rows - 1, r + 1);
    else if (ev.key === "ArrowUp") to = Math.max(0, r - 1);
    else if (ev.key === "Home") to = 0;
    else if (ev.key === "End") to = rows - 1;
    if (to === null) return;
    ev.preventDefault();
    const next = this.table.querySelector(`button.tt-cell[data-row="${to}"][data-col="${b.dataset.col}"]`);
    if (next) {
      this.rove(next);
      next.focus();
    }
  }
}
