"""A lecturer's bookmark (?scenario=NAME&seed=S&speed=X&play=1) opens that preset ready; a
bad parameter is said in words (status line and a dismissible notice) and the default is
used. The metrics stream has no orders: Send order is off there, and says why."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.test_ui_support import (
    open_app,
    order_row,
    screenshot,
    send_order,
    wait_badge,
)


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def test_bookmark_opens_the_preset_ready(page, server):
    errors = open_app(page, server.url, query="?scenario=reply-lost&seed=7&speed=4&play=1")
    expect(page.get_by_label("Scenario")).to_have_value("reply-lost")
    expect(page.get_by_label("Seed")).to_have_value("7")
    expect(page.locator("#speed-out")).to_have_text("4×")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("checkbox", name="Reply lost", exact=True)).to_be_checked()
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
    expect(notice).to_contain_text("speed=500: allowed: a number from 0.05 to 200")
    expect(notice).to_contain_text("play=maybe: allowed: 1 to start playing, 0 to open paused")
    status = page.locator("#status")
    expect(status).to_contain_text("4 URL parameters not used (scenario, seed, speed, play)")
    screenshot(page, "bookmark-bad-parameters")
    # The defaults: the happy path, seed 1, 1×, paused; and the page works.
    expect(page.get_by_label("Scenario")).to_have_value("happy-path")
    expect(page.get_by_label("Seed")).to_have_value("1")
    expect(page.locator("#speed-out")).to_have_text("1×")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Dismiss notice").click()
    expect(notice).to_be_hidden()
    page.get_by_role("button", name="Play", exact=True).click()
    wait_badge(page, 1, "consistent")
    assert errors == []


@pytest.mark.parametrize(("query", "said"), [
    ("?seed=1.5", "URL parameter seed=1.5: allowed: a whole number from 0 to"),
    ("?speed=0", "URL parameter speed=0: allowed: a number from 0.05 to 200"),
    ("?scenario=", "URL parameter scenario=: allowed: one of happy-path"),
    ("?scenari=reply-lost", "URL parameter scenari=reply-lost: no such parameter"),
], ids=["seed", "speed", "empty-scenario", "typo"])
def test_one_bad_parameter_in_the_status_line(page, server, query, said):
    open_app(page, server.url, query=query)
    expect(page.locator("#status")).to_contain_text(said)
    expect(page.get_by_role("alert")).to_contain_text(said.removeprefix("URL parameter "))
    page.keyboard.press("Escape")
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.get_by_label("Scenario")).to_have_value("happy-path")


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
    page.get_by_label("Scenario").select_option("happy-path")
    expect(send).not_to_have_attribute("aria-disabled", "true")
    expect(send).not_to_be_disabled()
    send_order(page)
    expect(order_row(page, 1)).to_be_visible()
