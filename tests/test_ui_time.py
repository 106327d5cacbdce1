"""Time in the page (issue 10): the Timeline scrubs back, Step back mirrors Step, Live
returns, "Run from here" forks and keeps the original, the address bar describes the run
(a copied link replays it event for event), and Export/Import of run files, a tampered
file refused with its field named. Real Chromium, a real server."""

from __future__ import annotations

import hashlib
import json

import pytest
from playwright.sync_api import Page, expect

from tests.test_ui_support import FAST, open_app, order_row

STATE = """() => { const s = window.amo.store; return JSON.stringify({
    seq: s.appliedSeq, t: Math.round(window.amo.clock.serverT * 1e6),
    counts: s.counts, customer: s.customer, invariant: s.invariant.ok,
    tokens: [...s.tokens.keys()].sort((a, b) => a - b),
    orders: [...s.orders.values()].map((o) => [o.id, o.state, o.judgement, o.sender_saw]) }); }"""

EVENTS_HASH = """async () => {
    const all = [];
    for (let from = 1; ; ) {
        const a = await window.amo.conn.command('history', {from_seq: from});
        if (!a.ok) throw new Error(JSON.stringify(a));
        all.push(...a.events);
        if (!a.events.length || a.to_seq >= a.head_seq) break;
        from = a.to_seq + 1;
    }
    return JSON.stringify(all);
}"""


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def events_hash(page: Page) -> str:
    return hashlib.sha256(page.evaluate(EVENTS_HASH).encode()).hexdigest()


SETTLED = """() => { const s = window.amo.store, c = window.amo.clock;
    return s.pendingCount() === 0 && Math.abs(c.display - c.serverT) < 1e-9; }"""


def settle(page: Page) -> None:
    """Every event the server sent is shown (a step's clock glides to its moment)."""
    page.wait_for_function(SETTLED, timeout=20_000)
    page.wait_for_timeout(100)
    page.wait_for_function(SETTLED, timeout=20_000)


def run_to_end(page: Page, orders: int = 1) -> None:
    """Play until nothing is left to happen, with `orders` orders made, all shown."""
    try:
        page.wait_for_function(
            f"() => window.amo.store.counts.orders >= {orders} && window.amo.store.pacing.over"
            " && !window.amo.store.pacing.playing", timeout=20_000)
    except Exception:  # where the page was, for the failure's report
        print(page.evaluate("""() => { const s = window.amo.store, c = window.amo.conn;
            return {orders: s.counts.orders, pacing: s.pacing, pace: s.pace,
                    seq: s.appliedSeq, pending: s.pendingCount(), run: c.run,
                    last: c.lastSeq, status: document.querySelector('#status').textContent};
            }"""))
        raise
    settle(page)


def open_link(page: Page, link: str) -> None:
    page.goto(link)
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#connection")).to_contain_text("Connected")


def scrub(page: Page, t: float) -> None:
    page.locator("#timeline").evaluate(
        "(el, t) => { el.value = String(t);"
        " el.dispatchEvent(new Event('input', {bubbles: true})); }", t)
    page.wait_for_function(f"() => window.amo.timeline.inPast && "
                           f"Math.abs(window.amo.timeline.view.t - {t}) < 1e-6")


def test_scrubbing_back_before_the_loss_shows_the_reply_on_its_leg(page, server):
    open_app(page, server.url, query=f"?scenario=reply-lost&speed={FAST}&play=1")
    run_to_end(page)
    expect(page.locator("#credit")).to_have_attribute("data-alarm", "credit")
    scrub(page, 1.4)  # the reply was sent at about 1.17 s and lost at about 1.68 s
    expect(page.locator("#stage")).to_have_attribute("data-history", "true")
    expect(page.locator("#credit")).to_have_attribute("data-alarm", "off")
    assert page.evaluate("() => [...window.amo.store.tokens.values()].map((m) => m.kind)") == [
        "CreditReserved"]
    expect(page.locator("#clock")).to_have_text("t = 1.40 s")
    expect(page.get_by_role("button", name="Run from here")).to_be_visible()
    expect(page.locator("#timeline-out")).to_contain_text("t = 1.40 s of")
    # The log shows what led up to the moment, not what came after.
    expect(page.locator("#log")).to_contain_text("CreditReserved for order #1 sent")
    expect(page.locator("#log")).not_to_contain_text("lost")
    # Commands that change the run wait for Live (the page says why).
    page.keyboard.press("n")
    expect(page.locator("#status")).to_contain_text("live")
    page.get_by_role("button", name="Live").click()
    expect(page.locator("#stage")).to_have_attribute("data-history", "false")
    expect(page.locator("#credit")).to_have_attribute("data-alarm", "credit")


def test_step_back_after_step_returns_to_the_same_state(page, server):
    open_app(page, server.url, query="?scenario=happy-path")
    states = []
    for _ in range(6):  # Step: events, and stops with a message halfway along its leg
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(100)
        settle(page)
        states.append(page.evaluate(STATE))
    assert len(set(states)) == 6
    # Step back, again and again: each time the state as it was before that Step.
    for before in reversed(states[:-1]):
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("() => window.amo.timeline.inPast")
        page.wait_for_timeout(100)
        settle(page)
        assert json.loads(page.evaluate(STATE)) == json.loads(before)


