"""Accessibility: axe-core on every scenario, on a laptop and on a phone, and the orders
table and the event log used by keyboard alone.

axe runs on the real page (real server, headless Chromium) after the scenario has played a
little, so the log, the orders table (or the metrics panel) and the alarm have content.
Only serious and critical findings fail a test; each is printed with its id and targets.
"""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from engine.presets import preset_names
from tests.test_ui_support import TIMEOUT_MS, open_app, order_row, wait_badge

VIEWPORTS = {"laptop": {"width": 1280, "height": 720}, "phone": {"width": 390, "height": 844}}
BLOCKING = {"serious", "critical"}

_axe = Axe()


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


@pytest.fixture
def open_page(browser):
    """open_page(viewport, query) -> Page in a fresh context; closed after the test."""
    contexts = []

    def make(viewport: dict, query: str = "") -> Page:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def pause(page: Page) -> None:
    page.evaluate("() => window.amo.conn.command('pause', {})")
    # Paused, and the display has caught up: nothing more changes on the page.
    page.wait_for_function("""() => { const {store, clock} = window.amo;
        return !store.pacing.playing && !clock.playing && clock.display === clock.serverT
            && store.pendingCount() === 0; }""")


def blocking_violations(page: Page) -> list[str]:
    results = _axe.run(page)
    found = []
    for v in results.response["violations"]:
        if v["impact"] in BLOCKING:
            targets = [" ".join(map(str, n["target"])) for n in v["nodes"]]
            found.append(f"{v['id']} ({v['impact']}): {v['help']} -> {targets}")
    return found


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("scenario", preset_names())
def test_no_serious_axe_findings(open_page, server, scenario, viewport):
    page = open_page(VIEWPORTS[viewport])
    errors = open_app(page, server.url, query=f"?scenario={scenario}&speed=20&play=1")
    # Something in the log and in the panels, then a still page (no flashes, no motion).
    page.wait_for_function("() => window.amo.view.logCount >= 4", timeout=TIMEOUT_MS)
    pause(page)
    page.wait_for_function(
        "() => !window.amo.view.flashes.some((f) => f.until > performance.now())",
        timeout=TIMEOUT_MS)
    found = blocking_violations(page)
    print(f"\naxe, {scenario} at {viewport}:", *found, sep="\n  ")
    assert found == []
    assert errors == []


# -- keyboard ---------------------------------------------------------------------------


def focused(page: Page) -> dict:
    return page.evaluate("""() => {
        const a = document.activeElement;
        return {index: a.dataset.index ?? null, order: a.dataset.order ?? null,
                inLog: !!a.closest('#log'), inOrders: !!a.closest('#orders-scroll')};
    }""")


def test_log_entries_by_keyboard(open_page, server):
    page = open_page(VIEWPORTS["laptop"])
    errors = open_app(page, server.url, query="?scenario=happy-path&speed=20&play=1")
    wait_badge(page, 1, "consistent")
    pause(page)
    count = page.evaluate("() => window.amo.view.logCount")
    assert count >= 6
    log = page.locator("#log")
    log.focus()
    # From the log itself, Down goes to the newest entry; Up and Down then walk the entries.
    page.keyboard.press("ArrowDown")
    assert focused(page) == {"index": str(count - 1), "order": None, "inLog": True,
                             "inOrders": False}
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert focused(page)["index"] == str(count - 3)
    page.keyboard.press("Home")
    assert focused(page)["index"] == "0"
    page.keyboard.press("ArrowDown")
    assert focused(page)["index"] == "1"
    # The focused entry is drawn with a visible outline.
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    # Enter pins it: the same highlight a click gives.
    page.keyboard.press("Enter")
    row = page.locator('#log .row[data-index="1"]')
    expect(row).to_have_class(re.compile(r"\bpinned\b"))
    expect(row).to_have_attribute("aria-selected", "true")
    seq = int(row.get_attribute("data-seq"))
    assert page.evaluate("() => window.amo.view.highlight && window.amo.view.highlight.seq") == seq
    page.keyboard.press("End")
    assert focused(page)["index"] == str(count - 1)
    # Enter on the pinned entry again unpins it, as a second click does.
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.evaluate("() => window.amo.view.highlight") is None
    # Up and Down outside the log do not move through it.
    page.locator("#send").focus()
    page.keyboard.press("ArrowDown")
    assert not focused(page)["inLog"]
    assert errors == []


