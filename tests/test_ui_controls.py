"""Buttons, keyboard shortcuts (a presenter's clicker too), the event log and the page's
weight, against a real server."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_ui_support import (
    FAST,
    open_app,
    order_row,
    screenshot,
    settle_first_order,
    wait_badge,
)


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("eventlet")


def log_count(page) -> int:
    return page.evaluate("() => window.amo.view.logCount")


def test_buttons_have_their_names(page, server):
    open_app(page, server.url)
    for name in ("Send order", "Play", "Pause", "Step", "Reset"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    for name in ("Request lost", "Crash before processing", "Crash after processing",
                 "Reply lost"):
        expect(page.get_by_role("checkbox", name=name, exact=True)).to_be_visible()
    for name in ("Request leg loss probability", "Reply leg loss probability", "Speed"):
        expect(page.get_by_role("slider", name=name, exact=True)).to_be_visible()
    expect(page.get_by_label("Scenario")).to_be_visible()
    expect(page.get_by_label("Seed")).to_be_visible()
    expect(page.locator("#status")).to_have_attribute("aria-live", "polite")
    screenshot(page, "start")


def test_keyboard_shortcuts(page, server):
    # At 1x, so the preset's first order is still on its way when Space pauses (at high
    # speed the run would be over, and Play released by itself, before the second Space).
    open_app(page, server.url)
    page.locator("body").click(position={"x": 5, "y": 700})  # focus the page, not a control
    # Space: play, then pause.
    page.keyboard.press(" ")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press(" ")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    # N: send an order (time is paused: it is created, its request waits on the leg).
    page.keyboard.press("n")
    expect(order_row(page, 2)).to_be_visible()
    expect(order_row(page, 2).locator(".badge")).to_contain_text("in flight")
    # Right arrow and PageDown (a clicker's forward key): one step each. A step either makes
    # the next event or stops a message on the wire halfway along its leg (the clock moves).
    keys = ["ArrowRight", "PageDown"] * 9
    for i, key in enumerate(keys):
        before = log_count(page)
        t = page.evaluate("() => window.amo.clock.serverT")
        page.keyboard.press(key)
        page.wait_for_function(f"() => window.amo.view.logCount > {before} || "
                               f"window.amo.clock.serverT > {t}")
        if i >= 2 and "OrderCreated for order #2 delivered" in page.locator("#log").inner_text():
            break
    expect(page.locator("#log")).to_contain_text("OrderCreated for order #2 delivered")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    # Left arrow and PageUp (a clicker's back key) step back into the run's past, and
    # Live returns to the present (tests/test_ui_time.py goes further).
    for key in ("ArrowLeft", "PageUp"):
        page.keyboard.press(key)
        expect(page.locator("#stage")).to_have_attribute("data-history", "true")
    page.get_by_role("button", name="Live").click()
    expect(page.locator("#stage")).to_have_attribute("data-history", "false")
    # R: reset to a fresh run of the scenario.
    page.keyboard.press("r")
    expect(order_row(page, 2)).to_have_count(0)
    page.wait_for_function("() => window.amo.view.logCount === 0")
    expect(page.locator("#clock")).to_have_text("t = 0.00 s")


def test_a_run_with_nothing_left_stops_and_releases_play(page, server):
    open_app(page, server.url, speed=FAST)
    page.get_by_role("button", name="Play", exact=True).click()
    settle_first_order(page)
    # The happy path's last scheduled work done, the clock stops and Play is released.
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false", timeout=5000)
    # The status line says so, with a tally computed from the run (one order, consistent).
    expect(page.locator("#status")).to_contain_text("Run over at t = ")
    expect(page.locator("#status")).to_contain_text("1 order: 1 consistent, 0 diverged")
    t = page.evaluate("() => window.amo.clock.serverT")
    page.wait_for_timeout(600)
    assert page.evaluate("() => window.amo.clock.serverT") == t  # it does not count on
    # A play answer that reaches the page after the frame that released Play (it left the
    # server later, made earlier: a lower pace) does not press Play again.
    page.evaluate("() => { const s = window.amo.store;"
                  " s.setPacing({playing: true, pace: s.pace - 1}); }")
    page.wait_for_timeout(100)
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")
    # Step at the end says there is nothing left.
    page.get_by_role("button", name="Step", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Step: nothing left to happen")
    assert page.evaluate("() => window.amo.clock.serverT") == t
    # A new order sets it going again (after a Step the run stays paused: Play it).
    page.keyboard.press("n")
    page.get_by_role("button", name="Play", exact=True).click()
    wait_badge(page, 2, "consistent")
    expect(page.locator("#status")).to_contain_text("2 orders: 2 consistent, 0 diverged")


def test_speed_slider_is_labelled_as_a_multiple(page, server):
    open_app(page, server.url)
    expect(page.locator("#speed-out")).to_have_text("1×")
    speed = page.get_by_role("slider", name="Speed")
    expect(speed).to_have_attribute("aria-valuetext", "1×")
    speed.focus()
    for _ in range(30):  # a slider's own keys are Up and Down (Left and Right step the run)
        page.keyboard.press("ArrowUp")
    expect(page.locator("#speed-out")).not_to_have_text("1×")
    label = page.locator("#speed-out").inner_text()
    assert label.endswith("×") and float(label[:-1]) > 1
    page.wait_for_function(f"() => Math.abs(window.amo.clock.speed - {float(label[:-1])}) < 0.1")


def test_log_highlights_its_message_and_stays_small(page, server):
    open_app(page, server.url, speed=FAST)
    page.get_by_role("button", name="Play", exact=True).click()
    settle_first_order(page)
    row = page.locator("#log .row", has_text="OrderCreated for order #1 sent")
    row.hover()
    page.wait_for_function(
        "() => window.amo.view.highlight && window.amo.view.highlight.msg === 1")
    row.click()
    expect(row).to_have_class("row  pinned")
    # Many events: the log keeps a bounded number of rows in the DOM.
    page.get_by_label("Scenario").select_option("lossy-network")
    from tests.test_ui_support import set_speed

    set_speed(page, 100)
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function("() => window.amo.view.logCount > 1500", timeout=20_000)
    assert page.locator("#log .row").count() < 40
    assert page.locator("#orders tbody tr").count() <= 40


def test_seed_and_scenario_pickers(page, server):
    open_app(page, server.url)
    page.get_by_label("Scenario").select_option("reply-lost")
    expect(page.locator("#explains")).to_contain_text("CreditReserved is sent, but it is lost")
    expect(page.get_by_role("checkbox", name="Reply lost", exact=True)).to_be_checked()
    seed = page.get_by_label("Seed")
    seed.fill("42")
    seed.press("Enter")
    page.wait_for_function("() => window.amo.store.seed === 42")
    expect(page.get_by_label("Scenario")).to_have_value("reply-lost")


def test_page_weight_under_300_kb(page, server):
    """What the page costs to load on a lecture hall's Wi-Fi: every byte on the wire (the
    server gzips its text), the HTML, the stylesheet and every script."""
    wire: dict[str, int] = {}
    plain: dict[str, int] = {}

    def on_response(response):
        try:
            plain[response.url] = len(response.body())
            length = response.header_value("content-length")
            wire[response.url] = int(length) if length else plain[response.url]
            if response.url.endswith((".js", ".css")):
                assert response.header_value("content-encoding") == "gzip", response.url
        except Exception:
            pass

    page.on("response", on_response)
    open_app(page, server.url)
    page.wait_for_load_state("networkidle")

    def page_files(sizes):
        return sum(size for url, size in sizes.items()
                   if url.endswith((".js", ".css", "/")) or url.rstrip("/") == server.url)

    assert page_files(wire) <= 300 * 1024, wire
    assert page_files(wire) < page_files(plain) / 2  # compressed indeed
