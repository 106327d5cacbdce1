"""The message catalogues (issue 11, "Words in one place, and a second language"): every
key the page uses exists in every language, every key a catalogue holds is used, the
languages agree on placeholders and plural forms, the words that name the engine's things
cover all of them, and server/i18n.py refuses a broken catalogue with its file and key
named. Plain pytest: the files are read as text, no browser (tests/test_ui_i18n.py looks at
the page).

How a key counts as used (docs/i18n.md): it appears as a quoted string in static/js/*.js or
templates/*.html (``t("controls.play")``, a key in a table, either arm of a ``?:``), or,
for a plural pair ``x.one`` / ``x.other``, ``x`` does; or it is one of the DYNAMIC keys
below, built from the engine's names at run time; or the code builds it from a template
string `` `prefix.${name}` `` (keys under ``prefix.``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine import names
from engine.presets import PRESETS
from server import create_app
from server.i18n import DEFAULT_LANG, CatalogueError, Catalogues, placeholders

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "static" / "i18n"
JS = sorted((ROOT / "static" / "js").glob("*.js"))
TEMPLATES = sorted((ROOT / "templates").glob("*.html"))

# Keys the page builds at run time from the engine's names (each documented in docs/i18n.md):
# prefix -> the names that may follow it.
DYNAMIC = {
    "failure.": list(names.FAILURE_POINTS),  # failure.<point>.<word> (words.js failureWords)
    "scenario.": list(PRESETS),  # scenario.<preset>.title / .explains (controls.js)
    "divergence.": [k for k in names.DIVERGENCE_KINDS if k],  # divergence.<kind> (words.js)
    "state.": list(names.ORDER_STATES),  # state.<order state> (words.js stateWord)
    "count.": [str(n) for n in range(11)],  # count.<0..10>, a small count in words (words.js)
}
# Words merged into the catalogues at run time (server/lessons.py): never in the files.
RUNTIME = ("lesson.",)

# t("key") / tn("key", n) / has("key"), called bare or as i18n.t(...); not params.has(...).
JS_CALL = re.compile(r"(?:(?<![\w$.])|(?<=i18n\.))(t|tn|has)\(\s*[\"']([^\"'`]+)[\"']")
TEMPLATE_CALL = re.compile(r"\bt\(\s*[\"']([^\"']+)[\"']")


def load(lang: str) -> dict[str, str]:
    return json.loads((FOLDER / f"{lang}.json").read_text(encoding="utf-8"))


LANGS = sorted(p.stem for p in FOLDER.glob("*.json"))


def used_calls() -> list[tuple[str, str, str]]:
    """(file, function, key) of every literal catalogue lookup in the page's code."""
    out = []
    for path in JS:
        for fn, key in JS_CALL.findall(path.read_text(encoding="utf-8")):
            out.append((path.name, fn, key))
    for path in TEMPLATES:
        for key in TEMPLATE_CALL.findall(path.read_text(encoding="utf-8")):
            out.append((path.name, "t", key))
    return out


def source_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in [*JS, *TEMPLATES])


def test_the_catalogues_load_and_english_is_the_reference():
    cats = Catalogues(FOLDER)
    assert DEFAULT_LANG == "en"
    assert {"en", "de"} <= set(cats.langs)
    assert set(cats.catalogue("de")) == set(cats.catalogue("en"))


def test_the_lookup_patterns_find_what_they_should():
    found = JS_CALL.findall('t("a.b"); i18n.t("c.d", {x}); tn("e.f", 2); params.has("seed"); '
                            'i18n.has("g.h"); x.t("no")')
    assert found == [("t", "a.b"), ("t", "c.d"), ("tn", "e.f"), ("has", "g.h")]
    found = TEMPLATE_CALL.findall('{{ t("page.title") }} {{ t("x.y", n=1) }}')
    assert found == ["page.title", "x.y"]


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_the_page_uses_is_in_every_catalogue(lang):
    cat = load(lang)
    missing = []
    for file, fn, key in used_calls():
        if key.startswith(RUNTIME):
            continue
        wanted = [f"{key}.one", f"{key}.other"] if fn == "tn" else [key]
        if fn == "has":
            continue  # has() asks whether an optional word is there
        missing += [f"{file}: {k}" for k in wanted if k not in cat]
    assert not missing, f"{lang}.json lacks: {missing}"
    assert used_calls(), "no lookups found: the pattern is broken"


