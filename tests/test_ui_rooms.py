"""Rooms in real Chromium (issue 13): a presenter page and two follower pages on one real
server. The presenter switches a failure and plays; both followers show the same alarm at
the same seq; a follower's command is refused on its page; a poll's answers reach the
presenter and its counts are revealed; Take it from here forks without touching the room;
the QR code is the join link's (segno's own rendering of the link shown). A presenter's
lesson step is the room's: followers show it read-only (late joiners too), a prediction
becomes a poll with one button, and Take it from here goes on with the lesson alone."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import segno
from playwright.sync_api import Page, expect

from tests.support import http_get
from tests.test_ui_support import TIMEOUT_MS, open_app, screenshot, set_speed

ROOT = Path(__file__).resolve().parent.parent


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
    # It says it follows when it connects: the server offers its socket no compression.
    assert page.evaluate("() => window.amo.conn.socket.io.opts.query.follow") == "1"
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


FAST = "localStorage.setItem('amo.lessons.fast', '1')"  # the lessons' speeds x20
LESSON = json.loads((ROOT / "static" / "lessons" / "01-once-or-never.json")
                    .read_text(encoding="utf-8"))
READY = ("(n) => window.amo.lessons.lesson && !window.amo.lessons.busy"
         " && window.amo.lessons.index === n")


def shows_step(page: Page, n: int) -> None:
    """The lesson panel shows step n (1-based) of the lesson, with its caption."""
    steps = LESSON["steps"]
    expect(page.locator("#lesson")).to_be_visible()
    expect(page.locator("#lesson-title")).to_contain_text(LESSON["title"]["en"])
    expect(page.locator("#lesson-pos")).to_have_text(f"Step {n} of {len(steps)}")
    expect(page.locator("#lesson-caption")).to_have_text(steps[n - 1]["caption"]["en"])


def test_followers_see_the_presenters_lesson_step(browser, server):
    presenter_ctx = context(browser)
    presenter_ctx.add_init_script(FAST)
    presenter = presenter_ctx.new_page()
    errors = open_app(presenter, server.url)
    presenter.click("#room-start")
    link = presenter.locator("#room-link").inner_text()
    presenter.click("#room-hide")
    one, two = follow(browser, link), follow(browser, link)

    # The presenter opens a lesson and moves a step: both followers show that step,
    # read-only (no Back, Next or Reveal; a note says the presenter leads).
    presenter.click("#lessons-btn")
    presenter.click(f'#lessons-list button[data-lesson="{LESSON["id"]}"]')
    presenter.wait_for_function(READY, arg=0)
    for page in (one, two):
        shows_step(page, 1)
    presenter.click("#lesson-next")
    presenter.wait_for_function(READY, arg=1)
    shows_step(presenter, 2)
    for page in (one, two):
        shows_step(page, 2)
        expect(page.locator("#lesson-led")).to_contain_text("The presenter leads this lesson")
        expect(page.locator("#lesson-next")).to_be_hidden()
        expect(page.locator("#lesson-back")).to_be_hidden()
        expect(page.locator("#lessons-btn")).to_be_hidden()
    expect(presenter.locator("#lesson-led")).to_have_count(0)

    # A late joiner gets the lesson step with the room's state.
    three = follow(browser, link)
    shows_step(three, 2)
    screenshot(three, "room-follower-lesson")

    # A prediction step: the presenter asks the room with one button; an answer comes in;
    # the lesson's reveal reveals the counts too.
    presenter.click("#lesson-next")
    presenter.wait_for_function(READY, arg=2)
    predict = LESSON["steps"][2]["predict"]
    for page in (one, two, three):
        shows_step(page, 3)
        expect(page.locator("#lesson-q")).to_have_text(predict["question"]["en"])
    presenter.click("#lesson-poll")
    expect(presenter.locator("#lesson-poll")).to_be_hidden()
    card = one.locator("#room-poll-card")
    expect(card.locator("#room-poll-q")).to_have_text(predict["question"]["en"])
    card.locator('.room-choice[data-choice="0"]').click()
    expect(presenter.locator("#lesson-poll-status")).to_contain_text("1 answer", timeout=5000)
    presenter.click("#lesson-reveal")
    presenter.wait_for_function("() => window.amo.lessons.revealed")
    expect(presenter.locator('#lesson-poll-counts [data-choice="0"]')).to_have_text("1 vote")
    for page in (one, two, three):
        expect(page.locator("#lesson")).to_have_attribute("data-revealed", "true")
        expect(page.locator("#lesson-result")).not_to_be_empty()
    expect(two.locator('#room-poll-card [data-choice="0"]')).to_have_text("1 vote")
    screenshot(presenter, "room-presenter-lesson-poll")

    # Take it from here: the follower leaves the room's lesson and goes on by itself.
    two.click("#room-take")
    expect(two.locator("#room-banner")).to_be_hidden()
    expect(two.locator("#lesson-next")).to_be_visible()
    expect(two.locator("#lesson-led")).to_be_hidden()
    two.click("#lesson-next")
    two.wait_for_function(READY, arg=3)
    shows_step(two, 4)
    shows_step(one, 3)
    assert presenter.evaluate("() => window.amo.lessons.index") == 2
    assert not errors and not one.errors and not two.errors and not three.errors
