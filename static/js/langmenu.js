// The language menu in the top bar (docs/i18n.md): its options are the server's languages
// (i18n.js `langs`); choosing one reloads the page with ?lang=xx, every other parameter of
// the address kept (the run it describes, share.js). English is the default and leaves no
// `lang` in the address. A ?lang= the server does not have shows the page in English and
// says so in the notice under the top bar.
import { APPLIED_KEY } from "./bookmark.js";
import { lang, langError, langs, t } from "./i18n.js";

/** The address `href` with the language `code` in it (none for English), the rest kept. */
export function withLang(href, code) {
  const url = new URL(href);
  if (code === "en") url.searchParams.delete("lang");
  else url.searchParams.set("lang", code);
  // URLSearchParams writes "~" as %7E: the command log (share.js) keeps its short form.
  url.search = url.searchParams.toString().replace(/%7E/gi, "~");
  return url.toString();
}

export class LanguageMenu {
  /** @param {object} o select (the <select>), notice (the Notice under the top bar) */
  constructor({ select, notice }) {
    this.select = select;
    select.textContent = "";
    for (const [code, name] of Object.entries(langs)) {
      const opt = new Option(name, code, code === lang, code === lang);
      opt.lang = code; // each language's name is in that language
      select.append(opt);
    }
    select.addEventListener("change", () => this.go(select.value));
    if (langError) {
      const asked = new URLSearchParams(window.location.search).get("lang") || "";
      const value = asked.length > 20 ? `${asked.slice(0, 20)}…` : asked;
      notice.show(t("lang.unknown-head"), [t("lang.unknown", { value, langs: Object.keys(langs).join(", ") })]);
    }
  }

  /** Reload in language `code`. The tab's run is kept: the address still describes it, so
   * the bookmark is not applied again (the session resumes where it was). */
  go(code) {
    if (code === lang) return;
    const next = withLang(window.location.href, code);
    try {
      if (sessionStorage.getItem(APPLIED_KEY) === window.location.search) {
        sessionStorage.setItem(APPLIED_KEY, new URL(next).search);
      }
    } catch {
      /* private mode: the bookmark is applied again, the same run */
    }
    window.location.assign(next);
  }
}
