"""The connection indicator, and the view continuing after a reload or a server restart."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.test_ui_support import (
    FAST,
    open_app,
    order_row,
    screenshot,
    send_order,
    settle_first_order,
    wait_badge,
)


def test_reload_resumes_the_same_session(page, start_server):
    server = start_server("threading")
    open_app(page, server.url, speed=FAST)
    page.get_by_role("button", name="Play", exact=True).click()
    settle_first_order(page)
    send_order(page)
    wait_badge(page, 2, "consistent")
    token = page.evaluate("() => window.amo.conn.session")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#connection")).to_contain_text("Connected")
    assert page.evaluate("() => window.amo.conn.session") == token
    # The snapshot of the same run: both orders are still there, judged the same.
    wait_badge(page, 1, "consistent")
    wait_badge(page, 2, "consistent")
    expect(page.locator("#reserved")).to_have_text("200")


def test_page_recovers_after_server_restart(page, start_server):
    server = start_server("eventlet")
    open_app(page, server.url, speed=FAST)
    page.get_by_role("button", name="Play", exact=True).click()
    settle_first_order(page)
    old = page.evaluate("() => window.amo.conn.session")
    server.stop()
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#connection")).to_contain_text("Reconnecting")
    expect(page.locator("#status")).to_contain_text("Connection to the server lost")
    # The connection's sentence holds the line until it is resolved: sentences of events
    # still waiting to be said (the first order's, the run's end) do not replace it.
    page.wait_for_timeout(2500)
    expect(page.locator("#status")).to_contain_text("Connection to the server lost")
    screenshot(page, "reconnecting")
    server.start()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected",
                                                         timeout=15_000)
    # The restarted server has forgotten the old run: the page says so (never silently
    # back to t = 0), draws the new one and keeps working.
    page.wait_for_function(f"() => window.amo.conn.session !== {old!r}")
    expect(page.locator("#status")).to_contain_text("no longer had this run")
    expect(page.locator("#status")).to_contain_text("started again at t = 0")
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("started again at t = 0")
    page.get_by_role("button", name="Dismiss notice").click()
    page.get_by_role("button", name="Play", exact=True).click()
    settle_first_order(page)
    send_order(page)
    wait_badge(page, 2, "consistent")
    expect(order_row(page, 2).locator(".state")).to_have_text("✓ approved")


def test_short_blip_resumes_without_gap(page, start_server):
    """The socket drops and comes back (same server): the session resumes from its last
    seq and every event arrives exactly once."""
    server = start_server("threading")
    open_app(page, server.url, speed=FAST)
    page.get_by_role("button", name="Play", exact=True).click()
    settle_first_order(page)
    token = page.evaluate("() => window.amo.conn.session")
    page.evaluate("() => window.amo.conn.socket.io.engine.close()")
    expect(page.locator("#connection")).to_contain_text("Connected (resumed)", timeout=15_000)
    assert page.evaluate("() => window.amo.conn.session") == token
    send_order(page)
    wait_badge(page, 2, "consistent")
    seqs = page.evaluate("""() => {
        const s = window.amo.view, out = [];
        for (let i = s.logStart(); i < s.logCount; i++) out.push(s.logAt(i).seq);
        return out;
    }""")
    assert seqs == list(range(1, len(seqs) + 1))
