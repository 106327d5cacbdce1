"""What became of a command, as the page says it: a command whose answer never comes may
or may not have been applied (the sender's own position in at-most-once delivery), so the
page says exactly that and re-syncs from a snapshot; it never says "could not"."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.test_ui_support import FAST, open_app, settle_first_order

NO_ANSWER = "Play: no answer: it may or may not have been applied"

# Lose the server's answer to the next `play` command: the command reaches the server and is
# applied, its answer is dropped on arrival. Every status line the page says is recorded.
LOSE_PLAY_ANSWER = """() => {
    const socket = window.amo.conn.socket, emit = socket.emit, onack = socket.onack;
    let lost = null;
    window.__answerLost = false;
    socket.emit = function (ev, payload, ...rest) {
        const out = emit.call(this, ev, payload, ...rest);
        if (ev === "command" && payload && payload.cmd === "play" && lost === null) {
            lost = this.ids - 1;  // the ack id socket.io gave it
        }
        return out;
    };
    socket.onack = function (packet) {
        if (lost !== null && packet.id === lost) {
            window.__answerLost = true;
            return;
        }
        return onack.call(this, packet);
    };
    const status = document.querySelector('#status');
    window.__said = [];
    new MutationObserver(() => window.__said.push(status.textContent))
        .observe(status, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def test_no_answer_may_or_may_not_have_been_applied_and_the_page_resyncs(page, server):
    errors = open_app(page, server.url, speed=FAST)
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    session = page.evaluate("() => window.amo.conn.session")
    snapshots = page.evaluate("() => window.amo.stats.snapshots")
    page.evaluate(LOSE_PLAY_ANSWER)
    page.evaluate("() => { window.amo.conn.commandTimeoutMs = 1000; }")  # not 5 s: a test
    page.get_by_role("button", name="Play", exact=True).click()
    # Said in the status line (the events of the run, playing meanwhile, are said after it).
    page.wait_for_function(f"() => window.__said.some((s) => s.startsWith({NO_ANSWER!r}))")
    assert page.evaluate("() => window.__answerLost")
    # The page asks the server for the run as it is: a snapshot of the same session.
    page.wait_for_function(f"() => window.amo.stats.snapshots > {snapshots}")
    page.wait_for_function(
        "() => window.__said.includes("
        f"{NO_ANSWER + '. The view now shows the run as the server has it.'!r})")
    assert page.evaluate("() => window.amo.conn.session") == session
    # The server had applied it: in the re-synced view time has run and order #1 went
    # through (the happy path's run then ends by itself).
    assert page.evaluate("() => window.amo.clock.serverT") > 0
    settle_first_order(page)
    said = page.evaluate("() => window.__said")
    assert not [s for s in said if "could not" in s.lower()], said
    assert errors == []