def test_every_catalogue_key_is_used():
    text = source_text()
    cat = load("en")
    quoted = set(re.findall(r"[\"']([a-z0-9][a-z0-9_.-]*)[\"']", text))
    # Other keys built at run time: a template string `prefix.${...}` uses the keys under
    # prefix. (The DYNAMIC prefixes are checked against the engine's names instead.)
    built = {p for p in re.findall(r"`([a-z][a-z0-9_.-]*\.)\$\{", text) if p not in DYNAMIC}
    unused = []
    for key in cat:
        if key in quoted:
            continue
        base, _, form = key.rpartition(".")
        if form in ("one", "other") and base in quoted:
            continue
        if any(key.startswith(p) for p in built):
            continue
        dynamic = [p for p in DYNAMIC if key.startswith(p)]
        if dynamic:
            rest = key[len(dynamic[0]):]
            if any(rest == name or rest.startswith(name + ".") for name in DYNAMIC[dynamic[0]]):
                continue
        unused.append(key)
    assert not unused, f"keys nobody uses (remove them, or document a dynamic prefix): {unused}"


def test_the_languages_agree_on_keys_placeholders_and_plural_pairs():
    en = load("en")
    for lang in LANGS:
        cat = load(lang)
        assert set(cat) == set(en), (lang, sorted(set(cat) ^ set(en)))
        for key, text in en.items():
            assert placeholders(cat[key]) == placeholders(text), (lang, key)
            assert cat[key].strip(), (lang, key)
    for key in en:
        base, _, form = key.rpartition(".")
        if form == "one":
            assert f"{base}.other" in en, key
        if form == "other":
            assert f"{base}.one" in en, key


def test_the_engine_s_things_all_have_words():
    en = load("en")
    for point in names.FAILURE_POINTS:
        for word in ("label", "happened", "effect"):
            assert f"failure.{point}.{word}" in en, (point, word)
    for name in PRESETS:
        assert f"scenario.{name}.title" in en and f"scenario.{name}.explains" in en, name
    for kind in DYNAMIC["divergence."]:
        assert f"divergence.{kind}" in en, kind
    for state in names.ORDER_STATES:
        assert f"state.{state}" in en, state


def test_english_says_what_the_engine_says():
    # The English words for the engine's things are the engine's own, so a reader of the
    # CLI and of the page meets one wording.
    en = load("en")
    for name, preset in PRESETS.items():
        assert en[f"scenario.{name}.title"] == preset["title"], name
        assert en[f"scenario.{name}.explains"] == preset["explains"], name
    for kind, text in names.DIVERGENCE_TEXT.items():
        assert en[f"divergence.{kind}"] == text, kind


def test_german_is_german():
    # Not a copy of English: the sentences differ (names such as OrderCreated aside).
    en, de = load("en"), load("de")
    words = lambda v: re.findall(r"[a-z]{3,}", re.sub(r"\{[a-z_0-9]+\}", "", v))  # noqa: E731
    same = [k for k, v in en.items() if de[k] == v and len(words(v)) >= 2]
    assert not same, same


# ---------------------------------------------------------------- server/i18n.py


def write(folder: Path, lang: str, data) -> None:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    (folder / f"{lang}.json").write_text(text, encoding="utf-8")


GOOD_EN = {"page.title": "Title", "run.over": "Run over at t = {t}", "run.orders.one": "{n} order",
           "run.orders.other": "{n} orders"}
GOOD_DE = {"page.title": "Titel", "run.over": "Lauf zu Ende bei t = {t}",
           "run.orders.one": "{n} Bestellung", "run.orders.other": "{n} Bestellungen"}


def refused(tmp_path: Path, en, de) -> str:
    write(tmp_path, "en", en)
    if de is not None:
        write(tmp_path, "de", de)
    with pytest.raises(CatalogueError) as info:
        Catalogues(tmp_path)
    return str(info.value)


