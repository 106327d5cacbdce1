"""The metrics-stream verdict is computed: no samples yet, then the aggregate's error (average
received against average sent) judged against the tolerance shown on the page. Real
browser, real server; every assertion is about the figures and words on the page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.test_ui_support import TIMEOUT_MS, open_app, screenshot

FIGURES = re.compile(r"^([\d,]+) of ([\d,]+) \((\d+\.\d) %\)$")
GOOD = "rgb(15, 122, 58)"  # --good in app.css
SAMPLES = 400  # the metrics-stream preset (engine/presets.py)


@pytest.fixture(scope="module")
def server(start_module_server):
    return start_module_server("threading")


def play_to_the_end(page: Page) -> None:
    page.get_by_role("button", name="Play", exact=True).click()
    # Every sample sent, none left on the wire, and every event applied.
    page.wait_for_function("""() => { const s = window.amo.store;
        return s.msgs.sent === SAMPLES && s.tokens.size === 0 && s.pendingCount() === 0; }"""
                           .replace("SAMPLES", str(SAMPLES)), timeout=30_000)
    # ... and drawn: the panels catch up on one of the next frames.
    page.wait_for_function("""() => { const s = window.amo.store, m = s.metrics;
        const text = (sel) => document.querySelector(sel).textContent;
        return text('#m-lost').startsWith(`${s.samplesLost} of ${s.msgs.sent} `)
            && text('#m-drift') === `${(m.drift * 100).toFixed(2)} %`; }""",
                           timeout=TIMEOUT_MS)


def shown(page: Page) -> dict:
    """The figures as the page shows them, and the tolerance it states."""
    lost = FIGURES.match(page.locator("#m-lost").inner_text())
    assert lost, page.locator("#m-lost").inner_text()
    error = re.fullmatch(r"(\d+\.\d\d) %", page.locator("#m-drift").inner_text())
    assert error, page.locator("#m-drift").inner_text()
    tolerance = page.locator("#m-tolerance").inner_text()
    within = re.search(r"within (\d+(?:\.\d+)?) % of the average sent", tolerance)
    at_most = re.search(r"at most (\d+(?:\.\d+)?) % of the samples lost", tolerance)
    assert within and at_most, tolerance
    return {
        "lost": int(lost[1].replace(",", "")), "sent": int(lost[2].replace(",", "")),
        "lost_pct": float(lost[3]), "error_pct": float(error[1]),
        "tolerance": float(within[1]), "max_lost": float(at_most[1]),
    }


def verdict_color(page: Page) -> str:
    return page.locator("#m-verdict").evaluate("(el) => getComputedStyle(el).color")


def assert_figures_match_the_store(page: Page, f: dict) -> None:
    store = page.evaluate("""() => { const s = window.amo.store;
        return {lost: s.samplesLost, sent: s.msgs.sent, drift: s.metrics.drift,
                trueMean: s.metrics.true_mean, seenMean: s.metrics.seen_mean}; }""")
    assert (f["lost"], f["sent"]) == (store["lost"], store["sent"])
    assert f["lost_pct"] == pytest.approx(100 * store["lost"] / store["sent"], abs=0.051)
    assert f["error_pct"] == pytest.approx(100 * store["drift"], abs=0.006)
    # The error is the averages' gap in % of the average sent, as the page shows them.
    gap = abs(store["seenMean"] - store["trueMean"]) / store["trueMean"] * 100
    assert f["error_pct"] == pytest.approx(gap, abs=0.006)
    expect(page.locator("#m-true")).to_have_text(f"{store['trueMean']:.2f}")
    expect(page.locator("#m-seen")).to_have_text(f"{store['seenMean']:.2f}")


def test_no_samples_yet_at_the_start(page, server):
    errors = open_app(page, server.url, query="?scenario=metrics-stream")
    verdict = page.locator("#m-verdict")
    expect(verdict).to_contain_text("No samples yet")
    expect(verdict).to_have_attribute("data-verdict", "none")
    expect(verdict).not_to_contain_text("✓")
    assert verdict_color(page) != GOOD
    expect(page.locator("#m-lost")).to_have_text("0 of 0 (0.0 %)")
    expect(page.locator("#m-drift")).to_have_text("–")
    expect(page.locator("#m-tolerance")).to_contain_text("within 1 % of the average sent")
    # The fixed sentence is gone: nothing is claimed before there is anything to judge.
    expect(page.locator("#metrics-panel")).not_to_contain_text("Nothing corrupted")
    assert errors == []


def test_default_loss_verdict_follows_the_numbers(page, server):
    errors = open_app(page, server.url, query="?scenario=metrics-stream&speed=200")
    play_to_the_end(page)
    f = shown(page)
    assert f["sent"] == SAMPLES and f["lost"] > 0
    assert_figures_match_the_store(page, f)
    verdict = page.locator("#m-verdict")
    if f["error_pct"] <= f["tolerance"] and f["lost_pct"] <= f["max_lost"]:
        expect(verdict).to_have_attribute("data-verdict", "ok")
        expect(verdict).to_contain_text("✓")
        expect(verdict).to_contain_text("barely moved")
        expect(verdict).to_contain_text("Nothing corrupted")
        expect(verdict).to_contain_text(f"{f['error_pct']:.2f} %")
        assert verdict_color(page) == GOOD
    else:
        expect(verdict).to_have_attribute("data-verdict", "warn")
        expect(verdict).to_contain_text("⚠")
        expect(verdict).to_contain_text("Even metrics suffer at this loss rate")
        assert verdict_color(page) != GOOD
    screenshot(page, "metrics-default-loss")
    assert errors == []


def test_ninety_percent_loss_is_not_green(page, server):
    errors = open_app(page, server.url, query="?scenario=metrics-stream&speed=200")
    answer = page.evaluate("""() => window.amo.conn.command('set-failure',
        {point: 'request-lost', mode: 'off', probability: 0.9})""")
    assert answer["ok"], answer
    page.wait_for_function("() => window.amo.store.failures['request-lost'].probability === 0.9",
                           timeout=TIMEOUT_MS)
    play_to_the_end(page)
    f = shown(page)
    assert f["sent"] == SAMPLES and f["lost_pct"] > 70
    assert_figures_match_the_store(page, f)
    verdict = page.locator("#m-verdict")
    expect(verdict).to_have_attribute("data-verdict", "warn")
    expect(verdict).to_contain_text("⚠")
    expect(verdict).to_contain_text("Even metrics suffer at this loss rate")
    expect(verdict).not_to_contain_text("✓")
    expect(verdict).not_to_contain_text("barely moved")
    # It says why, with the figure that is out of bounds.
    if f["error_pct"] > f["tolerance"]:
        expect(verdict).to_contain_text(f"{f['error_pct']:.2f} % off, beyond the 1 % tolerance")
    else:
        expect(verdict).to_contain_text(f"{f['lost_pct']:.1f} % of the samples are lost")
    assert verdict_color(page) != GOOD
    screenshot(page, "metrics-ninety-percent-loss")
    assert errors == []
