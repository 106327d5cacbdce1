"""Lessons in the page (issue 11): every lesson can be completed by keyboard alone (Next,
predictions, Reveal) and by a clicker's PageDown/PageUp; a prediction stops the run before
the answer is visible; the synchronous call's timeout tells the sender what the
asynchronous sender knew; a reload resumes at the same step; links name a lesson and a
step (bad values said); presentation mode shows the caption at lecture-hall size.
Real Chromium, a real server; screenshots in test-artifacts/lessons/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support import artifacts_path
from tests.test_ui_support import TIMEOUT_MS, knows, open_app, order_row

ROOT = Path(__file__).resolve().parent.parent
LESSONS = [json.loads(p.read_text(encoding="utf-8"))
           for p in sorted((ROOT / "static" / "lessons").glob("*.json"))]
FAST = "localStorage.setItem('amo.lessons.fast', '1')"  # the lessons' speeds x20
READY = ("(n) => window.amo.lessons.lesson && !window.amo.lessons.busy"
         " && window.amo.lessons.index === n")
STATE = """() => { const l = window.amo.lessons, s = window.amo.store;
    return {index: l.index, busy: l.busy, pacing: s.pacing, seq: s.appliedSeq,
            pending: s.pendingCount(), run: window.amo.conn.run,
            status: document.querySelector('#status').textContent}; }"""


def shot(page: Page, name: str) -> None:
    folder = artifacts_path() / "lessons"
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


@pytest.fixture(scope="module")
def shared(browser, server):
    """One page for the walks through the lessons (a lesson sets its own runs up)."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(20_000)
    context.add_init_script(FAST)
    page = context.new_page()
    errors = open_app(page, server.url)
    yield page, errors
    context.close()


@pytest.fixture
def fast_page(page: Page) -> Page:
    page.context.add_init_script(FAST)
    page.set_default_timeout(20_000)
    return page


def wait_step(page: Page, n: int) -> None:
    """Step n (0-based) is shown and its action has run (the run is paused there)."""
    try:
        page.wait_for_function(READY, arg=n, timeout=30_000)
    except Exception:
        print(page.evaluate(STATE))  # where the player was, for the failure's report
        raise


def open_by_keyboard(page: Page, number: int) -> None:
    """The Lessons button (focused as Tab would), Enter, Tab to the lesson, Enter."""
    page.locator("#lessons-btn").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#lessons-dialog")).to_be_visible()
    page.locator("#lessons-list button").first.focus()
    for _ in range(number - 1):
        page.keyboard.press("Tab")
    expect(page.locator("#lessons-list button").nth(number - 1)).to_be_focused()
    page.keyboard.press("Enter")
    wait_step(page, 0)


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson["id"] for lesson in LESSONS])
def test_each_lesson_can_be_completed_by_keyboard_alone(shared, lesson):
    page, errors = shared
    number = LESSONS.index(lesson) + 1
    open_by_keyboard(page, number)
    title = page.locator("#lesson-title")
    expect(title).to_contain_text(lesson["title"]["en"])
    steps = lesson["steps"]
    predictions = 0
    for n, step in enumerate(steps):
        wait_step(page, n)
        expect(page.locator("#lesson-pos")).to_have_text(f"Step {n + 1} of {len(steps)}")
        expect(page.locator("#lesson-caption")).to_have_text(step["caption"]["en"])
        for target in step.get("look_at", []):
            if target in ("failures", "call"):
                continue  # tucked away at some sizes; said in words below
            box = page.locator(f'#lesson-marks .look-box[data-target="{target}"]')
            expect(box).to_contain_text("Look here")
        if step.get("look_at"):
            expect(page.locator("#lesson-look")).to_contain_text("Look at:")
        if "predict" in step:
            predictions += 1
            group = page.get_by_role("radiogroup", name="Your prediction")
            expect(group).to_be_visible()
            expect(page.locator("#lesson-q")).to_have_text(step["predict"]["question"]["en"])
            expect(page.locator("#lesson-result")).to_be_empty()
            # Choose by keyboard: the first choice has the focus; the arrows move on.
            radios = page.locator("#lesson-choices input[type=radio]")
            expect(radios.first).to_be_focused()
            pick = (number + n) % len(step["predict"]["choices"])
            if pick == 0:
                page.keyboard.press("Space")
            for _ in range(pick):
                page.keyboard.press("ArrowDown")
            expect(radios.nth(pick)).to_be_checked()
            page.keyboard.press("Enter")
            page.wait_for_function("() => window.amo.lessons.revealed")
            expect(page.locator("#lesson-result")).to_contain_text(
                re.compile(r"Your prediction (held|did not hold)"))
            expect(page.locator("#lesson-next")).to_be_focused()
        page.keyboard.press("PageDown" if n % 2 else "ArrowRight")
    expect(page.locator("#lesson-pos")).to_have_text("Done")
    held = page.evaluate(f"() => window.amo.lessons.tally('{lesson['id']}')")
    assert held["made"] == predictions
    expect(page.locator("#lesson-caption")).to_contain_text(
        f"{held['held']} of {predictions} predictions held" if predictions
        else "No predictions made")
    page.keyboard.press("Escape")
    expect(page.locator("#lesson")).to_be_hidden()
    assert errors == []