def test_order_rows_by_keyboard(open_page, server):
    page = open_page(VIEWPORTS["laptop"])
    errors = open_app(page, server.url, query="?scenario=four-failures&speed=50&play=1")
    wait_badge(page, 3, "diverged", timeout=20_000)
    pause(page)
    rows = page.locator("#orders tbody tr")
    n = rows.count()
    assert n >= 3
    # One tab stop for the table: the newest row (the first one).
    tab_stops = page.locator("#orders-scroll [tabindex='0']")
    expect(tab_stops).to_have_count(1)
    tab_stops.focus()
    first = focused(page)["order"]
    assert first is not None
    page.keyboard.press("ArrowDown")
    second = focused(page)["order"]
    assert second is not None and int(second) == int(first) - 1
    page.keyboard.press("End")
    assert focused(page)["order"] == rows.last.get_attribute("data-order")
    page.keyboard.press("Home")
    assert focused(page)["order"] == first
    page.keyboard.press("ArrowDown")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    # Enter selects the order: its entry in the log is pinned and its messages highlighted.
    page.keyboard.press("Enter")
    order = int(second)
    highlighted = page.evaluate("() => (window.amo.view.highlight || {}).order")
    assert highlighted == order
    pinned = page.locator("#log .row.pinned")
    expect(pinned).to_have_count(1)
    expect(pinned).to_contain_text(f"#{order}")
    expect(order_row(page, order)).to_have_attribute("aria-selected", "true")
    # The focus stayed on the row; the roving tab stop moved with it.
    assert focused(page)["order"] == second
    expect(tab_stops).to_have_count(1)
    expect(order_row(page, order)).to_have_attribute("tabindex", "0")
    assert errors == []


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_metrics_warning_has_no_serious_axe_findings(open_page, server, viewport):
    """The metrics verdict's warning (90 % of the samples lost) is readable and fits."""
    page = open_page(VIEWPORTS[viewport])
    errors = open_app(page, server.url, query="?scenario=metrics-stream&speed=200")
    page.evaluate("""() => window.amo.conn.command('set-failure',
        {point: 'request-lost', mode: 'off', probability: 0.9})""")
    page.wait_for_function("() => window.amo.store.failures['request-lost'].probability === 0.9")
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.locator("#m-verdict")).to_have_attribute("data-verdict", "warn", timeout=20_000)
    pause(page)
    found = blocking_violations(page)
    print(f"\naxe, metrics warning at {viewport}:", *found, sep="\n  ")
    assert found == []
    assert errors == []


def test_log_times_over_1000_s_keep_clear_of_the_icon(open_page, server):
    page = open_page(VIEWPORTS["phone"])
    open_app(page, server.url, query="?scenario=happy-path&speed=20&play=1")
    wait_badge(page, 1, "consistent")
    pause(page)
    # Entries from late in a long run: times over 1000 s (and 10,000 s), big event numbers.
    overlaps = page.evaluate("""() => {
        const v = window.amo.view, n = v.logCount;
        const late = [[1234.56, 9], [12345.67, 1234567], [98765.43, 123456]];
        late.forEach(([t, seq], k) => Object.assign(v.logAt(n - 1 - k), {t, seq}));
        window.amo.log.follow = true;
        window.amo.log.render(true);
        return [...document.querySelectorAll('#log .row')].slice(-3).map((r) => {
            const box = (sel) => r.querySelector(sel).getBoundingClientRect();
            const seq = box('.seq'), lt = box('.lt'), icon = box('.icon');
            return {t: r.querySelector('.lt').textContent,
                    clear: seq.right <= lt.left && lt.right <= icon.left};
        });
    }""")
    assert [o["t"] for o in overlaps] == ["98765.43", "12345.67", "1234.56"]
    assert all(o["clear"] for o in overlaps), overlaps


# -- the views added for issues 11 to 13 -------------------------------------------------

NEW_VIEWS = {
    # a lesson paused at a prediction (radio group, Reveal, a highlight)
    "lesson-prediction": ("?lesson=reply-deliberate&step=3&lang=en",
                          "() => !!document.querySelector('#lesson-predict:not([hidden])')"),
    # the German page, with a lesson step open
    "german-lesson": ("?lesson=four-failures&step=2&lang=de",
                      "() => !!document.querySelector('#lesson:not([hidden])')"),
    # three lanes and the truth table
    "compare-semantics": ("?view=semantics&case=request-lost,reply-lost",
                          "() => document.querySelectorAll('#sem-tt button.tt-cell').length > 0"
                          " && !document.querySelector('#semantics[aria-busy]')"),
}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("view", list(NEW_VIEWS))
def test_new_views_have_no_serious_axe_findings(open_page, server, view, viewport):
    query, ready = NEW_VIEWS[view]
    page = open_page(VIEWPORTS[viewport])
    errors = open_app(page, server.url, query=query)
    page.wait_for_function(ready, timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)  # let a step's set-up settle before scanning
    found = blocking_violations(page)
    print(f"\naxe, {view} at {viewport}:", *found, sep="\n  ")
    assert found == []
    assert errors == []


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_room_panel_has_no_serious_axe_findings(open_page, server, viewport):
    page = open_page(VIEWPORTS[viewport])
    errors = open_app(page, server.url)
    page.click("#room-start")
    expect(page.locator("#room-panel")).to_be_visible()
    expect(page.locator("#room-code-shown")).to_have_text(re.compile(r"^\S{6}$"))
    found = blocking_violations(page)
    print(f"\naxe, room panel at {viewport}:", *found, sep="\n  ")
    assert found == []
    assert errors == []
