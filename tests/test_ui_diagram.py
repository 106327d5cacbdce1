"""The space-time diagram (issue 10): the lifelines, an arrow per message, a cross where a
message was lost, a band while the receiver was down, a flag where an order's states parted;
linked with the log both ways; pan and zoom by keyboard; the SVG export; the tab beside the
orders (the orders stay the default); accessibility of its tab. Real Chromium, a real server.

Assertions read what the diagram drew in its last frame (window.amo.diagram.items(): the
arrows with their fate, the crosses, the flags, the bands), never pixels."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from bench.diagram import SYNTH_JS
from tests.test_ui_support import FAST, TIMEOUT_MS, open_app, order_row, screenshot

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def open_tab(page: Page) -> None:
    page.get_by_role("tab", name="Space-time diagram").click()
    expect(page.get_by_role("tab", name="Space-time diagram")).to_have_attribute(
        "aria-selected", "true")
    page.wait_for_function("() => window.amo.diagram.isShown() && window.amo.diagram.items()")


def play_to_the_end(page: Page, url: str, scenario: str) -> list[str]:
    errors = open_app(page, url, query=f"?scenario={scenario}&speed={FAST}&play=1")
    open_tab(page)
    page.wait_for_function("""() => { const {store} = window.amo;
        return store.pacing.over && store.pendingCount() === 0 && store.counts.orders > 0; }""",
                           timeout=20_000)
    page.wait_for_timeout(200)  # the next frame has drawn it
    return errors


def items(page: Page) -> dict:
    return page.evaluate("() => window.amo.diagram.items()")


def test_reply_lost_ends_in_a_cross_with_a_flag_where_the_states_part(page, server):
    errors = play_to_the_end(page, server.url, "reply-lost")
    region = page.get_by_role("tabpanel", name="Space-time diagram")
    expect(region).to_be_visible()
    expect(region.get_by_role("img", name=re.compile("^Space-time diagram"))).to_be_visible()
    expect(region.get_by_role("heading", name="Space-time diagram")).to_be_attached()
    expect(page.locator("#orders-panel")).to_be_hidden()
    got = items(page)
    assert not got["aggregated"]
    by_leg = {a["leg"]: a for a in got["arrows"] if a["order"] == 1}
    assert by_leg["request"]["fate"] == "delivered", got["arrows"]
    assert by_leg["request"]["label"] == "OrderCreated #1"
    reply = by_leg["reply"]
    assert reply["fate"] == "lost" and reply["label"] == "CreditReserved #1", reply
    # It ends mid-air, in a cross at the point (and the moment) of its loss.
    cross = next(c for c in got["crosses"] if c["msg"] == reply["msg"])
    assert 0.25 <= cross["at"] <= 0.75 and cross["t"] == reply["end"]
    assert (cross["x"], cross["y"]) == pytest.approx((reply["x1"], reply["y1"]))
    lifelines = got["lifelines"]
    assert reply["y0"] == pytest.approx(lifelines["receiver"])
    assert lifelines["sender"] + 10 < cross["y"] < lifelines["receiver"] - 10  # mid-air
    # The flag: where order #1's states parted, the event the engine names.
    parted = page.evaluate("() => window.amo.store.orders.get(1).diverged_at_seq")
    flag = next(f for f in got["flags"] if f["order"] == 1)
    assert flag["seq"] == parted and flag["t"] == cross["t"]
    assert (flag["x"], flag["y"]) == pytest.approx((cross["x"], cross["y"]))
    # The state changes and the sender's timeout, as labelled ticks.
    labels = {t["label"] for t in got["ticks"]}
    assert {"#1 new", "#1 credit reserved", "#1 no reply in time"} <= labels, labels
    assert [t["order"] for t in got["timeouts"]] == [1]
    # The words for a screen reader say it too (updated at most twice a second).
    expect(page.locator("#diagram-summary")).to_contain_text("States parted: #1 at")
    screenshot(page, "diagram-reply-lost")
    assert errors == []


def test_crash_before_processing_shows_a_downtime_band(page, server):
    errors = play_to_the_end(page, server.url, "crash-before-processing")
    got = items(page)
    assert len(got["bands"]) == 1, got["bands"]
    band = got["bands"][0]
    crash = next(t for t in got["ticks"] if t["type"] == "crash")
    assert band["from"] == crash["t"] and band["to"] == pytest.approx(band["from"] + 2.0)
    # The message it crashed on was forgotten: it ends on the receiver's lifeline.
    request = next(a for a in got["arrows"] if a["order"] == 1 and a["leg"] == "request")
    assert request["fate"] == "forgotten"
    assert request["end"] == pytest.approx(crash["t"])
    assert [f["order"] for f in got["flags"]] == [1]
    screenshot(page, "diagram-crash-before-processing")
    assert errors == []


def test_hovering_a_log_entry_highlights_its_message(page, server):
    play_to_the_end(page, server.url, "reply-lost")
    reply = next(a for a in items(page)["arrows"] if a["leg"] == "reply")
    page.locator(f'#log .row[data-seq="{reply["seq"]}"]').hover()
    page.wait_for_function(
        f"() => window.amo.diagram.items()?.highlighted.includes({reply['msg']})")
    page.mouse.move(5, 5)
    page.wait_for_function("() => window.amo.diagram.items()?.highlighted.length === 0")


def test_clicking_an_arrow_pins_its_log_entry(page, server):
    play_to_the_end(page, server.url, "reply-lost")
    request = next(a for a in items(page)["arrows"] if a["leg"] == "request")
    canvas = page.locator("#diagram-canvas").bounding_box()
    x = canvas["x"] + (request["x0"] + request["x1"]) / 2
    y = canvas["y"] + (request["y0"] + request["y1"]) / 2
    page.mouse.move(x, y)
    # Hovering it highlights it (the stage reads the same highlight) ...
    page.wait_for_function(f"() => window.amo.view.highlight && "
                           f"window.amo.view.highlight.msg === {request['msg']}")
    page.mouse.click(x, y)
    # ... and a click pins its entry in the log, as a click in the log does.
    row = page.locator(f'#log .row[data-seq="{request["seq"]}"]')
    expect(row).to_have_class(re.compile(r"\bpinned\b"))
    page.mouse.move(5, 5)
    page.wait_for_function(
        f"() => window.amo.diagram.items()?.highlighted.includes({request['msg']})")


def test_zoom_and_travel_by_keyboard(page, server):
    play_to_the_end(page, server.url, "reply-lost")
    canvas = page.locator("#diagram-canvas")
    canvas.focus()
    span = items(page)["span"]
    page.keyboard.press("+")
    page.wait_for_function(f"() => window.amo.diagram.items()?.span < {span} * 0.8")
    zoomed = items(page)
    assert zoomed["t1"] - zoomed["t0"] == pytest.approx(zoomed["span"])
    page.keyboard.press("-")
    page.keyboard.press("-")
    page.wait_for_function(f"() => window.amo.diagram.items()?.span > {zoomed['span']} * 2")
    # Home: the start of the run, no longer following; End: following now again.
    page.keyboard.press("+")
    page.keyboard.press("+")
    page.keyboard.press("Home")
    page.wait_for_function("() => window.amo.diagram.items()?.follow === false")
    assert items(page)["t0"] == 0
    expect(page.locator("#dg-follow")).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("End")
    page.wait_for_function("() => window.amo.diagram.items()?.follow")
    got = items(page)
    assert got["t0"] <= got["now"] <= got["t1"]
    expect(page.locator("#dg-follow")).to_have_attribute("aria-pressed", "true")
    # The page's own keys still act with the focus on the diagram: N sends an order.
    page.keyboard.press("n")
    page.wait_for_function("() => window.amo.store.counts.orders === 2")


def test_svg_export_downloads_lifelines_and_arrows(page, server, artifacts_dir):
    play_to_the_end(page, server.url, "reply-lost")
    with page.expect_download() as info:
        page.get_by_role("button", name="SVG", exact=True).click()
    download = info.value
    assert download.suggested_filename == "space-time-diagram.svg"
    path = artifacts_dir / "ui" / "diagram-export.svg"
    download.save_as(path)
    root = ET.parse(path).getroot()  # well-formed XML, or this raises
    assert root.tag == f"{SVG_NS}svg"
    groups = [g.get("class", "") for g in root.iter(f"{SVG_NS}g")]
    assert sum("lifeline" in c for c in groups) == 2, groups
    arrows = [el for el in root.iter(f"{SVG_NS}line") if "arrow" in el.get("class", "")]
    titles = sorted(el.find(f"{SVG_NS}title").text for el in arrows)
    assert titles == ["CreditReserved #1 (lost)", "OrderCreated #1 (delivered)"], titles
    texts = [t.text for t in root.iter(f"{SVG_NS}text")]
    assert "⚑ #1 parts here" in texts and "#1 no reply in time" in texts, texts
    with page.expect_download() as info:
        page.get_by_role("button", name="PNG", exact=True).click()
    assert info.value.suggested_filename == "space-time-diagram.png"


def test_orders_tab_by_default_and_tabs_switch_with_enter(page, server):
    open_app(page, server.url, query="?scenario=reply-lost")
    orders_tab = page.get_by_role("tab", name="Orders")
    diagram_tab = page.get_by_role("tab", name="Space-time diagram")
    expect(orders_tab).to_have_attribute("aria-selected", "true")
    expect(page.locator("#orders")).to_be_visible()
    expect(page.locator("#diagram-panel")).to_be_hidden()
    diagram_tab.focus()
    page.keyboard.press("Enter")
    expect(diagram_tab).to_have_attribute("aria-selected", "true")
    expect(page.locator("#diagram-canvas")).to_be_visible()
    expect(page.locator("#orders")).to_be_hidden()
    # In presentation mode the switch still works.
    page.keyboard.press("p")
    expect(page.locator("html")).to_have_class("presenting")
    expect(page.locator("#diagram-canvas")).to_be_visible()
    orders_tab.click()
    expect(page.locator("#orders")).to_be_visible()
    expect(page.locator("#diagram-panel")).to_be_hidden()
    page.keyboard.press("p")


def test_reveal_an_order_shows_where_its_states_parted(page, server):
    open_app(page, server.url, query=f"?scenario=reply-lost&speed={FAST}&play=1")
    page.wait_for_function("() => window.amo.store.counts.diverged >= 1", timeout=TIMEOUT_MS)
    expect(order_row(page, 1)).to_be_visible()
    # Choosing the diverged order in the table moves the diagram to where its states
    # parted (the table stays in view; the diagram is there when its tab is opened).
    order_row(page, 1).click()
    expect(page.get_by_role("tab", name="Orders")).to_have_attribute("aria-selected", "true")
    page.get_by_role("tab", name="Space-time diagram").click()
    page.wait_for_timeout(100)
    got = items(page)
    assert not got["follow"] and [f["order"] for f in got["flags"]] == [1]
    t = page.evaluate("() => window.amo.diagram.reveal(1)")
    expect(page.get_by_role("tab", name="Space-time diagram")).to_have_attribute(
        "aria-selected", "true")
    page.wait_for_timeout(100)
    got = items(page)
    assert not got["follow"] and got["t0"] <= t <= got["t1"]
    assert [f["order"] for f in got["flags"]] == [1]


def test_many_events_are_drawn_as_density_and_losses_stay_readable(page, server):
    open_app(page, server.url)
    open_tab(page)
    page.add_script_tag(content=SYNTH_JS)
    info = page.evaluate(
        "() => window.amoSynth(100000, 7, (chunk) => window.amo.diagram.add(chunk))")
    end = page.evaluate("() => window.amo.diagram.lastT")
    # The whole run: far more arrows than pixels, so density bands; the counts add up.
    page.evaluate(f"() => window.amo.diagram.setView(0, {end})")
    page.wait_for_timeout(100)
    whole = items(page)
    assert whole["aggregated"] and whole["arrows"] == []
    assert whole["density"]["sent"] == pytest.approx(info["messages"], rel=0.01)
    # Zoomed in to 20 s: arrows one by one, each lost one ends in a cross.
    page.evaluate(f"() => window.amo.diagram.setView({end / 2}, 20)")
    page.wait_for_timeout(100)
    near = items(page)
    assert not near["aggregated"] and len(near["arrows"]) > 10
    lost = {a["msg"] for a in near["arrows"] if a["fate"] in ("lost", "lost-receiver-down")
            and near["t0"] <= a["end"] <= near["t1"]}
    assert lost == {c["msg"] for c in near["crosses"]}
    # In between (a few thousand messages): density bands, yet every loss a cross of its own.
    page.evaluate(f"() => window.amo.diagram.setView({end / 2}, 600)")
    page.wait_for_timeout(100)
    mid = items(page)
    assert mid["aggregated"] and 0 < mid["lost"] == len(mid["crosses"]), mid["lost"]
    screenshot(page, "diagram-density")


def test_axe_finds_nothing_serious_on_the_diagram_tab(page, server):
    play_to_the_end(page, server.url, "crash-after-processing")
    page.evaluate("() => window.amo.conn.command('pause', {})")
    results = Axe().run(page)
    found = [f"{v['id']} ({v['impact']}): {v['help']} -> "
             f"{[' '.join(map(str, n['target'])) for n in v['nodes']]}"
             for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert found == []


def test_an_earlier_moment_is_drawn_as_of_then_and_live_draws_it_all(page, server):
    """The history view (a snapshot of an earlier moment of the same run) keeps the
    diagram's history and draws it as of that moment; back to the present, all of it."""
    play_to_the_end(page, server.url, "four-failures")
    head = items(page)
    assert head["follow"] and len(head["flags"]) >= 1
    answer = page.evaluate("() => window.amo.conn.command('seek', {t: 10})")
    assert answer["ok"] and not answer["view"]["live"], answer
    page.wait_for_function("() => window.amo.diagram.items()?.now === 10", timeout=TIMEOUT_MS)
    then = items(page)
    assert then["records"] == head["records"]  # nothing forgotten
    assert all(a["send"] <= 10 for a in then["arrows"])
    assert all(f["t"] <= 10 for f in then["flags"]) and all(t["t"] <= 10 for t in then["ticks"])
    assert [f["order"] for f in then["flags"]] == [2]  # only order #2 had parted by t = 10
    page.evaluate("() => window.amo.conn.command('live', {})")
    page.wait_for_function(f"() => !window.amo.diagram.past && "
                           f"window.amo.diagram.items()?.now >= {head['now']} - 1e-9",
                           timeout=TIMEOUT_MS)
    page.wait_for_timeout(100)
    assert [f["order"] for f in items(page)["flags"]] == [f["order"] for f in head["flags"]]


def test_an_order_selected_in_the_table_is_highlighted_and_a_new_run_clears(page, server):
    play_to_the_end(page, server.url, "reply-lost")
    msgs = sorted(a["msg"] for a in items(page)["arrows"] if a["order"] == 1)
    page.get_by_role("tab", name="Orders").click()
    order_row(page, 1).click()
    open_tab(page)
    # Both of its messages, as the table's click pins its first log entry.
    page.wait_for_function("(m) => JSON.stringify(window.amo.diagram.items()?.highlighted"
                           ".sort((a, b) => a - b)) === JSON.stringify(m)", arg=msgs)
    assert items(page)["records"]["messages"] == 2
    # Another run (another run number): the history starts again.
    page.get_by_label("Scenario").select_option("happy-path")
    page.wait_for_function("() => window.amo.store.scenario === 'happy-path'")
    page.wait_for_function("() => window.amo.diagram.items()?.records.flags === 0")
    assert items(page)["records"]["messages"] <= 1