def test_a_clicker_alone_goes_through_a_lesson_and_back(fast_page, server):
    page = fast_page
    open_app(page, server.url, query="?lesson=four-failures")
    steps = LESSONS[4]["steps"]
    wait_step(page, 0)
    page.keyboard.press("PageDown")
    wait_step(page, 1)
    page.keyboard.press("PageUp")  # back: the run is rebuilt from the step's set-up
    wait_step(page, 0)
    expect(page.locator("#lesson-pos")).to_have_text(f"Step 1 of {len(steps)}")
    for n in range(1, len(steps)):
        page.keyboard.press("PageDown")
        wait_step(page, n)
        if "predict" in steps[n]:
            page.keyboard.press("PageDown")  # a clicker's Next at a question reveals
            page.wait_for_function("() => window.amo.lessons.revealed")
            expect(page.locator("#lesson-result")).to_contain_text("No prediction made")
            # The honest answer of the conceptual question.
            expect(page.locator("#lesson-result")).to_contain_text("the sender cannot tell")
    page.keyboard.press("PageDown")
    expect(page.locator("#lesson-caption")).to_contain_text("No predictions made")
    shot(page, "clicker-end")


def test_a_prediction_stops_the_run_before_the_answer_is_visible(fast_page, server):
    page = fast_page
    open_app(page, server.url, query="?lesson=reply-deliberate&step=3")
    wait_step(page, 2)
    # Paused with the reply on its way: no alarm, order #1 not diverged, nothing moving.
    assert page.evaluate("() => window.amo.store.pacing.playing") is False
    expect(page.locator("#credit")).not_to_have_attribute("data-alarm", "credit")
    expect(order_row(page, 1)).not_to_contain_text("diverged")
    assert page.evaluate("() => window.amo.store.tokens.size") == 1
    expect(page.locator('#lesson-marks .look-box[data-target="reply-leg"]')).to_contain_text(
        "Look here: the reply leg")
    shot(page, "predict-1280x720")
    page.get_by_role("radio", name="No: the credit is given back").check()
    page.get_by_role("button", name="Reveal").click()
    page.wait_for_function("() => window.amo.lessons.revealed")
    expect(page.locator("#credit")).to_have_attribute("data-alarm", "credit")
    expect(order_row(page, 1)).to_contain_text("diverged")
    result = page.locator("#lesson-result")
    expect(result).to_contain_text("Your prediction did not hold")
    expect(result).to_contain_text("The answer: Yes: it stays reserved")
    shot(page, "revealed-1280x720")


def test_the_synchronous_call_knows_what_the_asynchronous_sender_knew(fast_page, server):
    page = fast_page
    open_app(page, server.url, query="?lesson=sync-or-async")
    wait_step(page, 0)
    assert page.evaluate("() => window.amo.store.config.call") == "async"
    expect(page.locator("#call")).to_have_value("async")
    expect(knows(page, 1)).to_contain_text(re.compile("no reply", re.I))
    async_view = knows(page, 1).inner_text()
    page.keyboard.press("PageDown")
    wait_step(page, 1)
    assert page.evaluate("() => window.amo.store.config.call") == "sync"
    expect(page.locator("#call")).to_have_value("sync")
    page.keyboard.press("PageDown")  # reveal
    page.wait_for_function("() => window.amo.lessons.revealed")
    expect(page.locator("#lesson-result")).to_contain_text("the order stays new")
    expect(knows(page, 1)).to_have_text(async_view)


