"""The page against a real server: the happy path, each failure point, and what the sender
can and cannot tell. Every assertion is about what a person sees on the page."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from engine.names import FAILURE_POINTS, SEED_FAILURE_POINTS
from tests.support import REPO_ROOT
from tests.test_ui_support import (
    FAST,
    actual,
    badge,
    failure,
    knows,
    open_app,
    order_row,
    screenshot,
    send_order,
    settle_first_order,
    wait_badge,
)

NEVER_APPROVED = "credit reserved by the Customer service, order never approved"
STUCK_NEW = "order stuck in new"


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def play(page):
    page.get_by_role("button", name="Play", exact=True).click()
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")


def test_happy_path_is_consistent(page, server):
    errors = open_app(page, server.url, speed=FAST)
    expect(page.locator("#status")).to_contain_text("Play")
    play(page)
    settle_first_order(page)
    row = order_row(page, 1)
    expect(row.locator(".state")).to_have_text("✓ approved")
    expect(knows(page, 1)).to_contain_text("reply: CreditReserved")
    expect(actual(page, 1)).to_contain_text("arrived → credit reserved → reply arrived")
    expect(page.get_by_test_id("credit-reserved")).to_have_text("100")
    expect(page.locator("#reserved")).to_have_text("100")
    expect(page.locator("#approved")).to_have_text("100")
    expect(page.locator("#credit")).to_have_attribute("data-alarm", "off")
    expect(page.locator("#credit-verdict")).to_contain_text("They agree")
    # A second order, sent from the page, ends the same way.
    send_order(page)
    wait_badge(page, 2, "consistent")
    expect(page.locator("#reserved")).to_have_text("200")
    expect(page.locator("#approved")).to_have_text("200")
    expect(page.locator("#log .row").last).to_be_visible()
    screenshot(page, "happy-path")
    assert errors == []


# point, the control's accessible name, what actually happened, divergence reason, reserved
# credit after order #2, alarm state of the credit panel.
CASES = [
    ("request-lost", "Request lost", "request lost", STUCK_NEW, "100", "stuck"),
    ("crash-before-processing", "Crash before processing", "crashed before processing",
     STUCK_NEW, "100", "stuck"),
    ("crash-after-processing", "Crash after processing", "crashed after processing",
     NEVER_APPROVED, "200", "credit"),
    ("reply-lost", "Reply lost", "reply lost", NEVER_APPROVED, "200", "credit"),
]


# The event where each failure point makes an order diverge, as the log words it.
FLAGGED_EVENT = {
    "request-lost": "OrderCreated for order #2 lost on the request leg",
    "crash-before-processing": "Customer service crashed before processing order #2",
    "crash-after-processing": "Customer service crashed after processing order #2",
    "reply-lost": "CreditReserved for order #2 lost on the reply leg",
}


@pytest.mark.parametrize(("point", "label", "happened", "reason", "reserved", "alarm"), CASES,
                         ids=[c[0] for c in CASES])
def test_failure_point(page, server, point, label, happened, reason, reserved, alarm):
    errors = open_app(page, server.url, speed=FAST)
    play(page)
    settle_first_order(page)
    failure(page, label).check()
    expect(page.locator(f'#failures label.fp[data-point="{point}"]')).to_have_attribute(
        "data-mode", "on")
    send_order(page)
    wait_badge(page, 2, "diverged")
    # The sender only ever sees silence: after its timeout, "no reply", outcome unknown.
    expect(knows(page, 2)).to_contain_text("no reply: did it happen or not?")
    expect(order_row(page, 2).locator(".state")).to_have_text("○ new")
    expect(page.locator("#sender .chip[data-order='2'] .q")).to_have_text("?")
    expect(page.locator("#same-note")).to_be_visible()
    # What actually happened, in words, with the engine's reason.
    expect(actual(page, 2)).to_contain_text(happened)
    expect(actual(page, 2).locator(".reason")).to_contain_text(reason)
    # The credit: held by the receiver vs approved at the sender.
    expect(page.get_by_test_id("credit-reserved")).to_have_text(reserved)
    expect(page.locator("#reserved")).to_have_text(reserved)
    expect(page.locator("#approved")).to_have_text("100")
    credit = page.locator("#credit")
    expect(credit).to_have_attribute("data-alarm", alarm)
    if alarm == "credit":
        expect(credit).to_contain_text("ALARM")
        expect(page.get_by_test_id("alarm-orders")).to_have_text("#2")
        expect(credit.locator(".moment")).to_contain_text("event")
    else:
        expect(page.get_by_test_id("stuck-orders")).to_have_text("#2")
        expect(credit).not_to_contain_text("ALARM")
    # The moment the states parted is flagged in the log, on the event where it began.
    page.evaluate("() => window.amo.log.jumpToSeq(window.amo.store.orders.get(2).diverged_at_seq)")
    flagged = page.locator("#log .row.parts")
    expect(flagged).to_have_count(1)
    expect(flagged).to_contain_text("#2 parts here")
    expect(flagged).to_contain_text(FLAGGED_EVENT[point])
    # The order that went through before is still consistent.
    expect(badge(page, 1)).to_contain_text("consistent")
    screenshot(page, f"failure-{point}")
    assert errors == []


def test_the_four_failures_look_identical_to_the_sender(page, server):
    """One order per failure point: the sender's column reads the same four times, the
    column of what actually happened reads four different stories."""
    open_app(page, server.url, speed=FAST)
    play(page)
    settle_first_order(page)
    order = 1
    for _point, label, *_ in CASES:
        order += 1
        failure(page, label).check()
        send_order(page)
        wait_badge(page, order, "diverged")
        failure(page, label).uncheck()
        # Let a crashed receiver restart before the next order.
        expect(page.locator("#receiver-down")).to_be_hidden()
        expect(knows(page, order)).to_contain_text("no reply")
    orders = range(2, 2 + len(CASES))
    seen = {knows(page, n).inner_text() for n in orders}
    happened = [actual(page, n).inner_text() for n in orders]
    assert len(seen) == 1, seen
    assert len(set(happened)) == len(CASES), happened
    expect(page.locator("#credit")).to_have_attribute("data-alarm", "credit")
    expect(page.get_by_test_id("alarm-orders")).to_have_text("#4 and #5")
    expect(page.get_by_test_id("stuck-orders")).to_have_text("#2 and #3")
    page.locator("#orders-scroll").evaluate("el => el.scrollTop = 0")
    screenshot(page, "four-failures-same-silence")


def test_crash_shows_the_receiver_down_then_restarted(page, server):
    open_app(page, server.url, speed=2)
    failure(page, "Crash before processing").check()
    send_order(page)
    play(page)
    down = page.locator("#receiver-down")
    expect(down).to_be_visible(timeout=5000)
    expect(down).to_contain_text("DOWN")
    expect(down).to_contain_text("crashed before processing")
    expect(page.locator("#receiver")).to_have_class(re.compile(r"\bdown\b"))
    screenshot(page, "receiver-down")
    # Then its restart: a green banner for a moment, the reserved credit kept.
    expect(down).to_contain_text("RESTARTED", timeout=5000)
    expect(down).to_contain_text("reserved credit kept")
    expect(page.locator("#receiver")).not_to_have_class(re.compile(r"\bdown\b"))
    expect(page.locator("#log")).to_contain_text("Customer service restarted")
    expect(down).to_be_hidden(timeout=5000)


def test_failure_points_switch_on_the_stage(page, server):
    """Click the request leg and the receiver's crash switch: the labelled list follows."""
    open_app(page, server.url)
    canvas = page.locator("#stage-canvas")
    x, y = page.evaluate("""() => {
        const s = window.amo.stage, [px, py] = s.point("request", 0.5);
        return [px, py];
    }""")
    canvas.click(position={"x": x, "y": y})
    expect(failure(page, "Request lost")).to_be_checked()
    canvas.click(position={"x": x, "y": y})
    expect(failure(page, "Request lost")).not_to_be_checked()
    chip = page.locator('.crash-chip[data-point="crash-after-processing"]')
    expect(chip).to_have_text("⚡ crash after processing")
    chip.click()
    expect(failure(page, "Crash after processing")).to_be_checked()
    expect(chip).to_have_attribute("data-mode", "on")
    # On for every message is 100 %: the chance shows it.
    expect(page.get_by_label("Crash after processing probability")).to_have_value("100")
    slider = page.get_by_label("Reply leg loss probability")
    slider.focus()
    for _ in range(5):  # a slider's own keys are Up and Down (Left and Right step the run)
        page.keyboard.press("ArrowUp")
    slider.dispatch_event("change")
    expect(slider.locator("xpath=following-sibling::output")).to_have_text("5%")
    page.wait_for_function(
        "() => window.amo.store.failures['reply-lost'].probability === 0.05")


