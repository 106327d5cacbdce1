"""Rooms in real Chromium (issue 13): a presenter page and two follower pages on one real
server. The presenter switches a failure and plays; both followers show the same alarm at
the same seq; a follower's command is refused on its page; a poll's answers reach the
presenter and its counts are revealed; Take it from here forks without touching the room;
the QR code is the join link's (segno's own rendering of the link shown)."""

from __future__ import annotations

import io
import re

import pytest
import segno
from playwright.sync_api import Page, expect

from tests.support import http_get
from tests.test_ui_support import TIMEOUT_MS, open_app, screenshot, set_speed


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def context(browser, w: int = 1280, h: int = 720):
    ctx = browser.new_context(viewport={"width": w, "height": h})
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


def seq(page: Page) -> int:
    return page.evaluate("() => window.amo.conn.lastSeq")


def follow(browser, link: str) -> Page:
    page = context(browser, 390, 844).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(link)
    page.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT_MS)
    expect(page.locator("#room-banner-text")).to_contain_text("You follow room")
    page.errors = errors
    return page


def test_a_room_follows_its_presenter(browser, server):
    presenter = context(browser).new_page()
    errors = open_app(presenter, server.url)
    presenter.click("#room-start")
    expect(presenter.locator("#room-panel")).to_be_visible()
    code = presenter.locator("#room-code-shown").inner_text()
    assert re.fullmatch(r"[A-HJ-KM-NP-Z2-9]{6}", code), code
    link = presenter.locator("#room-link").inner_text()
    token = link.rsplit("/", 1)[1]
    assert link == f"{server.url}/room/{token}" and len(token) >= 32

    # The QR code shown is segno's rendering of the join link shown.
    status, svg = http_get(f"{server.url}/room/{token}/qr.svg")
    expected = io.BytesIO()
    segno.make(link, error="m").save(expected, kind="svg", scale=10, border=4, dark="#000",
                                     light="#fff", title="QR code of the join link")
    assert status == 200 and svg == expected.getvalue()
    expect(presenter.locator("#room-qr")).to_have_attribute("src", f"/room/{token}/qr.svg")
    assert presenter.evaluate("() => document.querySelector('#room-qr').naturalWidth") > 0

    one = follow(browser, link)
    # The second follower types the code (Join a room) instead of opening the link.
    two = context(browser, 1280, 720).new_page()
    open_app(two, server.url)
    two.click("#room-join-open")
    two.fill("#room-code", "ab0o1")
    two.click("#room-join-go")
    expect(two.locator("#room-code-error")).to_contain_text("6 letters and digits")
    two.fill("#room-code", code.lower())
    two.click("#room-join-go")
    two.wait_for_url(f"**/room/{token}")
    two.wait_for_selector("body[data-ready=true]")
    expect(two.locator("#room-banner-text")).to_contain_text(code)
    expect(presenter.locator("#room-count")).to_have_text("2 follow", timeout=5000)

    # The presenter switches a failure and plays: both followers show the same alarm at the
    # same seq.
    presenter.click("#room-hide")
    set_speed(presenter, 20)
    presenter.keyboard.press("4")  # reply-lost, every message
    presenter.keyboard.press("n")
    presenter.keyboard.press("Space")
    expect(presenter.locator("#credit")).to_have_attribute("data-alarm", "credit")
    presenter.keyboard.press("Space")  # pause: the seqs settle
    presenter.wait_for_function("() => !window.amo.store.pacing.playing")
    head = seq(presenter)
    for follower in (one, two):
        follower.wait_for_function(f"() => window.amo.conn.lastSeq === {head}")
        expect(follower.locator("#credit")).to_have_attribute("data-alarm", "credit")
        assert follower.locator("#credit-verdict").inner_text() == \
            presenter.locator("#credit-verdict").inner_text()
    screenshot(one, "room-follower-alarm")

    # A follower's command is refused, and said on its page.
    one.keyboard.press("n")
    expect(one.locator("#notice")).to_contain_text("Only the presenter controls this run")
    assert seq(presenter) == head

    # A poll: asked, answered (one changes its mind), counted, revealed.
    presenter.click("#room-start")  # reopens the panel
    presenter.fill("#room-poll-question", "What does the sender know?")
    presenter.fill("#room-poll-choices", "approved\nnothing\ncancelled")
    presenter.click("#room-poll-ask")
    for follower, choice in ((one, 0), (two, 1), (one, 1)):
        button = follower.locator(f'#room-poll-card .room-choice[data-choice="{choice}"]')
        button.click()
        expect(follower.locator(f'#room-poll-card .room-choice[data-choice="{choice}"]')) \
            .to_have_attribute("aria-pressed", "true")
    expect(presenter.locator("#room-poll-status")).to_contain_text("2 answers", timeout=5000)
    presenter.click("#room-poll-reveal")
    expect(presenter.locator('#room-poll-result [data-choice="1"]')).to_have_text("2 votes")
    expect(presenter.locator('#room-poll-result [data-choice="0"]')).to_have_text("0 votes")
    expect(two.locator('#room-poll-card [data-choice="1"]')).to_have_text("2 votes")
    screenshot(presenter, "room-presenter-poll")

    # Take it from here: the second follower's own run, from the moment it was shown.
    presenter.click("#room-hide")
    two.click("#room-take")
    expect(two.locator("#room-banner")).to_be_hidden()
    two.wait_for_function("() => window.location.pathname === '/' && window.amo.conn.session")
    two.keyboard.press("n")  # its own run takes commands
    two.wait_for_function(f"() => window.amo.conn.lastSeq > {head}")
    expect(two.locator("#notice")).to_be_hidden()
    assert seq(presenter) == head and seq(one) == head  # the room did not move
    presenter.keyboard.press("n")
    presenter.wait_for_function(f"() => window.amo.conn.lastSeq > {head}")
    after = seq(presenter)
    one.wait_for_function(f"() => window.amo.conn.lastSeq === {after}")
    assert not errors and not one.errors
