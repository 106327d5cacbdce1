"""A lecturer's bookmark (?scenario=NAME&seed=S&speed=X&play=1, plus one parameter per
failure point: ?reply-lost=on&request-lost=30%) opens that set-up ready; a bad parameter is
said in words (status line and a dismissible notice) and the default is used, a number out
of range is clamped to the nearest allowed value and said too; a link that plays says so.
The metrics stream has no orders: Send order is off there, and says why.

The failure points are checked in the store (window.amo.store.failures), not in their
controls: what the page shows of them is tested with the controls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.test_ui_support import (
    open_app,
    order_row,
    screenshot,
    send_order,
    wait_badge,
)

ALLOWED_FAILURE = ("allowed: off, next (the next message only), on (every message), or a "
                   "probability: a number from 0 to 1 (0.3) or a percentage from 0% to 100% (30%)")


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def failure(page: Page, point: str) -> dict:
    return page.evaluate("(p) => window.amo.store.failures[p]", point)


def wait_failure(page: Page, point: str, mode: str, probability: float) -> None:
    """Wait until the store holds this setting for `point` (set-failure events arrive in a
    batch after the snapshot)."""
    page.wait_for_function(
        "([p, m, q]) => { const f = window.amo.store.failures[p];"
        " return !!f && f.mode === m && Math.abs(f.probability - q) < 1e-9; }",
        arg=[point, mode, probability])


def wait_scenario(page: Page, name: str) -> None:
    """The run's scenario in the store (the Scenario list says "Custom run" when a link's
    failure points differ from the preset's)."""
    page.wait_for_function("(n) => window.amo.store.scenario === n", arg=name)


def record_status(page: Page) -> None:
    """Keep every text the status line shows in window.__said (events replace it soon)."""
    page.add_init_script("""
        window.__said = [];
        document.addEventListener("DOMContentLoaded", () => {
          const el = document.getElementById("status");
          new MutationObserver(() => window.__said.push(el.textContent))
            .observe(el, {childList: true, characterData: true, subtree: true});
        });
    """)


def wait_said(page: Page, text: str) -> None:
    page.wait_for_function("(t) => window.__said.some((s) => s.includes(t))", arg=text)


def test_bookmark_opens_the_preset_ready(page, server):
    record_status(page)
    errors = open_app(page, server.url, query="?scenario=reply-lost&seed=7&speed=4&play=1")
    expect(page.get_by_role("combobox", name="Scenario", exact=True)).to_have_value("reply-lost")
    expect(page.get_by_role("spinbutton", name="Seed", exact=True)).to_have_value("7")
    expect(page.locator("#speed-out")).to_have_text("4×")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    wait_said(page, "Playing: this link starts the run (play=1). Space pauses.")
    wait_failure(page, "reply-lost", "on", 0)
    expect(page.locator("#explains")).to_contain_text("CreditReserved is sent, but it is lost")
    wait_badge(page, 1, "diverged")
    expect(page.locator("#notice")).to_be_hidden()
    # A reload of the same tab keeps the run: the bookmark is not applied twice.
    send_order(page)
    expect(order_row(page, 2)).to_be_visible()
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(order_row(page, 2)).to_be_visible()
    assert errors == []


def test_bad_parameters_are_named_and_defaults_used(page, server):
    errors = open_app(page, server.url, query="?scenario=nope&seed=abc&speed=500&play=maybe")
    notice = page.get_by_role("alert")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("scenario=nope: allowed: one of happy-path")
    expect(notice).to_contain_text("seed=abc: allowed: a whole number from 0 to")
    expect(notice).to_contain_text(
        "speed=500: out of range; allowed: a number from 0.05 to 200 (a multiple of real time, "
        "e.g. 2); 200 is used.")
    expect(notice).to_contain_text("play=maybe: allowed: 1, yes, true or on to start playing")
    status = page.locator("#status")
    expect(status).to_contain_text(
        "4 URL parameters not used as given (scenario, seed, speed, play)")
    screenshot(page, "bookmark-bad-parameters")
    # The defaults: the happy path, seed 1, paused; speed out of range is clamped to 200×.
    expect(page.get_by_role("combobox", name="Scenario", exact=True)).to_have_value("happy-path")
    expect(page.get_by_role("spinbutton", name="Seed", exact=True)).to_have_value("1")
    expect(page.locator("#speed-out")).to_have_text("200×")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Dismiss notice").click()
    expect(notice).to_be_hidden()
    page.get_by_role("button", name="Play", exact=True).click()
    wait_badge(page, 1, "consistent")
    assert errors == []