def test_metrics_preset_nothing_corrupted(page, server):
    open_app(page, server.url)
    page.get_by_label("Scenario").select_option("metrics-stream")
    expect(page.locator("#explains")).to_contain_text("average barely moves")
    expect(page.locator("#metrics-panel")).to_be_visible()
    from tests.test_ui_support import set_speed

    set_speed(page, 100)
    play(page)
    panel = page.locator("#metrics-panel")
    expect(panel).to_contain_text("Nothing corrupted")
    page.wait_for_function("() => window.amo.store.samplesLost > 0", timeout=15_000)
    expect(page.locator("#m-lost")).not_to_have_text("0")
    drift = page.locator("#m-drift")
    expect(drift).to_contain_text("%")
    assert float(drift.inner_text().rstrip("%")) < 5.0
    expect(page.locator("#orders-panel")).to_be_hidden()
    screenshot(page, "metrics-stream")


def test_lossy_network_preset(page, server):
    open_app(page, server.url)
    page.get_by_label("Scenario").select_option("lossy-network")
    expect(page.locator("#explains")).to_contain_text("drift away")
    from tests.test_ui_support import set_speed

    set_speed(page, 10)
    play(page)
    expect(page.locator("#credit")).to_have_attribute("data-alarm", "credit", timeout=20_000)
    screenshot(page, "lossy-network")


