"""The stage canvas: tokens carry readable labels when few are in flight and fall back to
the grouped drawing when many are; the leg labels sit outside the token lanes; no text is
ever drawn over other text; the moment of divergence, a crash and a timeout show on it.

The canvas has no DOM to query: the stage keeps the boxes of the text it drew in its last
frame (``window.amo.stage.texts``), and these tests read them as a person reads the
picture."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_ui_support import (
    failure,
    open_app,
    screenshot,
    send_order,
    stage_texts,
)

# Collect the stage's text boxes over `frames` animation frames; report overlapping pairs
# and leg labels that reach into a token's lane.
WATCH = """(frames) => new Promise((resolve) => {
  const clashes = [];
  let seen = 0, tokens = 0, captions = 0, n = 0;
  const hit = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
  function tick() {
    const texts = window.amo.stage.texts;
    seen += texts.length;
    for (let i = 0; i < texts.length; i++) {
      if (texts[i][5] === 'token') tokens++;
      if (String(texts[i][5]).startsWith('caption')) captions++;
      for (let j = i + 1; j < texts.length; j++) {
        if (hit(texts[i], texts[j]) && clashes.length < 10) {
          clashes.push([texts[i][4], texts[j][4]]);
        }
      }
    }
    if (++n < frames) requestAnimationFrame(tick);
    else resolve({clashes, seen, tokens, captions});
  }
  requestAnimationFrame(tick);
})"""


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def step(page):
    """One Step: the next event, or a stop with a message halfway along its leg (the clock
    moves, no event)."""
    before = page.evaluate("() => [window.amo.view.logCount, window.amo.clock.serverT]")
    page.get_by_role("button", name="Step", exact=True).click()
    page.wait_for_function(f"() => window.amo.view.logCount > {before[0]} || "
                           f"window.amo.clock.serverT > {before[1]}")


def token_texts(page) -> list[str]:
    return [t["text"] for t in stage_texts(page) if t["kind"] == "token"]


def step_until(page, label: str, steps: int = 12) -> None:
    """Step (one event at a time) until the stage shows a token labelled `label`."""
    for _ in range(steps):
        page.wait_for_timeout(150)  # the paused clock glides to the stepped-to moment
        if label in token_texts(page):
            return
        step(page)
    raise AssertionError(f"no token {label!r} on the stage: {token_texts(page)}")


def test_tokens_carry_their_message_and_order(page, server):
    open_app(page, server.url)
    # Paused: one step and the preset's order #1 sets off on the request leg.
    step_until(page, "✉ OrderCreated #1")
    assert token_texts(page) == ["✉ OrderCreated #1"]
    # Delivered, processed: the reply leaves with its own label.
    step_until(page, "✓ CreditReserved #1")
    screenshot(page, "stage-labelled-reply")
    # No credit left: the answer to the next order is InsufficientCredit, labelled so.
    answer = page.evaluate(
        "() => window.amo.conn.command('set-credit-limit', {credit_limit: 0})")
    assert answer["ok"], answer
    send_order(page)
    step_until(page, "✉ OrderCreated #2")
    step_until(page, "✗ InsufficientCredit #2")


def test_metric_samples_show_their_value(page, server):
    open_app(page, server.url, query="?scenario=metrics-stream")
    for _ in range(3):
        step(page)
    page.wait_for_function("() => window.amo.stage.texts.some((t) => t[5] === 'token')")
    labels = token_texts(page)
    assert labels and all(re.fullmatch(r"● \d+\.\d", text) for text in labels), labels


def test_leg_labels_stay_outside_the_lanes_and_no_text_overlaps(page, server):
    open_app(page, server.url, query="?scenario=lossy-network&speed=10&play=1")
    page.wait_for_function("() => window.amo.store.lostTotal.reply > 0", timeout=30_000)
    report = page.evaluate(WATCH, 240)
    assert report["clashes"] == [], report
    assert report["tokens"] > 0 and report["captions"] > 0, report
    texts = stage_texts(page)
    labels = {t["kind"]: t for t in texts if t["kind"].startswith("leg-")}
    assert set(labels) == {"leg-request", "leg-reply"}, texts
    assert "✗" in labels["leg-request"]["text"] and "lost" in labels["leg-request"]["text"]
    # Above every request token and below every reply token.
    legs = page.evaluate("() => window.amo.stage.tokenBoxes")
    for _x0, y0, _x1, y1, _text, leg in legs:
        if leg == "request":
            assert labels["leg-request"]["y1"] <= y0, (labels["leg-request"], y0)
        else:
            assert labels["leg-reply"]["y0"] >= y1, (labels["leg-reply"], y1)
    # At most one caption of a loss per leg.
    kinds = [t["kind"] for t in texts]
    assert kinds.count("caption-request") <= 1 and kinds.count("caption-reply") <= 1
    screenshot(page, "stage-lossy-network")


def test_metrics_preset_label_is_not_under_the_samples(page, server):
    open_app(page, server.url, query="?scenario=metrics-stream&speed=2&play=1")
    page.wait_for_function("() => window.amo.store.tokens.size >= 3")
    report = page.evaluate(WATCH, 120)
    assert report["clashes"] == [], report
    label = next(t for t in stage_texts(page) if t["kind"] == "leg-request")
    assert "loses 5%" in label["text"]
    for box in page.evaluate("() => window.amo.stage.tokenBoxes"):
        assert label["y1"] <= box[1], (label, box)
    screenshot(page, "stage-metrics-stream")


def test_many_tokens_fall_back_to_the_grouped_drawing(page, server):
    open_app(page, server.url)
    answer = page.evaluate("""() => window.amo.conn.command('scenario',
        {name: 'lossy-network', config: {orders: 20000, order_interval: 0.002}})""")
    assert answer["ok"], answer
    page.evaluate("() => window.amo.conn.command('play')")
    page.wait_for_function("() => window.amo.store.tokens.size > 200", timeout=20_000)
    page.wait_for_function("() => window.amo.stats.frames > 0")
    assert token_texts(page) == []
    # The leg labels are still there, outside the lanes.
    kinds = {t["kind"] for t in stage_texts(page)}
    assert {"leg-request", "leg-reply"} <= kinds
    report = page.evaluate(WATCH, 60)
    assert report["clashes"] == [], report


def test_divergence_crash_and_timeout_show_on_the_stage(page, server):
    # At 2x the receiver is down for a whole second of wall time: under load a frame may
    # take 100 ms, and at 20x the crash and the restart (2 s apart) could land in one.
    open_app(page, server.url, speed=2)
    failure(page, "Crash after processing").check()
    page.get_by_role("button", name="Play", exact=True).click()
    # The moment order #1 diverges: a banner on the stage, between the legs.
    page.wait_for_function(
        "() => window.amo.stage.texts.some((t) => t[5] === 'banner' && t[4].includes('#1'))",
        timeout=10_000, polling="raf")
    expect(page.locator("#receiver-down")).to_contain_text("DOWN")
    screenshot(page, "stage-divergence-banner")
    # The sender's timeout: "?" on its chip, and said on the stage.
    page.wait_for_function(
        "() => window.amo.stage.texts.some((t) => t[5] === 'timeout' && t[4].includes('#1'))",
        timeout=10_000, polling="raf")
    expect(page.locator("#sender .chip[data-order='1'] .q")).to_have_text("?")