@pytest.mark.parametrize(("query", "said"), [
    ("?seed=1.5", "URL parameter seed=1.5: allowed: a whole number from 0 to"),
    ("?speed=fast", "URL parameter speed=fast: allowed: a number from 0.05 to 200 (a multiple "
                    "of real time, e.g. 2); the default is used."),
    ("?scenario=", "URL parameter scenario=: allowed: one of happy-path"),
    ("?scenari=reply-lost", "URL parameter scenari=reply-lost: no such parameter"),
    ("?request-lost=maybe", f"URL parameter request-lost=maybe: {ALLOWED_FAILURE}; "
                            "the default is used."),
    # (the list goes on with the failure points; lang, the page's language, is known)
    ("?reply-lost=on&reply-lsot=next", "URL parameter reply-lsot=next: no such parameter (they "
     "are scenario, seed, speed, play, log, t, lang, "),
], ids=["seed", "speed", "empty-scenario", "typo", "failure-point", "failure-point-typo"])
def test_one_bad_parameter_in_the_status_line(page, server, query, said):
    open_app(page, server.url, query=query)
    expect(page.locator("#status")).to_contain_text(said)
    expect(page.get_by_role("alert")).to_contain_text(said.removeprefix("URL parameter "))
    page.keyboard.press("Escape")
    expect(page.get_by_role("alert")).to_be_hidden()
    wait_scenario(page, "happy-path")


POINTS = ("request-lost", "crash-before-processing", "crash-after-processing", "reply-lost")


def test_failure_points_in_the_link_set_the_failures(page, server):
    errors = open_app(page, server.url,
                      query="?reply-lost=on&request-lost=next&crash-before-processing=25%")
    wait_failure(page, "reply-lost", "on", 0)
    wait_failure(page, "request-lost", "next", 0)
    wait_failure(page, "crash-before-processing", "off", 0.25)
    assert failure(page, "crash-after-processing") == {"mode": "off", "probability": 0}
    wait_scenario(page, "happy-path")
    # Nothing to say about them: no notice, no parameter named in the status line.
    expect(page.locator("#notice")).to_be_hidden()
    status = page.locator("#status").text_content() or ""
    assert not any(point in status for point in POINTS), status
    assert "URL parameter" not in status
    assert errors == []


def test_failure_points_override_the_scenario_before_its_first_order(page, server):
    # The preset loses 5% of requests and replies; the link makes it exact: every reply
    # lost (the scenario's first order too), no request lost, crashes at 30%.
    query = ("?scenario=lossy-network&seed=3&reply-lost=ON&request-lost=off"
             "&crash-before-processing=0&crash-after-processing=0.3")
    open_app(page, server.url, query=query)
    wait_failure(page, "reply-lost", "on", 0)
    wait_failure(page, "request-lost", "off", 0)
    wait_failure(page, "crash-before-processing", "off", 0)
    wait_failure(page, "crash-after-processing", "off", 0.3)
    expect(page.locator("#notice")).to_be_hidden()
    # A preset's scripted first order already meets the link's settings.
    open_app(page, server.url, query="?scenario=happy-path&reply-lost=on&speed=20&play=1")
    wait_failure(page, "reply-lost", "on", 0)
    wait_badge(page, 1, "diverged")


def test_speed_out_of_range_is_clamped_and_said(page, server):
    errors = open_app(page, server.url, query="?speed=0.01")
    expect(page.locator("#speed-out")).to_have_text("0.05×")
    page.wait_for_function("() => Math.abs(window.amo.clock.speed - 0.05) < 1e-9")
    said = ("speed=0.01: out of range; allowed: a number from 0.05 to 200 (a multiple of "
            "real time, e.g. 2); 0.05 is used.")
    expect(page.get_by_role("alert")).to_contain_text(said)
    expect(page.locator("#status")).to_contain_text("URL parameter " + said)
    assert errors == []


def test_probability_and_seed_out_of_range_are_clamped(page, server):
    open_app(page, server.url,
             query="?scenario=reply-lost&seed=99999999999999999999&reply-lost=1.5"
                   "&request-lost=150%25&crash-after-processing=-0.2")
    wait_failure(page, "reply-lost", "off", 1)
    wait_failure(page, "request-lost", "off", 1)
    wait_failure(page, "crash-after-processing", "off", 0)
    seed = page.get_by_role("spinbutton", name="Seed", exact=True)
    expect(seed).to_have_value("9007199254740991")
    notice = page.get_by_role("alert")
    expect(notice).to_contain_text(
        f"reply-lost=1.5: out of range; {ALLOWED_FAILURE}; 100% is used.")
    expect(notice).to_contain_text("request-lost=150%: out of range;")
    expect(notice).to_contain_text("crash-after-processing=-0.2: out of range;")
    expect(notice).to_contain_text(
        "seed=99999999999999999999: out of range; allowed: a whole number from 0 to "
        "9007199254740991; 9007199254740991 is used.")
    expect(page.locator("#status")).to_contain_text(
        "4 URL parameters not used as given (seed, request-lost, crash-after-processing, "
        "reply-lost): see the notice above.")
    screenshot(page, "bookmark-clamped")


def test_unreadable_failure_value_keeps_the_scenario_setting(page, server):
    open_app(page, server.url, query="?scenario=request-lost&request-lost=maybe&reply-lost=20%")
    wait_failure(page, "reply-lost", "off", 0.2)
    assert failure(page, "request-lost") == {"mode": "on", "probability": 0}
    expect(page.get_by_role("alert")).to_contain_text(
        f"request-lost=maybe: {ALLOWED_FAILURE}; the default is used.")
    expect(page.locator("#status")).to_contain_text(
        "URL parameter request-lost=maybe: allowed: off")