def test_failure_controls_come_from_the_servers_points_and_one_table(page, server):
    """One control per failure point the server names, in its order, with the same words
    in the panel, on the stage and in the note; a point the table lacks still gets one."""
    open_app(page, server.url)
    points = page.locator("#failures input[type=checkbox]").evaluate_all(
        "els => els.map((el) => el.dataset.point)")
    assert points == list(FAILURE_POINTS)
    for point, label in (("crash-before-processing", "Crash before processing"),
                         ("crash-after-processing", "Crash after processing")):
        expect(failure(page, label)).to_have_attribute("data-point", point)
        expect(page.locator(f'.crash-chip[data-point="{point}"]')).to_have_text(
            f"⚡ {label[0].lower()}{label[1:]}")
    for name in ("Request leg loss probability", "Reply leg loss probability"):
        expect(page.get_by_role("slider", name=name, exact=True)).to_be_visible()
    # Each point's label (static/i18n/en.json "failure.<point>.label"), first letter lowered.
    en = json.loads((REPO_ROOT / "static" / "i18n" / "en.json").read_text(encoding="utf-8"))
    # The note names the seed's four: a sender crash is no silence to the sender.
    lowered = [en[f"failure.{p}.label"] for p in SEED_FAILURE_POINTS]
    lowered = [w[0].lower() + w[1:] for w in lowered]
    count = ["no", "one", "two", "three", "four", "five", "six", "seven"]
    expect(page.locator("#same-note")).to_have_attribute(
        "title", f"The sender sees the same silence for every failure point: {', '.join(lowered)}.")
    expect(page.locator("#same-note")).to_contain_text(
        f"Same silence for all {count[len(SEED_FAILURE_POINTS)]} failures")
    # A failure point missing from the table: controls named by its wire name.
    page.evaluate("(points) => window.amo.failureControls.build([...points, 'disk-full'])",
                  list(FAILURE_POINTS))
    expect(failure(page, "disk-full")).to_be_visible()
    expect(page.locator("#failures .frow")).to_have_count(len(FAILURE_POINTS) + 1)
    expect(page.get_by_role("slider", name="disk-full probability", exact=True)).to_be_visible()
    expect(page.locator("#same-note")).to_contain_text(
        f"Same silence for all {count[len(SEED_FAILURE_POINTS) + 1]} failures")
