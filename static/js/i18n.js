// The words of the page, from the message catalogue of one language (static/i18n/<lang>.json,
// checked by server/i18n.py). The server puts the catalogue into the page as
// <script type="application/json" id="i18n">, so no fetch is needed and nothing is lost
// offline. Every word the page shows comes from t() / tn(); a key nobody defines shows as
// the key itself (and tests/test_i18n.py fails before that can ship).
const el = typeof document !== "undefined" ? document.getElementById("i18n") : null;
const data = el ? JSON.parse(el.textContent) : { lang: "en", langs: { en: "English" }, words: {} };

/** The page's language ("en", "de"). */
export const lang = data.lang;
/** The languages offered: code -> name in that language. */
export const langs = data.langs;
const words = data.words;
/** Why the asked-for language (?lang=) was not used, or null. */
export const langError = data.error || null;
const plurals = new Intl.PluralRules(lang);

/** The text for `key`, with `{name}` placeholders filled from `params`. */
export function t(key, params) {
  const text = words[key];
  if (text === undefined) return key;
  return params ? fill(text, params) : text;
}

/** A plural text: `key.one` or `key.other` by `n` (also available as `{n}`), formatted. */
export function tn(key, n, params) {
  const form = plurals.select(n) === "one" ? "one" : "other";
  return t(`${key}.${form}`, { n: fmtNum(n), ...params });
}

/** Whether the catalogue has `key` (for optional words, e.g. a label per failure point). */
export function has(key) {
  return Object.prototype.hasOwnProperty.call(words, key);
}

/** A number in the page's language (1,234.5 / 1.234,5). */
export function fmtNum(n, digits) {
  const opts = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return Number(n).toLocaleString(lang, opts);
}

const fixed = new Map(); // digits -> formatter (toLocaleString makes one per call)

/** A number with exactly `digits` decimals and no grouping, as toFixed in the page's
 * language (12.50 / 12,50): times and per cents. */
export function fmtFixed(n, digits) {
  let f = fixed.get(digits);
  if (!f) {
    f = new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false });
    fixed.set(digits, f);
  }
  return f.format(n);
}

function fill(text, params) {
  return text.replace(/\{([a-z_][a-z0-9_]*)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}
