"""The three-lane run (issue 12, "Performance"): Compare semantics animates three lanes at
the same frame rate targets as the page's one lane. Headless Debian Chromium through
Playwright, the real app.py as a subprocess.

- **Three lanes.** The view opened by its link with the lossy-network preset at its most
  (``orders=200``, seed 1, five attempts: about 2,000 events per lane, every kind of token
  and badge), playing at 16× (the view's fastest: some 60 orders a second, tens of tokens
  per lane); when the run ends it starts again, so the window is all playing. The figure is
  the median of ``requestAnimationFrame`` callbacks per wall second over the window (target
  >= 55 fps), and the time the view's ``draw()`` takes per frame (three strips, tallies,
  deduplication table), median and 95th percentile.
- **The peer, in the same run and browser:** one lane, the page's own stage, playing the
  same preset (its 200 orders) at 16× from the server's stream, counted the same way; and,
  in the view itself, one lane's ``draw()`` alone, so the cost of three is seen beside one.

At 1280x720 and at 1920x1080 (a projector; the root font, the strips and the type scale
with it).

    python -m bench.lanes [--quick] [--seconds S] [--mode eventlet|threading] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics

from tests.support import CHROMIUM_PATH

from .browser import COUNT_FRAMES, browser_and_server

TARGET_FPS = 55.0
SPEED = 16
LINK = "/?view=semantics&scenario=lossy-network&seed=1&orders=200&max_attempts=5"
VIEWS = [(1280, 720), (1920, 1080)]
FULL = {"seconds": 8}
QUICK = {"seconds": 2}

# rAF callbacks per wall second while the view plays (restarted when its run ends), and
# the view's draw() time per frame; one lane's draw() measured alone on the same frames.
COUNT_LANES = """(seconds) => new Promise((resolve) => {
  const s = window.amo.semantics;
  const three = [], one = [];
  const draw = s.draw.bind(s);
  s.draw = () => {
    const t0 = performance.now();
    draw();
    const t1 = performance.now();
    s.lanes[0].update(s.at); s.lanes[0].draw(s.at);
    one.push(performance.now() - t1);
    three.push(t1 - t0);
  };
  const per = [];
  let n = 0, last = performance.now();
  function tick(now) {
    n++;
    if (!s.playing) { s.seek(0); s.play(); }
    if (now - last >= 1000) { per.push(n * 1000 / (now - last)); n = 0; last = now; }
    if (per.length < seconds) requestAnimationFrame(tick);
    else {
      s.draw = draw;
      s.pause();
      resolve({per, three, one, tokens: s.lanes.map((l) => l.items().tokens.length)});
    }
  }
  s.setSpeed(%d);
  s.play();
  requestAnimationFrame(tick);
})"""



def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def three_lanes(browser, url: str, size: tuple[int, int], seconds: int) -> dict:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(url + LINK)
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    page.wait_for_function("() => window.amo.semantics.data && window.amo.semantics.data.lanes"
                           "[0].summary.orders === 200", timeout=30_000)
    events = page.evaluate("() => window.amo.semantics.data.lanes.map((l) => l.events.length)")
    got = page.evaluate(COUNT_LANES % SPEED, seconds)
    context.close()
    return {"per_second": got["per"], "median": statistics.median(got["per"]),
            "draw_ms": statistics.median(got["three"]), "draw_p95_ms": pct(got["three"], 0.95),
            "one_draw_ms": statistics.median(got["one"]), "one_draw_p95_ms": pct(got["one"], 0.95),
            "events": events, "tokens_end": got["tokens"]}


def one_lane(browser, url: str, size: tuple[int, int], seconds: int) -> dict:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    answer = page.evaluate("() => window.amo.conn.command('scenario', {name: 'lossy-network'})")
    if not answer.get("ok"):
        raise SystemExit(f"scenario command refused: {answer}")
    page.wait_for_function("() => window.amo.store.scenario === 'lossy-network'")
    page.evaluate(f"() => window.amo.conn.command('speed', {{speed: {SPEED}}})")
    page.evaluate("() => window.amo.conn.command('play')")
    page.wait_for_function("() => window.amo.store.tokens.size > 0", timeout=10_000)
    per = page.evaluate(COUNT_FRAMES, seconds)
    context.close()
    return {"per_second": per, "median": statistics.median(per)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lanes",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short windows, figures rough")
    parser.add_argument("--seconds", type=int, default=None, help="measuring window")
    parser.add_argument("--mode", default="eventlet", choices=("eventlet", "threading"))
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    seconds = args.seconds or (QUICK if args.quick else FULL)["seconds"]

    print(f"Three lanes beside one: headless {CHROMIUM_PATH}, app.py --async-mode {args.mode}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  three lanes: {LINK} at {SPEED}x; one lane: the stage, lossy-network at "
          f"{SPEED}x; {seconds} s windows")
    results = []
    with browser_and_server(args.mode, f"bench-lanes-{args.mode}") as (browser, server):
        for size in VIEWS:
            three = three_lanes(browser, server.url, size, seconds)
            one = one_lane(browser, server.url, size, seconds)
            results.append({"size": f"{size[0]}x{size[1]}", "three": three, "one": one})

    status = 0
    print("-" * 86)
    for r in results:
        three, one = r["three"], r["one"]
        ok = three["median"] >= TARGET_FPS and three["median"] >= one["median"] - 3
        status = status or (0 if ok else 1)
        print(f"{r['size']}: three lanes {three['median']:.1f} fps (per second: "
              f"{', '.join(f'{x:.0f}' for x in three['per_second'])}); one lane (the stage) "
              f"{one['median']:.1f} fps  {'PASS' if ok else 'FAIL'} (target >= {TARGET_FPS:g} "
              "and within 3 fps of one lane)")
        print(f"    draw() per frame: three lanes {three['draw_ms']:.2f} ms median, "
              f"{three['draw_p95_ms']:.2f} ms p95; one lane {three['one_draw_ms']:.2f} ms "
              f"median, {three['one_draw_p95_ms']:.2f} ms p95; events per lane "
              f"{three['events']}; tokens drawn at the end {three['tokens_end']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
