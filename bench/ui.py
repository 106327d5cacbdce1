"""The browser view under load: frame rate with ~10,000 messages in flight, page weight,
time to usable. Headless Debian Chromium through Playwright, the real app.py as a
subprocess streaming real engine events.

- **Frame rate.** The page joins, picks the lossy-network preset with the config override
  ``orders=300000, order_interval=0.0001`` (10,000 orders per virtual second for 30 s,
  longer than the measuring window; a request leg of about one second keeps ~10,000
  messages on the wire; at that rate the preset's crash probabilities keep the receiver
  down most of the time, so replies are few) at speed 1, and plays. Once the view holds
  about 10,000 tokens, ``requestAnimationFrame`` callbacks are counted per wall second
  for the measuring window; the median is the figure (target >= 55 fps), at 1280x720 and at
  1920x1080 in presentation mode (VIEWS). The peer, in
  the same run: a bare canvas page drawing the same number of moving squares with no
  server, no events and no panels.
- **Page weight.** Bytes of every response the first load fetches (HTML, JS, CSS, the
  vendored socket.io client; no images or fonts exist). Target <= 300 KB.
- **Time to usable.** From navigation start to the page's ``amo-usable`` mark (first
  snapshot drawn, controls live), median of several loads on loopback. Target < 1 s.

    python -m bench.ui [--quick] [--seconds S] [--mode eventlet|threading] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

from tests.support import CHROMIUM_PATH

from .browser import COUNT_FRAMES, browser_and_server

TARGET_FPS = 55.0
TARGET_WEIGHT = 300 * 1024
TARGET_USABLE_MS = 1000.0
IN_FLIGHT_GOAL = 10_000
CONFIG = {"orders": 300_000, "order_interval": 0.0001}

FULL = {"seconds": 10, "loads": 7, "goal": 9_500}
QUICK = {"seconds": 3, "loads": 3, "goal": 3_000}


# The peer: a plain canvas loop moving `n` squares, nothing else.
PEER_PAGE = """<!doctype html><canvas id=c width=800 height=330></canvas><script>
const c = document.getElementById('c').getContext('2d');
const n = %d, xs = new Float32Array(n), ys = new Float32Array(n);
for (let i = 0; i < n; i++) { xs[i] = Math.random(); ys[i] = Math.random(); }
function draw(t) {
  c.clearRect(0, 0, 800, 330); c.fillStyle = '#1d4ed8'; c.beginPath();
  for (let i = 0; i < n; i++) {
    const x = ((xs[i] + t / 4000) %% 1) * 800; c.rect(x - 4, ys[i] * 330 - 4, 8, 8);
  }
  c.fill(); requestAnimationFrame(draw);
}
requestAnimationFrame(draw);
</script>"""


PLAIN: dict[str, int] = {}


def measure_load(browser, url: str, loads: int) -> tuple[int, dict[str, int], list[float]]:
    """Page weight of the first load (bytes on the wire: the server gzips its text), and
    time to usable over `loads` fresh loads. `PLAIN` gets the uncompressed sizes."""
    weight: dict[str, int] = {}
    usable: list[float] = []
    for i in range(loads):
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        if i == 0:
            def on_response(response, sizes=weight):
                try:
                    body = len(response.body())
                    length = response.header_value("content-length")
                    sizes[response.url] = int(length) if length else body
                    PLAIN[response.url] = body
                except Exception:  # a redirect or an aborted request has no body
                    pass
            page.on("response", on_response)
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready=true]", timeout=10_000)
        usable.append(page.evaluate(
            "() => performance.getEntriesByName('amo-usable')[0].startTime"))
        if i == 0:
            page.wait_for_load_state("networkidle")
        context.close()
    return sum(weight.values()), weight, usable


# Where the frame rate is measured: the size the page was built for, and a projector's
# 1080p in presentation mode (more pixels, larger type and stage; issue 9).
VIEWS = [((1280, 720), False), ((1920, 1080), True)]


def view_name(size: tuple[int, int], present: bool) -> str:
    return f"{size[0]}x{size[1]}" + (" presentation mode" if present else "")


def measure_fps(browser, url: str, seconds: int, goal: int,
                size: tuple[int, int] = (1280, 720), present: bool = False) -> dict:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    if present:
        page.keyboard.press("p")
        page.wait_for_function("() => document.documentElement.classList.contains('presenting')")
    answer = page.evaluate("""(config) => window.amo.conn.command('scenario',
        {name: 'lossy-network', config})""", CONFIG)
    if not answer.get("ok"):
        raise SystemExit(f"scenario command refused: {answer}")
    page.wait_for_function("() => window.amo.store.scenario === 'lossy-network'")
    page.evaluate("() => window.amo.conn.command('speed', {speed: 1})")
    page.evaluate("() => window.amo.conn.command('play')")
    started = time.monotonic()
    page.wait_for_function(f"() => window.amo.store.tokens.size >= {goal}",
                           timeout=60_000, polling=200)
    ramp = time.monotonic() - started
    before = page.evaluate("() => ({events: window.amo.stats.events, t: performance.now()})")
    tokens: list[int] = []
    per_second = page.evaluate(COUNT_FRAMES, seconds)
    after = page.evaluate("""() => ({events: window.amo.stats.events, t: performance.now(),
        tokens: window.amo.store.tokens.size, pending: window.amo.store.pendingCount(),
        rows: document.querySelectorAll('#log .row').length,
        dom: document.getElementsByTagName('*').length,
        heap: performance.memory ? performance.memory.usedJSHeapSize : null})""")
    tokens.append(after["tokens"])
    rate = (after["events"] - before["events"]) / ((after["t"] - before["t"]) / 1000)
    context.close()
    return {"per_second": per_second, "median": statistics.median(per_second),
            "tokens_end": after["tokens"], "events_per_s": rate, "ramp_s": ramp,
            "pending_end": after["pending"], "log_rows": after["rows"], "dom_nodes": after["dom"],
            "heap_mb": after["heap"] / 1e6 if after["heap"] else None}


def measure_peer(browser, n: int, seconds: int, size: tuple[int, int] = (1280, 720)) -> float:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.set_content(PEER_PAGE % n)
    page.wait_for_timeout(500)
    per_second = page.evaluate(COUNT_FRAMES, seconds)
    context.close()
    return statistics.median(per_second)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ui", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, figures not meaningful")
    parser.add_argument("--seconds", type=int, default=None, help="measuring window for fps")
    parser.add_argument("--mode", default="eventlet", choices=("eventlet", "threading"))
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    seconds = args.seconds or sizes["seconds"]

    print(f"Browser view: headless {CHROMIUM_PATH}, app.py --async-mode {args.mode}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  load: lossy-network preset, config {json.dumps(CONFIG)}, speed 1, "
          f"goal {sizes['goal']:,} messages in flight, {seconds} s window")
    with browser_and_server(args.mode, f"bench-ui-{args.mode}") as (browser, server):
        weight, files, usable = measure_load(browser, server.url, sizes["loads"])
        views = []
        for size, present in VIEWS:
            fps = measure_fps(browser, server.url, seconds, sizes["goal"], size, present)
            peer = measure_peer(browser, fps["tokens_end"], seconds, size)
            views.append((view_name(size, present), fps, peer))

    line = "-" * 86
    print(line)
    print("Page weight (first load, every response; on the wire, and uncompressed):")
    for url, size in sorted(files.items(), key=lambda kv: -kv[1]):
        print(f"  {size / 1024:8.1f} KB  {PLAIN.get(url, size) / 1024:8.1f} KB  "
              f"{url.replace(server.url, '')}")
    print(f"  {weight / 1024:8.1f} KB  {sum(PLAIN.values()) / 1024:8.1f} KB  total")
    print(line)
    print(f"Time to usable (navigation start -> first snapshot drawn), {len(usable)} loads:")
    print("  " + ", ".join(f"{ms:.0f}" for ms in usable) + " ms; median "
          f"{statistics.median(usable):.0f} ms")
    print(line)
    for name, fps, peer in views:
        print(f"Frame rate at {name}, the stream running "
              f"({fps['ramp_s']:.1f} s to reach the goal):")
        print("  rAF per second: " + ", ".join(f"{v:.1f}" for v in fps["per_second"]))
        print(f"  view: median {fps['median']:.1f} fps, {fps['tokens_end']:,} tokens in flight at "
              f"the end, {fps['events_per_s']:,.0f} events/s received, "
              f"{fps['pending_end']:,} queued for display")
        print(f"  peer: bare canvas loop, same {fps['tokens_end']:,} squares: median {peer:.1f} fps"
              f" (view/peer {fps['median'] / peer:.2f})")
        print(f"  DOM: {fps['dom_nodes']:,} elements, {fps['log_rows']} log rows in the DOM"
              + (f", JS heap {fps['heap_mb']:.0f} MB" if fps["heap_mb"] else ""))
        print(line)
    print("=" * 86)
    checks = [
        (f"fps >= 55, ~10,000 messages in flight, {name}", fps["median"] >= TARGET_FPS
         and fps["tokens_end"] >= sizes["goal"] * 0.8, f"{fps['median']:.1f} fps")
        for name, fps, _ in views
    ] + [
        ("page weight <= 300 KB", weight <= TARGET_WEIGHT, f"{weight / 1024:.1f} KB"),
        ("usable < 1 s after navigation (median)", statistics.median(usable) < TARGET_USABLE_MS,
         f"{statistics.median(usable):.0f} ms"),
    ]
    for name, ok, figure in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  target     {name:55s} {figure}"
              + ("" if ok else "   <<<<<<<< FAIL"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"weight": weight, "files": files, "usable_ms": usable,
                       "views": {name: {"fps": fps, "peer_fps": peer}
                                 for name, fps, peer in views}}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