def test_leaving_and_coming_back_resumes_at_the_same_step(fast_page, server):
    page = fast_page
    open_app(page, server.url)
    open_by_keyboard(page, 2)
    page.keyboard.press("PageDown")  # reveal the first step's question
    page.wait_for_function("() => window.amo.lessons.revealed")
    page.keyboard.press("PageDown")
    wait_step(page, 1)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    wait_step(page, 1)
    expect(page.locator("#lesson-title")).to_contain_text("What the sender knows")
    expect(page.locator("#lesson-pos")).to_have_text(f"Step 2 of {len(LESSONS[1]['steps'])}")
    page.wait_for_function("() => /lesson=what-the-sender-knows&step=2/.test(location.search)")
    # The list shows the progress.
    page.keyboard.press("Escape")
    page.locator("#lessons-btn").click()
    item = page.locator('#lessons-list button[data-lesson="what-the-sender-knows"]')
    expect(item).to_contain_text(f"at step 2 of {len(LESSONS[1]['steps'])}")
    item = page.locator('#lessons-list button[data-lesson="once-or-never"]')
    expect(item).to_contain_text("not started")


def test_a_link_with_a_bad_lesson_or_step_says_so(fast_page, server):
    page = fast_page
    open_app(page, server.url, query="?lesson=three-steps&step=99")
    wait_step(page, 4)
    expect(page.locator("#notice")).to_contain_text("step=99: allowed: a whole number from 1 to 5")
    other = page.context.new_page()
    open_app(other, server.url, query="?lesson=no-such&step=2")
    expect(other.locator("#notice")).to_contain_text("lesson=no-such: no such lesson")
    expect(other.locator("#lessons-dialog")).to_be_visible()
    other.close()


def test_the_step_numbers_are_on_the_stage(fast_page, server):
    page = fast_page
    open_app(page, server.url, query="?lesson=three-steps")
    wait_step(page, 0)
    nums = page.locator("#stage-view .step-num")
    expect(nums).to_have_count(3)
    expect(nums.nth(0)).to_contain_text("1 send ✂ request lost")
    expect(nums.nth(1)).to_contain_text("2 react ⚡ crash before or after processing")
    expect(nums.nth(2)).to_contain_text("3 reply ✂ reply lost")
    stage = page.locator("#stage-view").bounding_box()
    for i in range(3):
        b = nums.nth(i).bounding_box()
        assert stage["x"] <= b["x"] and b["x"] + b["width"] <= stage["x"] + stage["width"]
        assert stage["y"] <= b["y"] and b["y"] + b["height"] <= stage["y"] + stage["height"]
    shot(page, "step-numbers-1280x720")
    page.keyboard.press("Escape")
    expect(nums).to_have_count(0)


def test_the_call_control_and_call_sync_in_a_link(fast_page, server):
    page = fast_page
    open_app(page, server.url, query="?scenario=reply-lost&call=sync")
    page.wait_for_function("() => window.amo.store.config.call === 'sync'")
    expect(page.locator("#call")).to_have_value("sync")
    page.get_by_label("Call").select_option("async")
    page.wait_for_function("() => window.amo.store.config.call === 'async'")
    page.get_by_label("Call").select_option("sync")
    page.wait_for_function("() => window.amo.store.config.call === 'sync'")
    page.wait_for_function("() => /[?&]call=sync/.test(location.search)", timeout=TIMEOUT_MS)
    # Another scenario keeps the call mode chosen.
    page.locator("#scenario").select_option("crash-after-processing")
    page.wait_for_function("() => window.amo.store.scenario === 'crash-after-processing'")
    assert page.evaluate("() => window.amo.store.config.call") == "sync"
    expect(page.locator("#call")).to_have_value("sync")
    other = page.context.new_page()
    open_app(other, server.url, query="?call=blocking")
    expect(other.locator("#notice")).to_contain_text("call=blocking")
    other.close()


def test_presentation_mode_shows_the_caption_at_lecture_hall_size(browser, server):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.add_init_script(FAST)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        open_app(page, server.url, query="?lesson=order-and-customer&step=4")
        wait_step(page, 3)
        page.keyboard.press("p")
        expect(page.locator("html")).to_have_class(re.compile("presenting"))
        expect(page.locator("#lesson")).to_be_visible()
        size = page.evaluate("() => parseFloat(getComputedStyle("
                             "document.querySelector('#lesson-caption')).fontSize)")
        assert size >= 32, size  # 1.2rem of the 1.6vw presentation type at 1920 wide
        for sel in ("#lesson-caption", "#lesson-next", "#lesson-reveal", "#stage", "#credit"):
            b = page.locator(sel).bounding_box()
            assert b and b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= 1920 \
                and b["y"] + b["height"] <= 1080, (sel, b)
        shot(page, "presentation-1920x1080")
    finally:
        context.close()