def test_a_good_pair_of_catalogues_loads(tmp_path):
    write(tmp_path, "en", GOOD_EN)
    write(tmp_path, "de", GOOD_DE)
    cats = Catalogues(tmp_path)
    assert cats.langs == ["de", "en"]
    t = cats.translator("de")
    assert t("run.over", t="1,50 s") == "Lauf zu Ende bei t = 1,50 s"
    assert t("no.such.key") == "no.such.key"


def test_a_missing_key_is_refused_with_file_and_key(tmp_path):
    de = {k: v for k, v in GOOD_DE.items() if k != "run.over"}
    message = refused(tmp_path, GOOD_EN, de)
    assert "static/i18n/de.json" in message and "'run.over'" in message and "missing" in message


def test_a_key_english_does_not_have_is_refused(tmp_path):
    message = refused(tmp_path, GOOD_EN, {**GOOD_DE, "run.extra": "Mehr"})
    assert "static/i18n/de.json" in message and "'run.extra'" in message


def test_a_placeholder_mismatch_is_refused(tmp_path):
    message = refused(tmp_path, GOOD_EN, {**GOOD_DE, "run.over": "Lauf zu Ende bei {zeit}"})
    assert "static/i18n/de.json" in message and "'run.over'" in message
    assert "placeholders" in message


@pytest.mark.parametrize("bad,what", [
    ({"Page.Title": "x"}, "'Page.Title'"),
    ({"page.title": ""}, "'page.title'"),
    ({"page.title": 3}, "'page.title'"),
    ([1, 2], "object"),
    ("{not json", "JSON"),
])
def test_a_malformed_catalogue_is_refused(tmp_path, bad, what):
    message = refused(tmp_path, GOOD_EN, bad)
    assert "static/i18n/de.json" in message and what in message, message


def test_english_is_required(tmp_path):
    write(tmp_path, "de", GOOD_DE)
    with pytest.raises(CatalogueError, match="en.json"):
        Catalogues(tmp_path)


def test_pick_falls_back_to_english_and_says_why():
    cats = Catalogues(FOLDER)
    assert cats.pick(None) == ("en", None)
    assert cats.pick("") == ("en", None)
    assert cats.pick("de") == ("de", None)
    lang, error = cats.pick("xx")
    assert lang == "en" and "'xx'" in error


# ---------------------------------------------------------------- the page as served


@pytest.fixture
def client():
    app = create_app({"TESTING": True, "AMO_ASYNC_MODE": "threading", "AMO_PACER": False})
    return app.test_client()


def embedded(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', html, re.S)
    assert m, "no embedded catalogue"
    return json.loads(m.group(1))


def test_the_page_is_served_in_the_asked_language(client):
    html = client.get("/?lang=de").get_data(as_text=True)
    assert '<html lang="de">' in html
    data = embedded(html)
    assert data["lang"] == "de" and data["error"] is None
    assert data["langs"] == {"de": "Deutsch", "en": "English"}
    de = load("de")
    assert f"<title>{de['page.title']}</title>" in html
    assert de["cmd.play"] in html and de["keys.heading"] in html
    # No template lookup fell through to its key.
    assert not re.search(r">\s*[a-z]+\.[a-z-]+(\.[a-z-]+)*\s*<", html)


def test_an_unknown_language_is_english_with_the_reason(client):
    html = client.get("/?lang=xx").get_data(as_text=True)
    assert '<html lang="en">' in html
    data = embedded(html)
    assert data["lang"] == "en" and "'xx'" in data["error"]
    assert load("en")["cmd.play"] in html


def test_no_words_in_stylesheets():
    """Words drawn by CSS (``content: "..."``) would escape the catalogues: only symbols,
    or ``attr(...)`` of an attribute the page fills from them."""
    for path in sorted((ROOT / "static" / "css").glob("*.css")):
        css = path.read_text(encoding="utf-8")
        for text in re.findall(r'content:\s*"([^"]*)"', css):
            assert not re.search(r"[A-Za-zÄÖÜäöüß]{2,}", text), f"{path.name}: content {text!r}"
