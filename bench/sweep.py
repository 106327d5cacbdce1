"""The cost of loss (issue 11): the engine's loss sweep, computed and drawn.

- **Engine.** ``loss_sweep()`` with its defaults (20 loss probabilities evenly spaced
  from 0 to 30 %, each a happy-path run of 10,000 orders with both network legs lossy and
  a metrics-stream run of 10,000 samples, in report mode), best of REPEATS. Peer, in the
  same run: the same 20 pairs of runs with full tracing (``trace=True``, every event
  built and handed to a sink that drops it), and one report-mode run of 200,000 orders
  (the same number of orders in one run). The ratios are printed.
- **Page.** The real app (``app.py`` as a subprocess, eventlet by default) and headless
  Chromium at 1280x720: from the click on the "Cost of loss" tab to the chart drawn (the
  request computed with a cold cache, the JSON parsed, the canvas drawn: the chart's own
  ``timing``), then once more from a fresh page (the server's cache answers). Target: the
  cold figure under 2 s.

    python -m bench.sweep [--quick] [--mode eventlet|threading]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

from engine import Simulation, loss_sweep, preset_config
from engine.sweep import LEGS, loss_levels
from tests.support import CHROMIUM_ARGS, CHROMIUM_PATH, ServerProcess

TARGET_S = 2.0
FULL = {"repeats": 3, "points": 20, "orders": 10_000, "single": 200_000}
QUICK = {"repeats": 1, "points": 4, "orders": 2_000, "single": 8_000}


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def traced_sweep(points: int, orders: int) -> None:
    """The peer: the sweep's runs, every event built and dropped."""
    for loss in loss_levels(points, 0.3):
        lossy = {"probability": loss}
        config = preset_config("happy-path", {
            "orders": orders, "seed": 1, "credit_limit": orders * 100,
            "failures": {leg: lossy for leg in LEGS}})
        Simulation(config, trace=True).run(sink=lambda e: None)
        metrics = preset_config("metrics-stream", {
            "samples": orders, "seed": 1, "failures": {"request-lost": lossy}})
        Simulation(metrics, trace=True).run(sink=lambda e: None)


def one_big_run(orders: int) -> None:
    config = preset_config("happy-path", {
        "orders": orders, "seed": 1, "credit_limit": orders * 100,
        "failures": {leg: {"probability": 0.15} for leg in LEGS}})
    Simulation(config, trace=False).run()


def measure_page(mode: str) -> tuple[dict, dict]:
    from playwright.sync_api import sync_playwright

    server = ServerProcess(mode, log_name=f"bench-sweep-{mode}")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS,
                                         headless=True)
            try:
                results = []
                for _ in range(2):  # cold (computed), then warm (the server's cache)
                    page = browser.new_page(viewport={"width": 1280, "height": 720})
                    page.goto(server.url + "/")
                    page.wait_for_function("() => window.amo && window.amo.costChart")
                    page.get_by_role("tab", name="Cost of loss").click()
                    page.wait_for_function("() => window.amo.costChart.timing", timeout=30_000)
                    results.append(page.evaluate(
                        "() => ({...window.amo.costChart.timing,"
                        " points: window.amo.costChart.items().points.length})"))
                    page.close()
            finally:
                browser.close()
    finally:
        server.stop()
    return results[0], results[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--mode", choices=("eventlet", "threading"), default="eventlet")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    points, orders = size["points"], size["orders"]
    print(f"  machine: {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  sweep: {points} points x {orders:,} orders (and as many samples), "
          f"loss 0..30 % on both legs, best of {size['repeats']}")

    report = best(lambda: loss_sweep(points=points, orders=orders), size["repeats"])
    traced = best(lambda: traced_sweep(points, orders), size["repeats"])
    single = best(lambda: one_big_run(size["single"]), size["repeats"])
    print(f"  engine, report mode (loss_sweep):       {report:6.2f} s")
    print(f"  peer, the same runs fully traced:       {traced:6.2f} s   "
          f"({traced / report:.2f}x the sweep)")
    print(f"  peer, one run of {size['single']:,} orders (report):"
          f" {single:6.2f} s   (the sweep is {report / single:.2f}x it)")

    cold, warm = measure_page(args.mode)
    print(f"  page ({args.mode}), click to drawn, cold cache: {cold['totalMs']:7.0f} ms "
          f"(fetch {cold['fetchMs']:.0f} ms, {cold['points']} points)")
    print(f"  page ({args.mode}), click to drawn, cached:     {warm['totalMs']:7.0f} ms "
          f"(fetch {warm['fetchMs']:.0f} ms)")
    ok = cold["totalMs"] / 1000 < TARGET_S
    print(f"  {'PASS' if ok else 'FAIL'} compute + draw of the sweep < {TARGET_S:.0f} s: "
          f"{cold['totalMs'] / 1000:.2f} s" + ("  (quick: sizes not meaningful)"
                                               if args.quick else ""))
    return 0
