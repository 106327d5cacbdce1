"""The space-time diagram under load: frames per second while panning and zooming with
100,000 and 1,000,000 events in the run. Headless Debian Chromium through Playwright, the
page served by the real app.py.

- **Load.** Engine-shaped events of a lossy order flow (docs/events.md), made in the page by
  a seeded generator (SYNTH_JS) in time order and handed to ``window.amo.diagram.add()`` in
  chunks, as the page's loop would: orders every 0.5 s on average, legs of 0.8 to 1.2 s, 0.3 s
  of processing, 5 % of requests and of replies lost, 1 % crashes before and after
  processing (2 s down), a 4 s reply timeout; about 9.5 events per order. The live run is
  paused, so only these events are in the diagram.
- **Frame rate.** With the diagram's tab open at 1280x720, its window is animated for the
  measuring window: zooming in and out between the whole run and 1/400 of it while panning
  across it (one new window per animation frame). ``requestAnimationFrame`` callbacks are
  counted per wall second; the median is the figure (target >= 30 fps). The mean time the
  diagram spent drawing a frame is shown beside it.
- **Peer**, in the same run: a bare canvas of the same size, no server and no page around
  it, drawing one line per message (the same number of lines) in one path each frame,
  panned and zoomed the same way.

    python -m bench.diagram [--quick] [--seconds S] [--sizes 100000,1000000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

from tests.support import CHROMIUM_PATH

from .browser import browser_and_server

TARGET_FPS = 30.0
FULL = {"seconds": 6, "sizes": [100_000, 1_000_000]}
QUICK = {"seconds": 2, "sizes": [20_000, 100_000]}
VIEWPORT = {"width": 1280, "height": 720}

# window.amoSynth(total, seed, sink, chunk): engine-shaped events of a lossy order flow, in
# time (and seq) order, handed to sink() in chunks. Msg ids are given at send, in send order,
# as the engine does; diverged_at_seq names the event the divergence began at.
SYNTH_JS = r"""
window.amoSynth = (total, seed, sink, chunk = 20000) => {
  let s = (seed >>> 0) || 1;
  const rnd = () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  const heap = []; let tie = 0;
  const less = (a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const swap = (i, j) => { [heap[i], heap[j]] = [heap[j], heap[i]]; };
  const at = (t, fn) => {
    heap.push([t, tie++, fn]);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i], heap[p])) break;
      swap(i, p); i = p;
    }
  };
  const pop = () => {
    const top = heap[0]; const last = heap.pop();
    if (heap.length) {
      heap[0] = last; let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1; let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) break;
        swap(i, m); i = m;
      }
    }
    return top;
  };
  let seq = 0, msg = 0, order = 0, reserved = 0, approved = 0, out = [], count = 0;
  const emit = (t, e) => {
    e.seq = ++seq; e.t = t; out.push(e); count++;
    if (out.length >= chunk) { sink(out); out = []; }
    return e;
  };
  const lat = () => 0.8 + 0.4 * rnd();
  const diverge = (t, o, kind, cause) => emit(t, {
    type: "order-diverged", order: o, divergence: kind, reason: kind, diverged_at_seq: cause.seq,
    state: "new", credit_reserved: kind === "stuck-new" ? 0 : 100, unbacked: 0 });
  const crash = (t, point, m, o) => {
    const c = emit(t, { type: "receiver-crashed", point, msg: m, order: o, restarts_at: t + 2 });
    at(t + 2, (t2) => emit(t2, {
      type: "receiver-restarted", reserved, available: 1e9 - reserved }));
    return c;
  };
  const sent = (t, m, o, leg, kind, L) => emit(t, {
    type: "message-sent", msg: m, order: o, leg, kind, sent_at: t, arrives_at: t + L });
  const delivered = (t, m, o, leg, kind) => emit(t, {
    type: "message-delivered", msg: m, order: o, leg, kind });
  const lose = (t0, m, o, leg, kind, L, st) => {
    const f = 0.25 + 0.5 * rnd();
    at(t0 + f * L, (t) => {
      const e = emit(t, { type: "message-lost", msg: m, order: o, leg, kind, reason: leg + "-lost",
        point: leg + "-lost", at: f, sent_at: t0, arrives_at: t0 + L });
      st.diverged = true;
      diverge(t, o, leg === "request" ? "stuck-new" : "reserved-not-approved", e);
    });
  };
  const timeout = (t, o, m, st) => {
    if (!st.replied) emit(t, { type: "sender-timeout", order: o, msg: m, state: "new",
                               outcome: "unknown" });
  };
  const arrive = (t) => {
    const o = ++order; const st = { replied: false, diverged: false };
    emit(t, { type: "order-created", order: o, amount: 100, state: "new" });
    const m = ++msg; const L = lat();
    sent(t, m, o, "request", "OrderCreated", L);
    at(t + 4, (t4) => timeout(t4, o, m, st));
    if (rnd() < 0.05) lose(t, m, o, "request", "OrderCreated", L, st);
    else at(t + L, (ta) => {
      delivered(ta, m, o, "request", "OrderCreated");
      emit(ta, { type: "processing-started", msg: m, order: o, done_at: ta + 0.3 });
      if (rnd() < 0.01) {
        const c = crash(ta, "crash-before-processing", m, o);
        emit(ta, { type: "message-forgotten", msg: m, order: o, leg: "request",
                   kind: "OrderCreated", point: "crash-before-processing" });
        diverge(ta, o, "stuck-new", c);
        return;
      }
      at(ta + 0.3, (td) => {
        reserved += 100;
        emit(td, { type: "credit-reserved", msg: m, order: o, amount: 100, credit_limit: 1e9,
                   reserved, available: 1e9 - reserved });
        if (rnd() < 0.01) {
          diverge(td, o, "reserved-not-approved", crash(td, "crash-after-processing", m, o));
          return;
        }
        const r = ++msg; const L2 = lat();
        sent(td, r, o, "reply", "CreditReserved", L2);
        if (rnd() < 0.05) { lose(td, r, o, "reply", "CreditReserved", L2, st); return; }
        at(td + L2, (tr) => {
          st.replied = true; approved += 100;
          delivered(tr, r, o, "reply", "CreditReserved");
          emit(tr, { type: "order-state-changed", order: o, from: "new", to: "approved", msg: r,
                     approved_total: approved });
          emit(tr, { type: "order-consistent", order: o, state: "approved", credit_reserved: 100 });
        });
      });
    });
    at(t - 0.5 * Math.log(1 - rnd()), arrive);
  };
  at(0, arrive);
  while (heap.length && count < total) { const [t, , fn] = pop(); fn(t); }
  if (out.length) sink(out);
  return { events: count, orders: order, messages: msg };
};
"""

# Feed the diagram: events in chunks of 20,000 as the page's loop hands them over.
FEED = """([total, seed]) => {
  const d = window.amo.diagram;
  const t0 = performance.now();
  const info = window.amoSynth(total, seed, (chunk) => d.add(chunk));
  return { ...info, ms: performance.now() - t0, messages_kept: d.msgs.n, marks_kept: d.marks.n,
           flags_kept: d.flags.n, last_t: d.lastT };
}"""

# Pan and zoom for `seconds`: one new window per frame, between the whole run and 1/400 of
# it, the centre moving across the run. rAF callbacks counted per wall second.
ANIMATE = """([seconds, end]) => new Promise((resolve) => {
  const d = window.amo.diagram;
  const per = []; let n = 0; const start = performance.now(); let last = start;
  const draws = d.stats.draws, drawMs = d.stats.drawMs; let aggregated = 0, arrows = 0, frames = 0;
  function tick(now) {
    const u = (now - start) / 1000;
    const zoom = Math.pow(400, 0.5 - 0.5 * Math.cos(u * 1.3));  // 1 .. 400 and back
    const span = end / zoom;
    const centre = end * (0.5 + 0.45 * Math.sin(u * 0.7));
    d.setView(centre - span / 2, span);
    frames++;
    if (d.model && d.model.aggregated) aggregated++;
    if (d.model) arrows = Math.max(arrows, d.model.arrows);
    n++;
    if (now - last >= 1000) { per.push(n * 1000 / (now - last)); n = 0; last = now; }
    if (per.length < seconds) requestAnimationFrame(tick);
    else resolve({ per_second: per, draws: d.stats.draws - draws,
                   draw_ms: (d.stats.drawMs - drawMs) / Math.max(1, d.stats.draws - draws),
                   aggregated_share: aggregated / frames, max_arrows: arrows });
  }
  requestAnimationFrame(tick);
})"""

# The peer: a bare canvas drawing one line per message in one path each frame, the same
# pan and zoom, no server, no page around it.
PEER_PAGE = """<!doctype html><body style="margin:0"><canvas id=c></canvas><script>
const W = %d, H = %d, n = %d, end = %f;
const cv = document.getElementById('c'); cv.width = W; cv.height = H;
const c = cv.getContext('2d');
const s0 = new Float64Array(n), s1 = new Float64Array(n), up = new Uint8Array(n);
for (let i = 0; i < n; i++) {
  s0[i] = (i / n) * end; s1[i] = s0[i] + 0.8 + 0.4 * Math.random(); up[i] = i %% 2;
}
window.run = (seconds) => new Promise((resolve) => {
  const per = []; let k = 0; const start = performance.now(); let last = start;
  function tick(now) {
    const u = (now - start) / 1000;
    const zoom = Math.pow(400, 0.5 - 0.5 * Math.cos(u * 1.3));
    const span = end / zoom, t0 = end * (0.5 + 0.45 * Math.sin(u * 0.7)) - span / 2, px = W / span;
    c.fillStyle = '#fff'; c.fillRect(0, 0, W, H);
    c.strokeStyle = '#1d4ed8'; c.lineWidth = 1.5; c.beginPath();
    for (let i = 0; i < n; i++) {
      const a = (s0[i] - t0) * px, b = (s1[i] - t0) * px;
      c.moveTo(a, up[i] ? H - 40 : 40); c.lineTo(b, up[i] ? 40 : H - 40);
    }
    c.stroke();
    k++;
    if (now - last >= 1000) { per.push(k * 1000 / (now - last)); k = 0; last = now; }
    if (per.length < seconds) requestAnimationFrame(tick); else resolve(per);
  }
  requestAnimationFrame(tick);
});
</script>"""


def open_diagram(browser, url: str):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    page.get_by_role("tab", name="Space-time diagram").click()
    page.wait_for_function("() => window.amo.diagram.isShown()")
    page.add_script_tag(content=SYNTH_JS)
    return context, page


def measure_view(browser, url: str, total: int, seconds: int) -> dict:
    context, page = open_diagram(browser, url)
    try:
        fed = page.evaluate(FEED, [total, 1])
        page.wait_for_timeout(300)
        size = page.evaluate("() => { const d = window.amo.diagram; return [d.cssW, d.cssH]; }")
        heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : null")
        anim = page.evaluate(ANIMATE, [seconds, fed["last_t"]])
        return {**fed, **anim, "median": statistics.median(anim["per_second"]), "canvas": size,
                "heap_mb": heap / 1e6 if heap else None}
    finally:
        context.close()


def measure_peer(browser, lines: int, end: float, size: list[float], seconds: int) -> float:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    try:
        page.set_content(PEER_PAGE % (int(size[0]), int(size[1]), lines, end))
        return statistics.median(page.evaluate(f"() => window.run({seconds})"))
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.diagram",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, figures not meaningful")
    parser.add_argument("--seconds", type=int, default=None, help="measuring window per size")
    parser.add_argument("--sizes", default=None, help="comma-separated event counts")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    seconds = args.seconds or preset["seconds"]
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else preset["sizes"]

    print(f"Space-time diagram: headless {CHROMIUM_PATH}, app.py --async-mode threading, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, {VIEWPORT['width']}x{VIEWPORT['height']}")
    print(f"  load: synthetic engine-shaped events (lossy order flow), sizes {sizes}; "
          f"pan and zoom for {seconds} s each")
    results = []
    with browser_and_server("threading", "bench-diagram") as (browser, server):
        for total in sizes:
            started = time.monotonic()
            view = measure_view(browser, server.url, total, seconds)
            peer = measure_peer(browser, view["messages_kept"], view["last_t"],
                                view["canvas"], seconds)
            results.append((total, view, peer, time.monotonic() - started))

    line = "-" * 86
    print(line)
    for total, view, peer, took in results:
        print(f"{total:,} events ({view['events']:,} made: {view['orders']:,} orders, "
              f"{view['messages_kept']:,} messages, {view['marks_kept']:,} marks, "
              f"{view['flags_kept']:,} flags; run of {view['last_t']:,.0f} virtual s), "
              f"fed in {view['ms']:.0f} ms")
        print("  rAF per second: " + ", ".join(f"{v:.1f}" for v in view["per_second"]))
        print(f"  diagram: median {view['median']:.1f} fps, {view['draw_ms']:.2f} ms per draw "
              f"({view['draws']} draws), density bands in {100 * view['aggregated_share']:.0f} % "
              f"of frames, up to {view['max_arrows']:,} arrows drawn one by one"
              + (f", JS heap {view['heap_mb']:.0f} MB" if view["heap_mb"] else ""))
        print(f"  peer: bare canvas, same {view['messages_kept']:,} lines each frame: median "
              f"{peer:.1f} fps (diagram/peer {view['median'] / peer:.1f}x)")
        print(f"  ({took:.0f} s)")
        print(line)
    print("=" * 86)
    for total, view, _, _ in results:
        ok = view["median"] >= TARGET_FPS
        print(f"  {'PASS' if ok else 'FAIL'}  target     fps >= 30 panning and zooming, "
              f"{total:,} events{'':14s} {view['median']:.1f} fps"
              + ("" if ok else "   <<<<<<<< FAIL"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"events": total, "view": view, "peer_fps": peer}
                       for total, view, peer, _ in results], f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
