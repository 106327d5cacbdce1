"""The page in a second language (issue 11, "Words in one place, and a second language"):
?lang=de shows no English left in what a person sees or hears (the text on screen, the
accessible names, the tooltips, what the canvases draw), the language menu switches and
keeps the run's address, a language the page does not have shows English and says so, and
"Copy link" carries the language. Real Chromium, a real server."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.support import REPO_ROOT
from tests.test_ui_support import TIMEOUT_MS, screenshot

CATALOGUES = REPO_ROOT / "static" / "i18n"
# Names that stay as they are in every language: the message kinds in the code font, and
# the few terms German lecturers use in English.
NAMES = ["OrderCreated", "CreditReserved", "InsufficientCredit", "MetricSamples", "MetricSample",
         "at-most-once", "At-most-once", "Fire and forget", "English"]
# Distinctive English words that must not be left on a German page (whole words, as cased).
ENGLISH_WORDS = ["the", "and", "of", "is", "order", "orders", "Order", "Orders", "reply",
                 "request", "lost", "credit", "Credit", "sender", "receiver", "approved",
                 "cancelled", "diverged", "consistent", "waiting", "message", "messages", "Play",
                 "Step", "Reset", "Share", "Keys", "Present", "Scenario", "Speed", "Language",
                 "now", "Connected", "Failure", "points", "Cost", "loss", "Timeline", "Samples",
                 "Average", "samples"]

# Everything a person meets: the text on screen, accessible names and descriptions, value
# texts, tooltips, placeholder-free option texts, and what the stage canvas drew.
COLLECT = """() => {
    const parts = [document.body.innerText, document.title];
    for (const el of document.querySelectorAll('[aria-label], [title], [aria-valuetext]')) {
        for (const a of ['aria-label', 'title', 'aria-valuetext']) {
            if (el.hasAttribute(a)) parts.push(el.getAttribute(a));
        }
    }
    for (const o of document.querySelectorAll('option')) parts.push(o.textContent);
    if (window.amo && window.amo.stage) for (const t of window.amo.stage.texts) parts.push(t[4]);
    return parts.join('\\n');
}"""


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))


def english_phrases() -> list[str]:
    """Phrases of two or more words of the English catalogue that the German one does not
    share: none of them may appear on the German page."""
    en, de = catalogue("en"), catalogue("de")
    german = "\n".join(de.values()).lower()
    phrases = set()
    for key, text in en.items():
        if de.get(key) == text:
            continue
        for piece in re.split(r"\{[a-z_0-9]+\}|[:;,.()“”„?!…·→←]", text):
            piece = piece.strip(" -–'\"")
            if len(re.findall(r"[A-Za-z]{2,}", piece)) >= 2 and piece.lower() not in german:
                phrases.add(piece)
    return sorted(phrases, key=len, reverse=True)


def english_left(text: str) -> list[str]:
    for name in NAMES:
        text = text.replace(name, " ")
    found = [p for p in english_phrases() if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text, re.I)]
    found += [w for w in ENGLISH_WORDS if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]
    return found


def context_of(text: str, words: list[str]) -> list[str]:
    out = []
    for w in words[:10]:
        m = re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text, re.I)
        if m:
            out.append(text[max(0, m.start() - 60):m.end() + 60].replace("\n", " | "))
    return out


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def open_page(page: Page, url: str, query: str) -> list[str]:
    """Open the page at ``url/query`` and wait until it is usable; returns its errors."""
    return open_address(page, f"{url}/{query}")


def open_address(page: Page, address: str) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(address)
    page.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => document.querySelector('#connection').dataset.state === 'connected'",
        timeout=TIMEOUT_MS)
    return errors


def test_the_catalogue_check_finds_english(browser):
    # The check itself: an English sentence of the catalogue is caught, a German one is not.
    assert english_left("Bestellung #1: keine Antwort rechtzeitig.") == []
    assert english_left("Order #1: no reply in time.")
    assert english_left("OrderCreated an den Kunden-Service zugestellt") == []


@pytest.mark.parametrize("scenario", ["four-failures", "metrics-stream"])
def test_german_page_has_no_english_left(browser, server, scenario):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        errors = open_page(page, server.url, f"?lang=de&scenario={scenario}&speed=40&play=1")
        assert page.evaluate("() => document.documentElement.lang") == "de"
        if scenario == "four-failures":
            # Five orders: one through, then each failure point strikes one; all judged.
            page.wait_for_function(
                "() => { const c = window.amo.store.counts; return c.orders === 5"
                " && c.consistent + c.diverged === 5 && c.diverged >= 3; }", timeout=20_000)
        else:
            page.wait_for_function("() => window.amo.store.samplesLost > 0", timeout=20_000)
        page.locator("#pause").click()
        texts = [page.evaluate(COLLECT)]
        # A moment in the past (the timeline's words), the Share menu open, the keys list,
        # the space-time diagram (its export holds every word it draws) and the cost of loss.
        page.locator("#step-back").click()
        page.wait_for_function("() => window.amo.timeline.inPast")
        page.locator("#run-menu summary").click()
        texts.append(page.evaluate(COLLECT))
        page.locator("#run-menu summary").click()
        page.locator("#keys-help").click()
        texts.append(page.locator("#keys-dialog").inner_text())
        page.keyboard.press("Escape")
        page.locator("#tab-diagram").click()
        page.wait_for_function("() => window.amo.diagram.items() !== null")
        svg = page.evaluate("() => window.amo.diagram.svg()")
        texts.append("\n".join(re.findall(r">([^<>]+)</(?:text|title)>", svg)))
        texts.append(page.locator("#diagram-summary").text_content() or "")
        page.locator("#tab-cost").click()
        expect(page.locator("#cost-caption")).not_to_be_empty(timeout=30_000)
        texts.append(page.evaluate(COLLECT))
        legend = page.evaluate("() => window.amo.costChart.items().legend")
        texts.append("\n".join(item["label"] for item in legend))
        text = "\n".join(texts)
        left = english_left(text)
        assert not left, (left, context_of(text, left))
        assert "Bestell-Service" in text and "Kunden-Service" in text
        assert not errors, errors
        if scenario == "four-failures":
            page.locator("#tab-orders").click()
            screenshot(page, "i18n-de-1280x720")
    finally:
        context.close()


def test_german_page_fits_a_phone(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        open_page(page, server.url, "?lang=de&scenario=crash-after-processing&speed=20&play=1")
        page.wait_for_function("() => window.amo.store.counts.diverged === 1", timeout=20_000)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, width
        screenshot(page, "i18n-de-390x844")
    finally:
        context.close()


def test_the_menu_switches_language_and_keeps_the_address(page: Page, server):
    open_page(page, server.url, "?scenario=reply-lost&seed=7")
    menu = page.get_by_role("combobox", name="Language")
    expect(menu.locator("option")).to_have_text(["Deutsch", "English"])
    expect(menu).to_have_value("en")
    with page.expect_navigation():
        menu.select_option("de")
    page.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT_MS)
    query = parse_qs(urlsplit(page.url).query)
    assert query["lang"] == ["de"], page.url
    assert query["scenario"] == ["reply-lost"] and query["seed"] == ["7"], page.url
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("button", name="Abspielen", exact=True)).to_be_visible()
    expect(page.get_by_role("combobox", name="Sprache")).to_have_value("de")
    expect(page.locator("#scenario")).to_have_value("reply-lost")
    expect(page.locator("#seed")).to_have_value("7")
    # And back: English leaves no lang in the address, the rest stays.
    with page.expect_navigation():
        page.get_by_role("combobox", name="Sprache").select_option("en")
    page.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT_MS)
    query = parse_qs(urlsplit(page.url).query)
    assert "lang" not in query and query["scenario"] == ["reply-lost"], page.url
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()


def test_an_unknown_language_shows_english_and_says_so(page: Page, server):
    errors = open_page(page, server.url, "?lang=xx")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("lang=xx")
    expect(notice).to_contain_text("English")
    expect(page.get_by_role("button", name="Play", exact=True)).to_be_visible()
    # lang is a parameter the page knows: no "no such parameter" problem for it.
    expect(notice).not_to_contain_text("no such parameter")
    assert not errors, errors


def test_copy_link_carries_the_language(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    try:
        open_page(page, server.url, "?lang=de&scenario=happy-path&speed=20&play=1")
        page.locator("#send").click()
        page.wait_for_function("() => window.amo.store.counts.orders >= 2")
        # Let the run end first: its "Lauf zu Ende" sentence is newer news than the copy's
        # and would take the status line from it (CI saw that race).
        page.wait_for_function("() => window.amo.store.pacing.over")
        page.locator("#run-menu summary").click()
        page.get_by_role("button", name="Link kopieren").click()
        expect(page.locator("#status")).to_contain_text("Link kopiert")
        copied = page.evaluate("() => navigator.clipboard.readText()")
        query = parse_qs(urlsplit(copied).query)
        assert query["lang"] == ["de"], copied
        assert query["scenario"] == ["happy-path"] and "log" in query, copied
        # The address bar says the same.
        assert parse_qs(urlsplit(page.url).query)["lang"] == ["de"], page.url
        # Opened elsewhere, the link shows the run in German.
        other = context.new_page()
        open_address(other, copied)
        expect(other.locator("html")).to_have_attribute("lang", "de")
        expect(other.get_by_role("button", name="Abspielen", exact=True)).to_be_visible()
        other.wait_for_function("() => window.amo.store.counts.orders >= 2")
    finally:
        context.close()