def test_a_copied_link_replays_the_same_run_in_a_fresh_browser(browser, page, server):
    open_app(page, server.url, query=f"?scenario=happy-path&speed={FAST}&play=1")
    run_to_end(page)
    page.get_by_role("checkbox", name="Reply lost", exact=True).click()
    page.keyboard.press("n")
    run_to_end(page, orders=2)
    page.get_by_text("Share").click()
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#status")).to_contain_text("ink")  # "Link copied" or "the link"
    link = page.url
    assert "log=" in link and "scenario=happy-path" in link
    original = events_hash(page)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        other = context.new_page()
        open_link(other, link)
        other.wait_for_function(f"() => window.amo.store.appliedSeq === "
                                f"{page.evaluate('() => window.amo.store.appliedSeq')}")
        assert events_hash(other) == original
        expect(order_row(other, 2).locator(".badge")).to_contain_text("diverged")
    finally:
        context.close()


def test_a_link_to_a_moment_in_the_past(browser, page, server):
    open_app(page, server.url, query=f"?scenario=reply-lost&speed={FAST}&play=1")
    run_to_end(page)
    scrub(page, 1.4)
    page.wait_for_function("() => location.search.includes('t=1.4')")
    link = page.url
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        other = context.new_page()
        open_link(other, link)
        other.wait_for_function("() => window.amo.timeline.inPast")
        settle(other)
        settle(page)
        assert other.evaluate(STATE) == page.evaluate(STATE)
        expect(other.locator("#credit")).to_have_attribute("data-alarm", "off")
    finally:
        context.close()


def test_export_then_import_replays_identically(page, server, tmp_path):
    open_app(page, server.url, query=f"?scenario=four-failures&speed={FAST}&play=1")
    run_to_end(page)
    original = events_hash(page)
    page.get_by_text("Share").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export run", exact=True).click()
    path = tmp_path / "run.json"
    download.value.save_as(path)
    run = json.loads(path.read_text())
    assert run["scenario"] == "four-failures" and run["command_log"] and "events" not in run
    # With its events, for reading: every event of the run; a replay ignores them.
    page.get_by_text("Share").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export run with its events").click()
    with_events = json.loads(open(download.value.path()).read())
    assert [e["seq"] for e in with_events["events"]] == list(
        range(1, page.evaluate("() => window.amo.store.appliedSeq") + 1))
    # Another run in between, then the file back.
    page.locator("#scenario").select_option("happy-path")
    expect(page.locator("#explains")).to_contain_text("Nothing breaks")
    page.locator("#import-file").set_input_files(str(path))
    page.wait_for_function("() => window.amo.store.scenario === 'four-failures'")
    expect(page.locator("#notice")).to_be_hidden()
    assert events_hash(page) == original


def test_a_tampered_file_is_refused_with_its_field_named(page, server, tmp_path):
    open_app(page, server.url, query=f"?scenario=reply-lost&speed={FAST}&play=1")
    run_to_end(page)
    before = page.evaluate(STATE)
    page.get_by_text("Share").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export run", exact=True).click()
    run = json.loads(open(download.value.path()).read())
    run["command_log"][0]["cmd"]["cmd"] = "explode"
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(run))
    page.locator("#import-file").set_input_files(str(bad))
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("command_log[0]")
    expect(notice).to_contain_text("the current run is unchanged")
    assert page.evaluate(STATE) == before
    # Not JSON at all: said so, still unchanged.
    page.get_by_role("button", name="Dismiss notice").click()
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    page.locator("#import-file").set_input_files(str(junk))
    expect(notice).to_contain_text("not JSON")
    assert page.evaluate(STATE) == before


def test_run_from_here_with_another_failure_keeps_the_original(page, server, tmp_path):
    open_app(page, server.url, query=f"?scenario=happy-path&speed={FAST}&play=1")
    run_to_end(page)
    page.keyboard.press("n")
    run_to_end(page, orders=2)
    original = events_hash(page)
    expect(order_row(page, 2).locator(".badge")).to_contain_text("consistent")
    # Back to before order #2 was sent, fork, switch the reply loss on, send again.
    scrub(page, 0.5)
    page.get_by_role("button", name="Run from here").click()
    expect(page.locator("#stage")).to_have_attribute("data-history", "false")
    # The fork shares its past with the original: the diagram and the log hold it.
    page.wait_for_function("() => window.amo.diagram.lastSeq >= window.amo.store.appliedSeq"
                           " && window.amo.store.appliedSeq > 0")
    expect(page.locator("#log")).to_contain_text("Order #1 created")
    page.get_by_role("checkbox", name="Reply lost", exact=True).click()
    page.keyboard.press("n")
    page.keyboard.press(" ")
    run_to_end(page, orders=2)
    expect(order_row(page, 2).locator(".badge")).to_contain_text("diverged")
    assert events_hash(page) != original
    # The diagram ghosts the original under the fork, from the moment they part.
    page.get_by_role("tab", name="Space-time diagram").click()
    expect(page.locator("#diagram-ghost")).to_contain_text("t = 0.50 s: the original")
    page.wait_for_function("() => window.amo.diagram.items()?.ghost?.total > 0")
    page.get_by_role("tab", name="Orders").click()
    # The original is intact: its export replays to the same events.
    page.get_by_text("Share").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export original run").click()
    path = tmp_path / "original.json"
    download.value.save_as(path)
    page.locator("#import-file").set_input_files(str(path))
    page.wait_for_function("() => window.amo.store.counts.orders === 2"
                           " && window.amo.store.counts.consistent === 2")
    expect(page.locator("#notice")).to_be_hidden()
    assert events_hash(page) == original
