"""Helpers shared by the browser tests (tests/test_ui_*.py); holds no tests itself.

The tests drive the real page served by a real app.py process (the start_server /
start_module_server fixtures) in headless Debian Chromium, and assert what a person sees:
text in the panels, badges, the alarm, the connection indicator. Screenshots go to
test-artifacts/ui/.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from tests.support import artifacts_path

FAST = 20  # virtual seconds per wall second: a whole order round trip in ~0.2 s
TIMEOUT_MS = 10_000


def shots_dir() -> Path:
    path = artifacts_path() / "ui"
    path.mkdir(exist_ok=True)
    return path


def screenshot(page: Page, name: str) -> Path:
    path = shots_dir() / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def open_app(page: Page, url: str, speed: float | None = None, query: str = "") -> list[str]:
    """Open the page (with an optional ``?query``), wait until it is usable; returns the
    list collecting page errors."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url + "/" + query)
    page.wait_for_selector("body[data-ready=true]", timeout=TIMEOUT_MS)
    # Connected, in any language (the English word is checked where English is shown).
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    if speed is not None:
        set_speed(page, speed)
    return errors


def set_speed(page: Page, speed: float) -> None:
    """Move the Speed slider (log scale) to `speed`, as a person dragging it would."""
    value = round(1000 * math.log(speed / 0.05) / math.log(200 / 0.05))
    page.get_by_label("Speed").evaluate(
        "(el, v) => { el.value = String(v);"
        " el.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )
    expect(page.locator("#speed-out")).to_have_text(re.compile(r"^[\d.]+×$"))
    # The server confirms the pacing in its next batch or clock message.
    page.wait_for_function(f"() => Math.abs(window.amo.clock.speed - {speed}) / {speed} < 0.05",
                           timeout=TIMEOUT_MS)


def order_row(page: Page, order: int) -> Locator:
    return page.locator(f'#orders tbody tr[data-order="{order}"]')


def badge(page: Page, order: int) -> Locator:
    return order_row(page, order).locator(".badge")


def wait_badge(page: Page, order: int, text: str, timeout: int = TIMEOUT_MS) -> None:
    expect(badge(page, order)).to_contain_text(text, timeout=timeout)


def knows(page: Page, order: int) -> Locator:
    return order_row(page, order).locator("td.knows")


def actual(page: Page, order: int) -> Locator:
    return order_row(page, order).locator("td.actual")


def send_order(page: Page) -> None:
    page.get_by_role("button", name="Send order", exact=True).click()


def failure(page: Page, label: str) -> Locator:
    return page.get_by_role("checkbox", name=label, exact=True)


def box(locator: Locator) -> dict:
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not rendered"
    return found


def fully_inside(inner: dict, outer: dict, slack: float = 0.5) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


def assert_seen_whole(page: Page, locator: Locator, container: Locator) -> None:
    """The element is drawn whole: inside its scrolling container and inside the viewport."""
    size = page.viewport_size
    assert size is not None
    viewport = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
    inner = box(locator)
    assert fully_inside(inner, box(container)), (inner, box(container))
    assert fully_inside(inner, viewport), (inner, viewport)


def stage_texts(page: Page) -> list[dict]:
    """The text drawn on the stage canvas in the last frame: text, kind and box."""
    return page.evaluate("""() => window.amo.stage.texts.map(
        (t) => ({x0: t[0], y0: t[1], x1: t[2], y1: t[3], text: t[4], kind: t[5]}))""")


def settle_first_order(page: Page) -> None:
    """The happy-path preset sends order #1 at start: let it finish before the test."""
    wait_badge(page, 1, "consistent")
