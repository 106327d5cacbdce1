"""The page at 1280x720, as a projector shows it: three order rows at least in every
preset (alarm up or not), a log that shows more than a handful of events, and no text
under 15px."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_ui_support import (
    assert_seen_whole,
    open_app,
    screenshot,
    send_order,
)

ROWS = "#orders tbody tr"

# preset, orders to send from the page, the credit panel's state once they are judged.
PRESETS = [
    ("happy-path", 2, "off"),
    ("request-lost", 2, "stuck"),
    ("crash-before-processing", 2, "stuck"),
    ("crash-after-processing", 2, "credit"),
    ("reply-lost", 2, "credit"),
    ("lossy-network", 0, "credit"),
]


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


@pytest.mark.parametrize(("preset", "extra", "alarm"), PRESETS, ids=[p[0] for p in PRESETS])
def test_three_order_rows_visible_at_1280x720(page, server, preset, extra, alarm):
    errors = open_app(page, server.url, query=f"?scenario={preset}&speed=20&play=1")
    expect(page.get_by_label("Scenario")).to_have_value(preset)
    for n in range(extra):
        send_order(page)
        expect(page.locator(f'{ROWS}[data-order="{n + 2}"]')).to_be_visible()
    if preset == "lossy-network":
        page.wait_for_function("() => window.amo.store.counts.orders >= 20", timeout=20_000)
    else:
        # Every order judged and the sender done waiting: the rows are as tall as they get
        # (the reason in words) and no longer change.
        page.wait_for_function(
            "() => window.amo.store.orders.size === 3 && [...window.amo.store.orders.values()]"
            ".every((o) => o.judgement !== 'in-flight' && o.sender_saw !== 'waiting')",
            timeout=15_000)
        page.wait_for_timeout(300)  # the panels' next refresh
    expect(page.locator("#credit")).to_have_attribute("data-alarm", alarm, timeout=20_000)
    if preset == "lossy-network":  # hold the picture still to measure it
        page.get_by_role("button", name="Pause", exact=True).click()
        expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
        page.wait_for_timeout(500)
    page.locator("#orders-scroll").evaluate("el => el.scrollTop = 0")
    rows = page.locator(ROWS)
    assert rows.count() >= 3
    for i in range(3):
        assert_seen_whole(page, rows.nth(i), page.locator("#orders-scroll"))
        assert_seen_whole(page, rows.nth(i).locator(".badge"), page.locator("#orders-scroll"))
    # The status line, the controls and the whole stage stay on screen too.
    for sel in ("#status", ".controls", "#stage", "#credit"):
        assert_seen_whole(page, page.locator(sel), page.locator("body"))
    screenshot(page, f"layout-{preset}")
    assert errors == []


def test_event_log_shows_several_rows_with_the_alarm_up(page, server):
    open_app(page, server.url, query="?scenario=lossy-network&speed=10&play=1")
    expect(page.locator("#credit")).to_have_attribute("data-alarm", "credit", timeout=20_000)
    page.wait_for_function("() => window.amo.store.stuckOrders.size > 3", timeout=20_000)
    log = page.locator("#log")
    whole = page.evaluate("""() => {
        const log = document.querySelector('#log').getBoundingClientRect();
        return [...document.querySelectorAll('#log .row')].filter((r) => {
            const b = r.getBoundingClientRect();
            return b.top >= log.top - 0.5 && b.bottom <= log.bottom + 0.5 && b.bottom <= 720;
        }).length;
    }""")
    # Four whole rows at 1280x720 with the alarm and the stuck orders up: the status line
    # sits above the alarm since the stage became the largest thing on the page (issue 9).
    assert whole >= 4, whole
    assert_seen_whole(page, log, page.locator("body"))
    screenshot(page, "layout-log-with-alarm")


def test_no_text_under_15px(page, server):
    """Read from the back of a hall: every piece of text on the page is 15px or larger,
    in an order preset with the alarm up and in the metrics preset."""
    smallest = """() => {
        const out = [];
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if (!n.textContent.trim()) continue;
            const el = n.parentElement;
            if (!el || !el.checkVisibility()) continue;
            const size = parseFloat(getComputedStyle(el).fontSize);
            const what = el.tagName + '.' + el.className;
            if (size < 14.95) out.push([what, n.textContent.trim().slice(0, 30), size]);
        }
        return out;
    }"""
    open_app(page, server.url, query="?scenario=reply-lost&speed=20&play=1")
    expect(page.locator("#credit")).to_have_attribute("data-alarm", "credit", timeout=15_000)
    expect(page.locator("#same-note")).to_be_visible(timeout=15_000)
    assert page.evaluate(smallest) == []
    page.get_by_label("Scenario").select_option("metrics-stream")
    expect(page.locator("#metrics-panel")).to_be_visible()
    assert page.evaluate(smallest) == []