@pytest.mark.parametrize("play", ["yes", "true", "on"])
def test_play_yes_plays_and_says_so(page, server, play):
    record_status(page)
    # A long run (200 orders over 50 virtual seconds): it is still playing when checked.
    errors = open_app(page, server.url, query=f"?scenario=lossy-network&speed=2&play={play}")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    wait_said(page, f"Playing: this link starts the run (play={play}). Space pauses.")
    page.wait_for_function("() => window.amo.store.counts.orders >= 2")
    expect(page.locator("#notice")).to_be_hidden()
    # Space pauses, as said.
    page.locator("body").click(position={"x": 5, "y": 700})
    page.keyboard.press("Space")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    assert errors == []


def test_link_is_applied_again_after_a_server_restart(page, start_server):
    server = start_server("threading")
    open_app(page, server.url, query="?scenario=crash-after-processing&reply-lost=40%&speed=3")
    wait_failure(page, "reply-lost", "off", 0.4)
    # Changed by hand: the link's setting is gone from the run.
    page.evaluate("() => window.amo.failureControls.send("
                  "'set-failure', {point: 'reply-lost', mode: 'off', probability: 0})")
    wait_failure(page, "reply-lost", "off", 0)
    old = page.evaluate("() => window.amo.conn.session")
    server.stop()
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    server.start()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected",
                                                         timeout=15_000)
    page.wait_for_function(f"() => window.amo.conn.session !== {old!r}")
    # The restarted server has forgotten the run: the link opens it afresh.
    wait_failure(page, "reply-lost", "off", 0.4)
    wait_failure(page, "crash-after-processing", "on", 0)
    wait_scenario(page, "crash-after-processing")
    expect(page.locator("#speed-out")).to_have_text("3×")


def test_metrics_preset_turns_send_order_off_with_a_reason(page, server):
    open_app(page, server.url, query="?scenario=metrics-stream")
    send = page.get_by_role("button", name="Send order", exact=True)
    expect(send).to_have_attribute("aria-disabled", "true")
    expect(send).to_be_disabled()
    expect(send).to_have_attribute("title", re.compile("metric samples"))
    why = page.locator("#send-why")
    expect(send).to_have_attribute("aria-describedby", "send-why")
    expect(why).to_be_visible()
    expect(why).to_contain_text("this scenario streams metric samples, it has no orders")
    expect(send).to_have_accessible_description(re.compile("Send order.* is off here"))
    screenshot(page, "metrics-send-order-off")
    # Clicking it or pressing N sends nothing and says why in the status line.
    send.click(force=True)
    expect(page.locator("#status")).to_contain_text("“Send order” is off here")
    page.locator("#status").evaluate("el => el.textContent = ''")
    page.locator("body").click(position={"x": 5, "y": 700})
    page.keyboard.press("n")
    expect(page.locator("#status")).to_contain_text("Pick an order scenario to send orders")
    assert page.evaluate("() => window.amo.store.counts.orders") == 0
    # Back to an order scenario: Send order works again.
    page.get_by_role("combobox", name="Scenario", exact=True).select_option("happy-path")
    expect(send).not_to_have_attribute("aria-disabled", "true")
    expect(send).not_to_be_disabled()
    send_order(page)
    expect(order_row(page, 1)).to_be_visible()


def test_every_slide_link_in_the_docs_opens_without_a_notice(page, server):
    doc = (Path(__file__).resolve().parent.parent / "docs" / "bookmarks.md").read_text()
    links = re.findall(r"\| `(/\?[^`]+)` \|", doc)
    scenarios = {m.group(1) for link in links if (m := re.search(r"scenario=([\w-]+)", link))}
    assert scenarios == {"happy-path", "request-lost", "crash-before-processing",
                         "crash-after-processing", "reply-lost", "four-failures",
                         "lossy-network", "metrics-stream"}
    record_status(page)
    for link in links:
        open_app(page, server.url, query=link.removeprefix("/"))
        wait_scenario(page, re.search(r"scenario=([\w-]+)", link).group(1))
        # Applied to the end: the speed is set, and the playing sentence said.
        expect(page.locator("#speed-out")).to_have_text(
            re.search(r"speed=([\d.]+)", link).group(1) + "×")
        if play := re.search(r"play=(\w+)", link):
            wait_said(page, f"this link starts the run (play={play.group(1)})")
        for point, value in re.findall(r"(request-lost|crash-\w+-processing|reply-lost)=([^&]+)",
                                       link):
            mode, probability = ("off", int(value[:-1]) / 100) if value.endswith("%") \
                else (value, 0)
            wait_failure(page, point, mode, probability)
        expect(page.locator("#notice")).to_be_hidden()
        assert "URL parameter" not in (page.locator("#status").text_content() or ""), link
