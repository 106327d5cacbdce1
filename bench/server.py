"""Server benchmark: how fast, how prompt and how bounded app.py's event stream is.

Every figure comes from a real ``python app.py`` in a subprocess on a loopback port, its
events made by the real engine (a scenario whose ``config`` asks for many orders close
together, played at a chosen speed), read by a bare Socket.IO client on websocket-client
that decodes every frame (``json.loads``) and acknowledges every batch, as a page does.
The harness is the test suite's: ``tests.support`` starts the servers and provides the
client (``StreamingSocketIO``) and the RSS reading.

1. Throughput to one client: events per second delivered, against a bare websocket
   server (eventlet.websocket in its own process) that sends the same JSON frames (same
   ``42["events", {...}]`` text, same batch size) as fast as the socket lets it, to the
   same client loop: the practical limit. Target: >= 50,000 events/s and >= half the bare
   rate.
2. Latency at 1,000 events/s: from the server emitting a batch (its ``server_time``) to
   the client having decoded it, per event, p50 and p99. Target: p99 <= 50 ms. Also shown:
   from the moment an event is due (its virtual time mapped to wall time) to its receipt,
   which adds up to one frame (33 ms) of batching.
3. 200 sessions at once, each streaming about 50 events/s: p99 latency, server memory,
   and zero lost or reordered events (every batch's ``from_seq`` is the previous
   ``to_seq + 1``). Target: p99 <= 100 ms.
4. A client that reads nothing for 30 s while its run plays at full speed: growth of the
   server's resident memory. Target: < 50 MB. Another client's p99 meanwhile is shown.

    python -m bench.server [--quick] [--modes eventlet,threading] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

from tests.support import (
    CommandProcess,
    ServerProcess,
    StreamingSocketIO,
    process_rss_mb,
    server_health,
)

TARGET_RATE = 50_000
TARGET_RATIO = 0.5
TARGET_P99_1K_MS = 50.0
TARGET_P99_200_MS = 100.0
TARGET_SLOW_MB = 50.0

# Scenario configs (happy-path flow, no failures, credit for every order: 9 events/order).
FAST = {"orders": 1_000_000, "order_interval": 0.0001, "credit_limit": 10**12}
PER_SECOND_1K = {"orders": 1_000_000, "order_interval": 9 / 1000, "credit_limit": 10**12}
PER_SECOND_50 = {"orders": 1_000_000, "order_interval": 9 / 50, "credit_limit": 10**12}
WARMUP = 1.0  # seconds of stream read and discarded before a measurement


# ---------------------------------------------------------------------- processes, clients
# The harness is the test suite's (tests/support.py): servers in their own process group on
# a free loopback port, logs under test-artifacts/, the bare Socket.IO client.


def start_app(mode: str, *extra: str) -> ServerProcess:
    return ServerProcess(mode, extra, log_name=f"bench-server-{mode}")


def start_bare(batch_events: int, live: bool) -> CommandProcess:
    return CommandProcess(["-m", "bench.server", "--serve-bare", "{port}",
                           "--batch", batch_events] + (["--live"] if live else []),
                          log_name="bench-server-bare")


def start_run(client: StreamingSocketIO, config: dict, speed: float, seed: int = 1) -> float:
    """Join, set up the scenario, play; returns the wall time play was sent."""
    joined = client.call("join", {"session": None})
    if not isinstance(joined, dict) or not joined.get("ok"):
        raise RuntimeError(f"join refused: {joined!r}")
    client.command(cmd="scenario", name="happy-path", script=False, seed=seed, config=config)
    client.command(cmd="speed", speed=speed)
    started = time.time()
    client.command(cmd="play")
    return started


def batches(client: StreamingSocketIO, running):
    """``(batch, wall time received)`` for each ``events`` batch while ``running()``."""
    client.ws.settimeout(1)
    while running():
        item = client.next_event()
        if item is not None and item[0] == "events":
            yield item[1], time.time()


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def stream(client: StreamingSocketIO, seconds: float, latencies: list | None = None,
           due: tuple[float, float, list] | None = None) -> dict:
    """Read and acknowledge batches for ``seconds``; count events, check seqs, note
    latencies."""
    events = count = 0
    problems = 0
    last = None
    deadline = time.monotonic() + seconds
    for batch, received in batches(client, lambda: time.monotonic() < deadline):
        n = len(batch["events"])
        if last is not None and batch["from_seq"] != last + 1:
            problems += 1
        last = batch["to_seq"]
        events += n
        count += 1
        if latencies is not None:
            latencies.extend([received - batch["server_time"]] * n)
        if due is not None:
            started, speed, out = due
            out.extend(received - (started + e["t"] / speed) for e in batch["events"])
        client.ack(batch)
    return {"events": events, "batches": count, "problems": problems,
            "batch_mean": events / count if count else 0.0}


# ---------------------------------------------------------------------- measurements


def rate(server: ServerProcess, seconds: float, config: dict | None = None) -> dict:
    """Events per second one client receives after the warm-up (``config``: start a run
    at speed 200 first; None: the server streams on connect)."""
    try:
        client = StreamingSocketIO(server.url)
        if config is not None:
            start_run(client, config, 200)
        stream(client, WARMUP)
        began = time.perf_counter()
        result = stream(client, seconds)
        result["seconds"] = time.perf_counter() - began
        result["rate"] = result["events"] / result["seconds"]
        client.close()
        return result
    finally:
        server.stop()


def latency(mode: str, seconds: float) -> dict:
    server = start_app(mode)
    try:
        client = StreamingSocketIO(server.url)
        started = start_run(client, PER_SECOND_1K, 1.0)
        latencies: list[float] = []
        dues: list[float] = []
        stream(client, WARMUP)
        result = stream(client, seconds, latencies=latencies, due=(started, 1.0, dues))
        client.close()
        latencies.sort()
        dues.sort()
        result.update(rate=result["events"] / seconds,
                      p50=percentile(latencies, 50) * 1000, p99=percentile(latencies, 99) * 1000,
                      max=latencies[-1] * 1000 if latencies else float("nan"),
                      due_p50=percentile(dues, 50) * 1000, due_p99=percentile(dues, 99) * 1000)
        return result
    finally:
        server.stop()


def many_sessions(mode: str, count: int, seconds: float) -> dict:
    # Every client comes from 127.0.0.1: let one address open them all at once (the
    # default admits 60 new sessions a minute per address).
    server = start_app(mode, "--session-rate", str(2 * count))
    pid = server.proc.pid
    try:
        base_mb = process_rss_mb(pid)
        ready = threading.Barrier(count + 1, timeout=120)
        measuring = threading.Event()
        stop = threading.Event()
        results: list[dict] = []
        lock = threading.Lock()
        latencies: list[float] = []

        def one(seed: int) -> None:
            try:
                client = StreamingSocketIO(server.url)
                start_run(client, PER_SECOND_50, 1.0, seed)
            except Exception:
                ready.abort()  # the measurement fails at once, not after the barrier's timeout
                raise
            ready.wait()
            mine: list[float] = []
            events = problems = 0
            last = None
            for batch, received in batches(client, lambda: not stop.is_set()):
                if last is not None and batch["from_seq"] != last + 1:
                    problems += 1
                seqs = [e["seq"] for e in batch["events"]]
                if seqs != list(range(batch["from_seq"], batch["to_seq"] + 1)):
                    problems += 1
                last = batch["to_seq"]
                if measuring.is_set():
                    events += len(seqs)
                    mine.extend([received - batch["server_time"]] * len(seqs))
                client.ack(batch)
            client.close()
            with lock:
                results.append({"events": events, "problems": problems})
                latencies.extend(mine)

        threads = [threading.Thread(target=one, args=(seed,), daemon=True)
                   for seed in range(1, count + 1)]
        for thread in threads:
            thread.start()
            time.sleep(0.005)
        ready.wait()
        time.sleep(WARMUP)
        peak = process_rss_mb(pid)
        began = time.monotonic()
        measuring.set()
        while time.monotonic() < began + seconds:
            time.sleep(0.25)
            peak = max(peak, process_rss_mb(pid))
        measuring.clear()
        seconds = time.monotonic() - began
        stop.set()
        for thread in threads:
            thread.join(10)
        health = server_health(server.url)
        latencies.sort()
        events = sum(r["events"] for r in results)
        return {"sessions": count, "clients_done": len(results), "events": events,
                "rate": events / seconds, "per_session": events / seconds / count,
                "problems": sum(r["problems"] for r in results),
                "p50": percentile(latencies, 50) * 1000, "p99": percentile(latencies, 99) * 1000,
                "max": latencies[-1] * 1000 if latencies else float("nan"),
                "base_mb": base_mb, "peak_mb": peak, "server_sessions": health["sessions"]}
    finally:
        server.stop()


def slow_client(mode: str, seconds: float) -> dict:
    server = start_app(mode)
    pid = server.proc.pid
    try:
        slow = StreamingSocketIO(server.url, rcvbuf=4096)
        slow.call("join", {"session": None})
        slow.command(cmd="scenario", name="happy-path", script=False, config=FAST)
        slow.command(cmd="speed", speed=200)
        time.sleep(0.5)
        before = process_rss_mb(pid)
        slow.emit("command", {"cmd": "play"}, answer=False)  # and never read again
        other = StreamingSocketIO(server.url)
        start_run(other, PER_SECOND_1K, 1.0)
        latencies: list[float] = []
        peak = before
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            stream(other, 0.5, latencies=latencies)
            peak = max(peak, process_rss_mb(pid))
        after = process_rss_mb(pid)
        latencies.sort()
        other.close()
        slow.close()
        return {"seconds": seconds, "before_mb": before, "peak_mb": peak, "after_mb": after,
                "growth_mb": peak - before, "other_p99": percentile(latencies, 99) * 1000,
                "other_events": len(latencies)}
    finally:
        server.stop()


# ---------------------------------------------------------------------- the bare server


def serve_bare(port: int, batch_events: int, live: bool) -> None:
    """A plain eventlet websocket server that sends ``events`` frames (the same JSON text a
    Socket.IO server sends) as fast as the socket takes them: made as it goes by the same
    engine and json.dumps (``live``), or made before the first client and sent again and
    again (the transport alone)."""
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet
    import eventlet.websocket
    import eventlet.wsgi

    from engine.presets import preset_config
    from engine.simulation import Simulation

    def frames(sim: Simulation):
        """Batches of ``batch_events`` engine events, JSON-encoded as app.py sends them."""
        t = 0.0
        while True:
            t += 0.5
            events = sim.advance(t, batch_events)
            if len(events) < batch_events:
                continue
            batch = {"run": 1, "from_seq": events[0]["seq"], "to_seq": events[-1]["seq"],
                     "t": sim.now, "playing": True, "speed": 200.0, "held_back": True,
                     "over": False, "events": events, "server_time": time.time()}
            yield "42" + json.dumps(["events", batch], separators=(",", ":"))

    ready = [] if live else [f for f, _ in zip(frames(Simulation(
        preset_config("happy-path", FAST), keep_orders=False)), range(30))]

    @eventlet.websocket.WebSocketWSGI
    def push(ws):
        try:
            # The Engine.IO open and the Socket.IO CONNECT, so the same client connects;
            # after that the server reads nothing (acks stay unread in the socket).
            ws.send('0{"sid":"bare","upgrades":[],"pingInterval":25000,"pingTimeout":20000,'
                    '"maxPayload":1000000}')
            if ws.wait() != "40":
                return
            ws.send('40{"sid":"bare"}')
            if live:
                for frame in frames(Simulation(preset_config("happy-path", FAST),
                                               keep_orders=False)):
                    ws.send(frame)
            else:
                i = 0
                while True:
                    ws.send(ready[i % len(ready)])
                    i += 1
        except OSError:
            pass

    def app(environ, start_response):
        if environ["PATH_INFO"].startswith("/socket.io"):
            return push(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ok": true}']  # /healthz: what CommandProcess waits for

    eventlet.wsgi.server(eventlet.listen(("127.0.0.1", port)), app, log_output=False)


# ---------------------------------------------------------------------- report


def _line(text: str = "") -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test")
    parser.add_argument("--modes", default=None,
                        help="async modes to measure (default: eventlet,threading; "
                             "with --quick: eventlet)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=4000, help=argparse.SUPPRESS)
    parser.add_argument("--live", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare, args.batch, args.live)
        return 0
    modes = [m for m in (args.modes or ("eventlet" if args.quick else "eventlet,threading"))
             .split(",") if m]
    run_s = 1.5 if args.quick else 10.0
    slow_s = 3.0 if args.quick else 30.0
    sessions = 20 if args.quick else 200
    global WARMUP
    WARMUP = 0.5 if args.quick else 1.0

    _line(f"Server benchmark, {datetime.date.today()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {platform.machine()}; "
          f"modes {', '.join(modes)}{' (quick)' if args.quick else ''}")
    _line("-" * 86)
    figures: dict = {"modes": {}}
    for mode in modes:
        figures["modes"][mode] = {}
    _line(f"1. Throughput to one client, {run_s:.0f} s (scenario config {FAST}, speed 200)")
    for mode in modes:
        result = rate(start_app(mode), run_s, FAST)
        figures["modes"][mode]["throughput"] = result
        _line(f"   socket.io {mode:9s} {result['rate']:>10,.0f} events/s   "
              f"{result['batches']} batches of {result['batch_mean']:,.0f} events on average, "
              f"seq problems {result['problems']}")
    batch = round(figures["modes"][modes[0]]["throughput"]["batch_mean"]) or 4000
    bare = rate(start_bare(batch, live=True), run_s)
    wire = rate(start_bare(batch, live=False), run_s)
    figures["bare"] = bare
    figures["bare_transport"] = wire
    _line(f"   bare websocket     {bare['rate']:>10,.0f} events/s   eventlet.websocket: the same "
          f"engine and json.dumps, batches of {batch:,},")
    _line("                                          no Socket.IO, no pacing, no acks (the peer)")
    _line(f"   bare, transport    {wire['rate']:>10,.0f} events/s   the same frames made once and "
          "sent again and again (the client's limit)")
    for mode in modes:
        ratio = figures["modes"][mode]["throughput"]["rate"] / bare["rate"]
        figures["modes"][mode]["ratio"] = ratio
        figures["modes"][mode]["ratio_transport"] = (
            figures["modes"][mode]["throughput"]["rate"] / wire["rate"])
        _line(f"   ratio {mode} / bare: {ratio:.2f}   (/ transport alone: "
              f"{figures['modes'][mode]['ratio_transport']:.2f})")
    _line("-" * 86)
    _line(f"2. Latency at about 1,000 events/s, {run_s:.0f} s (config {PER_SECOND_1K}, speed 1)")
    for mode in modes:
        r = latency(mode, run_s)
        figures["modes"][mode]["latency"] = r
        _line(f"   {mode:9s} {r['rate']:>6,.0f} events/s   emitted->received p50 {r['p50']:.2f} ms"
              f"  p99 {r['p99']:.2f} ms  max {r['max']:.1f} ms;   due->received p50 "
              f"{r['due_p50']:.1f} ms  p99 {r['due_p99']:.1f} ms")
    _line("-" * 86)
    _line(f"3. {sessions} sessions at once, about 50 events/s each, {run_s:.0f} s")
    for mode in modes:
        r = many_sessions(mode, sessions, run_s)
        figures["modes"][mode]["sessions"] = r
        _line(f"   {mode:9s} {r['clients_done']} clients, {r['rate']:,.0f} events/s in all "
              f"({r['per_session']:.0f}/session); p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms  "
              f"max {r['max']:.1f} ms")
        _line(f"             lost or reordered: {r['problems']};  server RSS {r['base_mb']:.1f} MB"
              f" idle, {r['peak_mb']:.1f} MB peak with {r['server_sessions']} sessions")
    _line("-" * 86)
    _line(f"4. A client that reads nothing for {slow_s:.0f} s at full speed (config {FAST}, "
          "speed 200)")
    for mode in modes:
        r = slow_client(mode, slow_s)
        figures["modes"][mode]["slow"] = r
        _line(f"   {mode:9s} server RSS {r['before_mb']:.1f} MB before, {r['peak_mb']:.1f} MB "
              f"peak: +{r['growth_mb']:.1f} MB;  another client meanwhile: p99 "
              f"{r['other_p99']:.2f} ms over {r['other_events']:,} events")
    _line("=" * 86)

    checks = []
    for mode in modes:
        m = figures["modes"][mode]
        checks += [
            (m["throughput"]["rate"] >= TARGET_RATE, f"{mode}: >= 50,000 events/s to one client",
             f"{m['throughput']['rate']:,.0f}/s"),
            (m["ratio"] >= TARGET_RATIO, f"{mode}: >= half the bare websocket rate",
             f"{m['ratio']:.2f}"),
            (m["latency"]["p99"] <= TARGET_P99_1K_MS, f"{mode}: p99 <= 50 ms at 1,000 events/s",
             f"{m['latency']['p99']:.2f} ms"),
            (m["sessions"]["p99"] <= TARGET_P99_200_MS,
             f"{mode}: {sessions} sessions p99 <= 100 ms", f"{m['sessions']['p99']:.2f} ms"),
            (m["sessions"]["problems"] == 0 and m["sessions"]["clients_done"] == sessions,
             f"{mode}: {sessions} sessions, zero lost or reordered",
             f"{m['sessions']['problems']} problems"),
            (m["slow"]["growth_mb"] < TARGET_SLOW_MB,
             f"{mode}: reads nothing {slow_s:.0f} s: server grows < 50 MB",
             f"+{m['slow']['growth_mb']:.1f} MB"),
        ]
    for ok, name, value in checks:
        _line(f"  {'PASS' if ok else 'FAIL'}  {name:58s} {value}"
              + ("" if ok else "   <<<<<<<< FAIL"))
    _line("  all targets met" if all(c[0] for c in checks) else "  SOME TARGETS MISSED")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
