"""Compare semantics (issue 12): three lanes on one clock and the truth table, in real
Chromium against a real server. The lanes show the same first-attempt fate; at-least-once
reserves twice where exactly-once suppresses the duplicate; a truth-table cell plays its
case and the lanes' tallies end as the cell says; the view is bookmarkable and keyboard
driven, fits 1920x1080 and 390x844 without sideways scrolling. Screenshots go to
test-artifacts/semantics/.

Assertions read the DOM and what the lanes drew (window.amo.semantics), never pixels, and
never wait on a wall-clock duration: the clock is moved with Step, the scrubber or keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support import artifacts_path
from tests.test_ui_support import open_app

LANES = ["at-most-once", "at-least-once", "exactly-once"]
KIND = {"consistent": "ok", "stuck": "diverged", "reserved-not-approved": "diverged",
        "double-reserved": "double"}
TALLY = {"consistent": "consistent", "stuck": "stuck", "reserved-not-approved": "rna",
         "double-reserved": "dbl"}
LOSSY = ("?view=semantics&scenario=lossy-network&seed=3&orders=30&request-lost=20%25"
         "&reply-lost=20%25&crash-before-processing=0&crash-after-processing=0")


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def shot(page: Page, name: str) -> Path:
    folder = artifacts_path() / "semantics"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def open_view(page: Page, url: str, query: str = "?view=semantics") -> list[str]:
    errors = open_app(page, url, query=query)
    expect(page.locator("#semantics")).to_be_visible()
    wait_loaded(page)
    return errors


def wait_loaded(page: Page) -> None:
    page.wait_for_function("() => { const s = window.amo.semantics;"
                           " return s.data && !document.querySelector('#semantics[aria-busy]')"
                           " && document.querySelectorAll('#sem-tt button.tt-cell').length > 0; }")


def to_end(page: Page) -> None:
    """Drag the scrubber to the end, as a person would."""
    page.locator("#sem-scrub").evaluate(
        "el => { el.value = el.max; el.dispatchEvent(new Event('input', {bubbles: true})); }")


def tally(page: Page, semantics: str) -> dict:
    lane = page.locator(f'.lane[data-semantics="{semantics}"]')
    out = {}
    for row in lane.locator(".lane-tally div").all():
        number = row.locator("dd").inner_text()
        out[row.get_attribute("data-field")] = int(re.sub(r"\D", "", number))
    out["verdict"] = lane.locator(".lane-verdict").get_attribute("data-kind")
    return out


def cell(page: Page, case_words: str, semantics_name: str):
    return page.get_by_role("button", name=re.compile(
        rf"^{re.escape(case_words)}, {re.escape(semantics_name)}: "))


def test_the_lanes_show_the_same_first_attempt_fate(page, server):
    errors = open_view(page, server.url, LOSSY)
    expect(page.locator("#semantics-btn")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("main.layout")).to_be_hidden()
    fates = page.evaluate("""() => window.amo.semantics.lanes.map((lane) => {
        const out = {};
        for (const m of lane.data.msgs) if (m.attempt === 1)
          out[`${m.order}/${m.leg}`] = [Math.round((m.t1 - m.t0) * 1e6),
                                        m.lost ? m.lost.reason : 'ok'];
        return out; })""")
    assert len(fates[0]) > 40
    assert fates[0] == fates[1] == fates[2]
    assert any(v[1] != "ok" for v in fates[0].values())
    # At the end: at-most-once lost orders, the retrying lanes retried; verdicts computed.
    to_end(page)
    amo, alo, eo = (tally(page, s) for s in LANES)
    assert amo["retries"] == 0 and alo["retries"] > 0 and eo["retries"] > 0
    assert amo["verdict"] == "diverged" and eo["verdict"] == "ok"
    assert eo["dbl"] == 0 and eo["consistent"] == 30
    assert page.evaluate("() => window.amo.semantics.lanes[1].verdictEl.textContent") \
        .startswith("Credit reserved twice") == (alo["dbl"] > 0)
    assert not errors, errors


def test_reply_lost_double_reserves_at_least_once_and_is_suppressed_exactly_once(page, server):
    errors = open_view(page, server.url)
    cell(page, "Reply lost", "At-least-once").click()
    page.wait_for_function("() => window.amo.semantics.setup.case === 'reply-lost'")
    wait_loaded(page)
    chosen = page.locator('.lane[data-semantics="at-least-once"]')
    expect(chosen).to_have_attribute("data-chosen", "yes")
    page.locator("#sem-pause").click()
    page.locator("#sem-reset").click()
    # Step through the run: the retry's token is numbered, the duplicate is drawn distinctly.
    seen = {"try": False, "dup": False, "sup": False, "record": False}
    for _ in range(80):
        page.locator("#sem-step").click()
        drawn = page.evaluate("() => window.amo.semantics.lanes.map((l) => l.items())")
        seen["try"] |= any(tok["label"] == "#1 try 2" and tok["shape"] == "square"
                           for tok in drawn[1]["tokens"])
        seen["dup"] |= any(b["kind"] == "dup-delivered" and "duplicate" in b["label"]
                           for b in drawn[1]["badges"])
        seen["sup"] |= any(b["kind"] == "dup-suppressed" for b in drawn[2]["badges"])
        seen["record"] |= any(tok["fromRecord"] and tok["shape"] == "dashed"
                              for tok in drawn[2]["tokens"])
        if all(seen.values()):
            break
    assert all(seen.values()), seen
    shot(page, "reply-lost-duplicate-1280x720")
    to_end(page)
    amo, alo, eo = (tally(page, s) for s in LANES)
    assert amo["rna"] == 1 and amo["retries"] == 0
    assert alo["dbl"] == 1 and alo["dupDel"] == 1
    assert alo["verdict"] == "double"
    assert eo["dupSup"] == 1 and eo["dbl"] == 0 and eo["consistent"] == 1 and eo["verdict"] == "ok"
    dedup = page.locator('.lane[data-semantics="exactly-once"] .lane-dedup')
    expect(dedup).to_be_visible()
    expect(dedup).to_contain_text("#1 → CreditReserved")
    expect(dedup).to_contain_text("1 duplicate answered")
    expect(page.locator('.lane[data-semantics="at-least-once"] .lane-dedup')).to_be_hidden()
    assert not errors, errors


def test_a_cell_plays_its_case_and_the_tallies_end_as_the_table_says(page, server):
    open_view(page, server.url)
    rows = page.evaluate("() => window.amo.semantics.table.data.rows")
    chosen = [r for r in rows if r["case"] in ("request-lost,reply-lost", "crash-after-processing",
                                               "sender-crash", "none")]
    names = {"at-most-once": "At-most-once", "at-least-once": "At-least-once",
             "exactly-once": "Exactly-once"}
    labels = {"request-lost": "Request lost", "reply-lost": "Reply lost",
              "crash-after-processing": "Crash after processing", "sender-crash": "Sender crash"}
    for row in chosen:
        words = " + ".join(labels[p] for p in row["failures"]) or "no failure"
        button = cell(page, words, names["exactly-once"])
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        page.wait_for_function(f"() => window.amo.semantics.setup.case === '{row['case']}'")
        wait_loaded(page)
        to_end(page)
        for semantics in LANES:
            outcome = row["cells"][semantics]["outcome"]
            got = tally(page, semantics)
            assert got[TALLY[outcome]] == 1, (row["case"], semantics, got)
            assert got["verdict"] == KIND[outcome], (row["case"], semantics, got)
            # The cell's word is the outcome's.
            text = page.locator(f'button.tt-cell[data-case="{row["case"]}"]'
                                f'[data-semantics="{semantics}"]').get_attribute("data-outcome")
            assert text == outcome


def test_the_view_is_bookmarkable_and_a_reload_keeps_it(page, server):
    open_view(page, server.url)
    cell(page, "Request lost + Reply lost", "At-least-once").click()
    page.wait_for_function("() => window.amo.semantics.setup.case === 'request-lost,reply-lost'")
    page.wait_for_function("() => location.search.includes('case=request-lost%2Creply-lost')")
    assert "view=semantics" in page.url
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#semantics")).to_be_visible()
    wait_loaded(page)
    assert page.evaluate("() => window.amo.semantics.setup.case") == "request-lost,reply-lost"
    expect(page.locator("#sem-status")).to_contain_text("Request lost + Reply lost")
    # A scenario's setup from the form goes into the address too.
    page.locator("#sem-scenario").select_option("four-failures")
    page.locator("#sem-seed").fill("7")
    page.locator("#sem-run").click()
    page.wait_for_function("() => location.search.includes('scenario=four-failures')"
                           " && location.search.includes('seed=7')")
    # Closing gives the stage back.
    page.locator("#semantics-btn").click()
    expect(page.locator("#semantics")).to_be_hidden()
    expect(page.locator("main.layout")).to_be_visible()
    # A bad link is said, and the default shown.
    open_app(page, server.url, query="?view=semantics&orders=9999")
    expect(page.locator("#notice")).to_contain_text("could not be played")
    expect(page.locator("#sem-status")).to_be_visible()
    wait_loaded(page)


def test_keys_play_step_and_reset_and_the_table_is_a_keyboard_grid(page, server):
    open_view(page, server.url, "?view=semantics&case=reply-lost")
    sem = "window.amo.semantics"
    page.locator("#sem-scrub").focus()
    page.keyboard.press("Space")
    page.wait_for_function(f"() => {sem}.playing")
    page.keyboard.press("Space")
    page.wait_for_function(f"() => !{sem}.playing")
    page.keyboard.press("r")
    page.wait_for_function(f"() => {sem}.at === 0")
    page.keyboard.press("ArrowRight")
    first = page.evaluate(f"() => {sem}.at")
    assert first > 0
    page.keyboard.press("PageDown")
    assert page.evaluate(f"() => {sem}.at") > first
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(f"() => {sem}.at") == first
    # The table: one tab stop per column, ↓ moves within it, Enter plays the case.
    first_cell = page.locator('button.tt-cell[data-row="0"][data-col="2"]')
    first_cell.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("() => [document.activeElement.dataset.row,"
                            " document.activeElement.dataset.case]")
    assert focused[0] == "2"
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => {sem}.setup.case === '{focused[1]}'")
    assert page.locator('button.tt-cell[tabindex="0"]').count() == 3


@pytest.mark.parametrize("width, height", [(1920, 1080), (1280, 720), (390, 844)])
def test_it_fits_without_sideways_scrolling(page, server, width, height):
    page.set_viewport_size({"width": width, "height": height})
    open_view(page, server.url, "?view=semantics&case=request-lost,reply-lost&outbox=durable")
    page.locator("#sem-step").click()
    for _ in range(12):
        page.locator("#sem-step").click()
    wide = page.evaluate("""() => ({doc: document.documentElement.scrollWidth,
        view: document.documentElement.clientWidth,
        table: document.querySelector('#sem-tt').scrollWidth,
        box: document.querySelector('.tt-scroll').clientWidth})""")
    assert wide["doc"] <= wide["view"], wide
    assert wide["table"] <= wide["box"] + 1, wide
    # Every cell's word fits its button (nothing cut off).
    cut = page.evaluate("""() => [...document.querySelectorAll('button.tt-cell')]
        .filter((b) => b.scrollWidth > b.clientWidth + 1).length""")
    assert cut == 0
    if width >= 1280:
        lanes = page.locator(".lane").all()
        tops = {round(lane.bounding_box()["y"]) for lane in lanes}
        assert len(tops) == 1  # side by side
    else:
        xs = {round(lane.bounding_box()["x"]) for lane in page.locator(".lane").all()}
        assert len(xs) == 1  # stacked
    shot(page, f"semantics-{width}x{height}")


def test_paused_lanes_are_drawn_again_after_presentation_mode_resizes_them(page, server):
    """A resize clears a canvas: paused lanes draw again at the same moment (they stayed
    blank in presentation mode)."""
    page.set_viewport_size({"width": 1280, "height": 720})
    open_view(page, server.url, "?view=semantics&case=reply-lost")
    page.get_by_role("button", name="Pause", exact=True).click()
    inked = """() => window.amo.semantics.lanes.every((lane) => {
        const c = lane.canvas, d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
        return n > 500; })"""
    page.wait_for_function(inked)
    page.keyboard.press("p")
    expect(page.locator("html")).to_have_class(re.compile(r"\bpresenting\b"))
    page.wait_for_function(inked)
    page.keyboard.press("p")
    expect(page.locator("html")).not_to_have_class(re.compile(r"\bpresenting\b"))
