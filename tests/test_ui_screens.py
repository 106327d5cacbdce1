"""Every screen a lecture hall or a student has (issue 9): the layouts from a phone to 4K,
presentation mode, a presenter's keyboard whatever has focus, captions that follow the
run, the four settings of a failure point, and what the stage shows. Real Chromium, a
real server; every assertion is about what a person sees or does."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.test_ui_support import FAST, open_app, order_row, screenshot, stage_texts

SIZES = [(390, 844), (768, 1024), (1024, 768), (1280, 720), (1920, 1080), (3840, 2160)]
STAGE_MIN_PX = 240  # the stage's minimum height (13.5rem at the smallest type)

# The controls a person must be able to reach and click at every size (presentation mode
# tucks some away: they are listed apart).
CONTROLS = ["#send", "#play", "#pause", "#step", "#reset", "#present", "#scenario", "#seed",
            "#speed", "#failures input[type=checkbox]", "#failures .next-btn",
            "#failures input[type=range]", ".crash-chip", "#step-back", "#timeline", "#live",
            "#run-menu summary", "#tab-orders", "#tab-diagram"]

HIT = """(el) => {
    el.scrollIntoView({block: 'center', inline: 'center'});
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return 'not drawn';
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return 'off screen';
    const top = document.elementFromPoint(x, y);
    if (top === el || el.contains(top) || (top && top.control === el)) return 'ok';
    return 'covered by ' + (top ? top.tagName + '#' + top.id + '.' + top.className : 'nothing');
}"""

AREAS = """() => {
    const a = (s) => { const r = document.querySelector(s).getBoundingClientRect();
                       return r.width * r.height; };
    return {stage: a('#stage'), orders: a('#orders-panel'), credit: a('#credit'),
            failures: a('#failures'), log: a('.log-panel'), controls: a('.controls')};
}"""


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def sized(browser, w: int, h: int, **options):
    context = browser.new_context(viewport={"width": w, "height": h}, **options)
    context.set_default_timeout(10_000)
    return context, context.new_page()


def no_horizontal_overflow(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def root_px(page: Page) -> float:
    return page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)")


@pytest.mark.parametrize("w,h", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_size_fits_and_every_control_can_be_hit(browser, server, w, h):
    context, page = sized(browser, w, h)
    try:
        open_app(page, server.url, query="?scenario=reply-lost")
        no_horizontal_overflow(page)
        stage = page.locator("#stage").bounding_box()
        assert stage["height"] >= STAGE_MIN_PX - 1 and stage["width"] >= 300, stage
        for selector in CONTROLS + ([] if w < 600 else ["#keys-help"]):
            els = page.locator(selector)
            assert els.count() >= 1, selector
            for i in range(els.count()):
                assert els.nth(i).evaluate(HIT) == "ok", (selector, i, els.nth(i).evaluate(HIT))
        # The Share menu, open: each of its buttons in sight and hit-testable.
        page.locator("#run-menu summary").click()
        for selector in ("#copy-link", "#export-run", "#export-events", "#import-run"):
            assert page.locator(selector).evaluate(HIT) == "ok", selector
        page.locator("#run-menu summary").click()
        page.evaluate("() => window.scrollTo(0, 0)")
        no_horizontal_overflow(page)
        if w >= 1024:
            # The stage is the largest thing on the page, and type grows with the screen.
            areas = page.evaluate(AREAS)
            assert areas["stage"] == max(areas.values()), areas
            assert root_px(page) >= min(h / 40, w / 71.1) - 0.5, root_px(page)
        screenshot(page, f"size-{w}x{h}")
    finally:
        context.close()


def test_type_and_stage_grow_with_the_viewport(browser, server):
    seen = {}
    for w, h in [(1280, 720), (1920, 1080), (3840, 2160)]:
        context, page = sized(browser, w, h)
        try:
            open_app(page, server.url)
            seen[w] = (root_px(page), page.locator("#stage").bounding_box()["height"])
        finally:
            context.close()
    assert seen[1280][0] < seen[1920][0] < seen[3840][0], seen
    assert seen[1280][1] < seen[1920][1] < seen[3840][1], seen
    assert seen[1920][0] >= 26, seen  # 66 % of it was 15 px at 1080p before


def test_messages_and_labels_stay_on_their_legs_at_1024x768(browser, server):
    context, page = sized(browser, 1024, 768)
    try:
        open_app(page, server.url, speed=1)
        page.keyboard.press("n")
        page.keyboard.press("n")
        page.get_by_role("button", name="Play", exact=True).click()
        outside, drawn = [], 0
        for _ in range(16):
            page.wait_for_timeout(150)
            frame = page.evaluate("""() => {
                const s = window.amo.stage, [lo, hi] = s.span;
                return [s.tokenBoxes.length, s.tokenBoxes
                    .filter((b) => b[0] < lo - 1 || b[2] > hi + 1).map((b) => b[4])]; }""")
            drawn += frame[0]
            outside += frame[1]
        assert drawn > 0  # labelled messages were on the legs while we looked
        assert outside == [], outside
        screenshot(page, "legs-1024x768")
    finally:
        context.close()


# ----------------------------------------------------------------------- presentation


@pytest.mark.parametrize("w,h", [(1024, 768), (1920, 1080)], ids=["1024x768", "1920x1080"])
def test_presentation_mode_at_lecture_hall_size(browser, server, artifacts_dir, w, h):
    context, page = sized(browser, w, h)
    try:
        open_app(page, server.url, query=f"?scenario=four-failures&speed={FAST}&play=1")
        page.wait_for_function("() => window.amo.store.counts.diverged >= 4", timeout=30_000)
        page.get_by_role("button", name="Presentation mode").click()
        expect(page.locator("html")).to_have_class("presenting")
        expect(page.get_by_role("button", name="Presentation mode")).to_have_attribute(
            "aria-pressed", "true")
        page.wait_for_timeout(300)
        no_horizontal_overflow(page)
        assert page.evaluate("() => document.documentElement.scrollHeight") <= h
        # The stage at least 45 % of the height; the two views and the alarm in sight.
        assert page.locator("#stage").bounding_box()["height"] >= 0.45 * h - 1
        for sel in ("#orders-panel", "#credit", ".knows-h", ".actual-h", "#status"):
            expect(page.locator(sel)).to_be_in_viewport()
        # Body text at least 2.2 % of the viewport height (24 px at 1080p).
        sizes = page.evaluate("""() => ['#explains', '#status', '#orders td', '.alarm-title']
            .map((s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize))""")
        assert min(sizes) >= 0.022 * h - 0.5, sizes
        # Secondary panels tucked away.
        for sel in ("#failures", ".log-panel", ".speed"):
            expect(page.locator(sel)).to_be_hidden()
        shots = artifacts_dir / "presentation"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / f"presentation-{w}x{h}.png"))
        # Escape leaves (the keys work after the click on the button).
        page.keyboard.press("Escape")
        expect(page.locator("html")).not_to_have_class("presenting")
        page.keyboard.press("p")
        expect(page.locator("html")).to_have_class("presenting")
        page.keyboard.press("P")
        expect(page.locator("html")).not_to_have_class("presenting")
    finally:
        context.close()


# ----------------------------------------------------------------------- keyboard


def clock_t(page: Page) -> float:
    return page.evaluate("() => window.amo.clock.serverT")


def test_space_plays_after_a_click_on_a_failure_checkbox(page, server):
    open_app(page, server.url)
    box = page.get_by_role("checkbox", name="Reply lost", exact=True)
    box.click()
    page.wait_for_function("() => window.amo.store.failures['reply-lost'].mode === 'on'")
    t = clock_t(page)
    page.keyboard.press(" ")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(f"() => window.amo.clock.serverT > {t}")
    expect(box).to_be_checked()  # Space played; it did not toggle the checkbox
    page.keyboard.press(" ")
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    # Toggling by keyboard stays possible: Enter on the focused checkbox.
    box.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.amo.store.failures['reply-lost'].mode === 'off'")
    expect(box).not_to_be_checked()


def test_space_plays_after_a_click_on_a_stage_switch(page, server):
    open_app(page, server.url)
    page.locator('.crash-chip[data-point="crash-after-processing"]').click()
    page.wait_for_function(
        "() => window.amo.store.failures['crash-after-processing'].mode === 'on'")
    page.keyboard.press(" ")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(
        "() => window.amo.store.failures['crash-after-processing'].mode") == "on"


def test_n_sends_after_a_slider_was_dragged(page, server):
    open_app(page, server.url, query="?scenario=request-lost")
    slider = page.get_by_role("slider", name="Request leg loss probability")
    b = slider.bounding_box()
    page.mouse.move(b["x"] + 4, b["y"] + b["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.3, b["y"] + b["height"] / 2, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "() => window.amo.store.failures['request-lost'].mode === 'off'"
        " && window.amo.store.failures['request-lost'].probability > 0")
    before = page.evaluate("() => window.amo.store.counts.orders")
    for key in ("n", "PageDown", " "):
        page.keyboard.press(key)
    page.wait_for_function(f"() => window.amo.store.counts.orders > {before}")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "true")


def test_shortcuts_list_and_digits(page, server):
    open_app(page, server.url)
    page.get_by_role("checkbox", name="Request lost", exact=True).click()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    for key in ("Space", "PageDown", "Escape", "Enter"):
        expect(dialog).to_contain_text(key)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # The digits: 4 switches the fourth point (Reply lost) on, Shift+2 arms the second.
    page.keyboard.press("4")
    page.wait_for_function("() => window.amo.store.failures['reply-lost'].mode === 'on'")
    page.keyboard.press("Shift+Digit2")
    page.wait_for_function(
        "() => window.amo.store.failures['crash-before-processing'].mode === 'next'")
    expect(page.get_by_role("button", name="Crash before processing: next message only")
           ).to_have_attribute("aria-pressed", "true")
    # While typing in the seed field the keys are the field's.
    seed = page.get_by_role("spinbutton", name="Seed")
    seed.click()
    page.keyboard.press("n")
    page.keyboard.press(" ")
    expect(page.locator("#play")).to_have_attribute("aria-pressed", "false")


# ----------------------------------------------------------------------- captions


def test_custom_run_caption_once_a_failure_point_is_switched(page, server):
    open_app(page, server.url)
    scenario = page.locator("#scenario")
    selected = "(el) => el.options[el.selectedIndex].text"
    assert scenario.evaluate(selected) == "Happy path"
    expect(page.locator("#explains")).to_contain_text("Nothing breaks")
    page.get_by_role("checkbox", name="Reply lost", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#scenario').selectedOptions[0].text.startsWith('Custom')")
    assert scenario.evaluate(selected) == "Custom run (from Happy path)"
    assert "Happy path" not in page.locator("#explains").inner_text().split("(from")[0]
    expect(page.locator("#explains")).to_contain_text("Reply lost on for every message")
    expect(page.locator("#explains")).not_to_contain_text("Nothing breaks")
    # Switched off again: still a custom run (what it changed may have happened already).
    page.get_by_role("checkbox", name="Reply lost", exact=True).click()
    expect(page.locator("#explains")).to_contain_text("every failure point is off now")
    # Choosing the scenario again starts it afresh, with its own words.
    scenario.select_option("happy-path")
    expect(page.locator("#explains")).to_contain_text("Nothing breaks")
    assert scenario.evaluate(selected) == "Happy path"


# ----------------------------------------------------------------------- failure points


def test_fail_the_next_message_only(page, server):
    open_app(page, server.url, speed=FAST)
    from tests.test_ui_support import settle_first_order

    page.get_by_role("button", name="Play", exact=True).click()
    settle_first_order(page)
    nxt = page.get_by_role("button", name="Request lost: next message only")
    nxt.click()
    expect(nxt).to_have_attribute("aria-pressed", "true")
    expect(page.locator('.frow[data-point="request-lost"]')).to_have_attribute("data-mode", "next")
    page.keyboard.press("n")  # order 2: its request is lost
    page.keyboard.press("n")  # order 3 goes through
    expect(order_row(page, 2).locator(".actual")).to_contain_text("request lost", timeout=10_000)
    expect(order_row(page, 3).locator(".badge")).to_contain_text("consistent", timeout=10_000)
    # Used once, the point is off again, and says so.
    expect(nxt).to_have_attribute("aria-pressed", "false")
    expect(page.locator('.frow[data-point="request-lost"]')).to_have_attribute("data-mode", "off")


def test_every_message_shows_100_percent_and_crash_chances_show_on_the_stage(page, server):
    open_app(page, server.url, query="?scenario=lossy-network")
    expect(page.locator('.crash-chip[data-point="crash-before-processing"]')).to_contain_text("1%")
    chance = page.get_by_role("slider", name="Crash before processing probability")
    expect(chance).to_have_value("1")
    page.get_by_role("checkbox", name="Reply lost", exact=True).click()
    out = page.locator('.frow[data-point="reply-lost"] output')
    expect(out).to_have_text("100%")
    expect(page.get_by_role("slider", name="Reply leg loss probability")).to_have_attribute(
        "aria-valuetext", "100%, every message")


def test_lost_marks_merge_into_one_mark_with_a_count(page, server):
    open_app(page, server.url, query="?scenario=lossy-network&speed=50&play=1")
    # Read in the same frame as found: a count lasts only as long as its clump of marks.
    found = page.wait_for_function(
        "() => { const c = window.amo.stage.texts.filter((t) => t[5] === 'count');"
        " return c.length ? c.map((t) => t[4]) : null; }", timeout=30_000)
    counts = found.json_value()
    assert counts and all(text.startswith("×") for text in counts), counts


def test_metrics_stream_hides_the_reply_leg(page, server):
    open_app(page, server.url, query="?scenario=metrics-stream")
    expect(page.locator('.frow[data-point="reply-lost"]')).to_be_hidden()
    expect(page.locator('.frow[data-point="request-lost"]')).to_be_visible()
    page.wait_for_timeout(200)
    kinds = {t["kind"] for t in stage_texts(page)}
    assert "leg-request" in kinds and "leg-reply" not in kinds, kinds


def test_reduced_motion_keeps_the_states_part_banner(browser, server):
    context, page = sized(browser, 1280, 720, reduced_motion="reduce")
    try:
        open_app(page, server.url, query=f"?scenario=reply-lost&speed={FAST}&play=1")
        page.wait_for_function(
            "() => window.amo.stage.texts.some((t) => t[5] === 'banner')", timeout=15_000)
        banner = [t for t in stage_texts(page) if t["kind"] == "banner"]
        assert "part" in banner[0]["text"], banner
    finally:
        context.close()
