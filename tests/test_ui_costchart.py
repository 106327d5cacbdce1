"""The cost of loss (issue 11): the third tab of the lower place. Opened, it fetches the
engine's loss sweep once ("Computing…"), draws 20 points on a canvas and says in words what
they show; it keeps what came. Real Chromium, a real server.

Assertions read what the chart drew (window.amo.costChart.items()), never pixels."""

from __future__ import annotations

import json
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.support import http_get
from tests.test_ui_support import open_app, screenshot

BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def open_cost(page: Page) -> dict:
    tab = page.get_by_role("tab", name="Cost of loss")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    page.wait_for_function("() => window.amo.costChart.items()?.points.length > 0",
                           timeout=20_000)
    return page.evaluate("() => window.amo.costChart.items()")


def pct(x: float, digits: int = 1) -> str:
    return f"{x * 100:.{digits}f} %"


def test_the_tab_draws_twenty_points_and_says_what_they_show(page, server):
    asked = []
    page.on("request", lambda req: "/api/sweep" in req.url and asked.append(req.url))
    errors = open_app(page, server.url)
    region = page.get_by_role("tabpanel", name="Cost of loss")
    expect(region).to_be_hidden()
    assert asked == []  # not fetched before the tab is opened
    got = open_cost(page)
    expect(region).to_be_visible()
    expect(page.locator("#orders-panel")).to_be_hidden()
    expect(page.locator("#diagram-panel")).to_be_hidden()
    expect(region.get_by_role("img", name=re.compile("^Chart: as the loss"))).to_be_visible()
    points = got["points"]
    assert len(points) == 20
    assert points[0]["loss"] == 0 and points[-1]["loss"] == pytest.approx(0.3)
    assert points[0]["diverged_share"] == 0 and points[-1]["diverged_share"] > 0.4
    # Left to right, and higher up (smaller y) where more orders diverged.
    xs = [p["x"] for p in points]
    assert xs == sorted(xs) and len(set(xs)) == 20
    assert points[-1]["y"] < points[0]["y"]
    assert {(e["line"], e["marker"]) for e in got["legend"]} == {("solid", "circle"),
                                                                 ("dashed", "square")}
    # The caption's numbers are the data's: the point nearest 5 % loss, and the last.
    caption = page.locator("#cost-caption").inner_text()
    near = min(points, key=lambda p: abs(p["loss"] - 0.05))
    assert f"At {pct(near['loss'])} loss on each leg, {pct(near['diverged_share'])} of orders" \
        in caption, caption
    assert f"At {pct(points[-1]['loss'])}, {pct(points[-1]['diverged_share'])} of orders" \
        in caption, caption
    error_digits = 2 if near["metrics_error"] * 100 >= 0.1 else 3
    assert f"moves {pct(near['metrics_error'], error_digits)}" in caption
    expect(page.locator("#cost-status")).to_have_text("")
    # Kept: back to Orders and again, no second request.
    asked.clear()
    page.get_by_role("tab", name="Orders").click()
    expect(region).to_be_hidden()
    page.get_by_role("tab", name="Cost of loss").click()
    page.wait_for_timeout(300)
    assert asked == []
    expect(region).to_be_visible()
    screenshot(page, "costchart-1280x720")
    assert errors == []


def test_computing_shows_then_goes(page, server):
    open_app(page, server.url)
    page.route("**/api/sweep*", lambda route: (page.wait_for_timeout(300), route.continue_()))
    page.get_by_role("tab", name="Cost of loss").click()
    expect(page.locator("#cost-status")).to_have_text(re.compile("^Computing…"))
    page.wait_for_function("() => window.amo.costChart.items()?.points.length === 20",
                           timeout=20_000)
    expect(page.locator("#cost-status")).to_have_text("")


def test_enter_on_the_tab_opens_it(page, server):
    open_app(page, server.url)
    page.locator("#tab-cost").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#tab-cost")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tabpanel", name="Cost of loss")).to_be_visible()


def test_presentation_mode_scales_the_chart(page, server):
    open_app(page, server.url)
    small = open_cost(page)
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.evaluate("() => window.amo.presentation.toggle()")
    page.wait_for_function(f"() => window.amo.costChart.items()?.scale > {small['scale']}")
    expect(page.get_by_role("tabpanel", name="Cost of loss")).to_be_visible()
    assert len(page.evaluate("() => window.amo.costChart.items()")["points"]) == 20


def test_no_serious_axe_findings_on_the_chart(page, server):
    open_app(page, server.url)
    open_cost(page)
    results = Axe().run(page)
    found = [f"{v['id']} ({v['impact']}): {v['help']}"
             for v in results.response["violations"] if v["impact"] in BLOCKING]
    print("\naxe, cost of loss:", *found, sep="\n  ")
    assert found == []


# -- the route, GET /api/sweep, on the same real server process ------------------------------


def test_the_route_answers_json_and_caches(server):
    status, body = http_get(server.url + "/api/sweep?points=3&orders=500&max_loss=0.2&seed=4")
    assert status == 200
    data = json.loads(body)
    assert [p["loss"] for p in data["points"]] == pytest.approx([0.0, 0.1, 0.2])
    assert (data["orders"], data["max_loss"], data["seed"]) == (500, 0.2, 4)
    assert data["legs"] == ["request-lost", "reply-lost"]
    assert data["points"][0]["diverged"] == 0 < data["points"][-1]["diverged"]
    assert http_get(server.url + "/api/sweep?seed=4&max_loss=0.2&orders=500&points=3") \
        == (200, body)


@pytest.mark.parametrize(("query", "starts"), [
    ("points=1", "400 bad request: points: got 1; allowed: an integer from 2 to 50"),
    ("points=abc", "400 bad request: points: got 'abc'; allowed: an integer from 2 to 50"),
    ("orders=5", "400 bad request: orders: got 5; allowed: an integer from 100 to 100000"),
    ("orders=1e4", "400 bad request: orders: got '1e4'"),
    ("points=50&orders=100000", "400 bad request: orders: got 100000; allowed: at most 6000"),
    ("max_loss=2", "400 bad request: max_loss: got 2.0; allowed: a number from 0 to 1"),
    ("max_loss=-0.1", "400 bad request: max_loss: got '-0.1'"),
    ("seed=x", "400 bad request: seed: got 'x'"),
    ("loss=0.3", "400 bad request: loss: got '0.3'; allowed: one of points, orders, max_loss"),
])
def test_bad_parameters_answer_400_naming_them(server, query, starts):
    status, body = http_get(server.url + "/api/sweep?" + query)
    text = body.decode()
    assert status == 400 and text.startswith(starts), text
    assert text.count("\n") == 1 and text.endswith("\n")
