"""``python -m bench history [--quick]``: seeking in a run's history (issue 10).

A run of the lossy-network flow, driven the way a session drives it (frames of at most
4,000 events, engine commands given along the way), with its ``History`` noting every
call, as the server keeps it (``KEEP_RECENT_ORDERS``, checkpoints every 10,000 events).
Then random moments (half by seq, half by virtual time) are rebuilt with
``History.state_at`` and, in the same run, with the peer: a plain ``Simulation.replay``
from t = 0 to the same moment; both answers are compared. Memory: what the checkpoints
hold for the 1,000,000-event run, measured with tracemalloc (the run's memory with its
history, minus the same after the history is dropped) and as the bytes of the checkpoints.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import tracemalloc

from engine import History, Simulation, preset_config
from engine.history import CHECKPOINT_EVERY

KEEP_RECENT_ORDERS = 5000  # as server/session.py keeps them
FRAME_EVENTS = 4000

TARGET_100K_MS = 100.0
TARGET_1M_MS = 1000.0
TARGET_MEMORY_MB = 50.0

COMMANDS = [
    {"cmd": "set-failure", "point": "reply-lost", "probability": 0.1},
    {"cmd": "create-order", "amount": 250},
    {"cmd": "set-credit-limit", "credit_limit": 2_000_000},
    {"cmd": "set-failure", "point": "request-lost", "mode": "next"},
    {"cmd": "set-failure", "point": "crash-after-processing", "mode": "on"},
    {"cmd": "set-failure", "point": "crash-after-processing", "mode": "off"},
    {"cmd": "create-order"},
    {"cmd": "set-failure", "point": "reply-lost", "probability": 0.02},
]


def config_for(events: int, dense: bool = False):
    overrides = {"orders": events // 5 + 1000}
    if dense:  # the fastest run the server allows: ~40,000 orders in flight at once
        overrides["order_interval"] = 0.0001
    return preset_config("lossy-network", overrides)


def drive(config, events: int, history: bool = True) -> tuple[Simulation, History | None]:
    """The run to ``events`` events, in frames, with commands every events / 20."""
    sim = Simulation(config, keep_orders=KEEP_RECENT_ORDERS)
    kept = History(sim) if history else None
    gap = max(1, events // 20)
    due = gap
    i = 0
    while sim.seq < events and not sim.idle:
        if sim.seq >= due:
            sim.apply(COMMANDS[i % len(COMMANDS)])
            i += 1
            due += gap
            if kept:
                kept.note(sim)
        sim.advance(sim.now + 0.5, max_events=min(FRAME_EVENTS, events - sim.seq))
        if kept:
            kept.note(sim)
    return sim, kept


def comparable(sim: Simulation) -> dict:
    """A snapshot to compare: the peer keeps every order, the session's run only the
    newest KEEP_RECENT_ORDERS, so older orders are left out."""
    snap = sim.snapshot()
    newest = sim.orders - 150
    snap["orders"] = [o for o in snap["orders"] if o["id"] > newest]
    return snap


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(events: int, seeks: int, peers: int, rng: random.Random) -> dict:
    config = config_for(events)
    started = time.perf_counter()
    drive(config, events, history=False)
    plain_s = time.perf_counter() - started
    started = time.perf_counter()
    sim, history = drive(config, events)
    with_s = time.perf_counter() - started
    log = sim.command_log
    moments = []
    for k in range(seeks):
        if k % 2:
            moments.append(("seq", rng.randrange(0, sim.seq)))
        else:
            moments.append(("t", rng.uniform(0.0, sim.now)))
    seek_ms = []
    answers = []
    for kind, value in moments:
        started = time.perf_counter()
        state = history.state_at(**{kind: value})
        seek_ms.append((time.perf_counter() - started) * 1000)
        if len(answers) < peers:
            answers.append(comparable(state))
    peer_ms = []
    same = 0
    for (kind, value), answer in zip(moments[:peers], answers):
        until = {"until_seq": value} if kind == "seq" else {"until": value}
        started = time.perf_counter()
        replayed, _ = Simulation.replay(config, log, **until)
        peer_ms.append((time.perf_counter() - started) * 1000)
        same += comparable(replayed) == answer
    return {"events": sim.seq, "t": sim.now, "commands": len(log),
            "checkpoints": len(history.checkpoints), "every": history.every,
            "checkpoint_bytes": history.bytes, "plain_s": plain_s, "with_s": with_s,
            "seek_ms": seek_ms, "peer_ms": peer_ms, "same": same, "compared": len(peer_ms)}


def memory(events: int, dense: bool = False) -> dict:
    """tracemalloc: the run with its history, minus the run alone."""
    tracemalloc.start()
    try:
        sim, history = drive(config_for(events, dense), events)
        with_history = tracemalloc.get_traced_memory()[0]
        checkpoints, every, held = len(history.checkpoints), history.every, history.bytes
        del history
        without = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return {"events": sim.seq, "traced_mb": (with_history - without) / 2**20,
            "bytes_mb": held / 2**20, "checkpoints": checkpoints, "every": every}


def say(text: str = "") -> None:
    print(text, flush=True)


def report_row(name: str, figures: dict) -> None:
    seek, peer = figures["seek_ms"], figures["peer_ms"]
    say(f"{name:>10s}  {figures['events']:>9,}  {figures['checkpoints']:>5}  "
        f"{pct(seek, 0.5):8.1f}  {pct(seek, 0.95):8.1f}  {max(seek):8.1f}  "
        f"{pct(peer, 0.5):8.1f}  {pct(peer, 0.95):8.1f}  "
        f"{figures['same']}/{figures['compared']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes for a smoke run (figures not meaningful)")
    parser.add_argument("--seed", type=int, default=7, help="of the random moments")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    if args.quick:
        small, large, seeks, peers = 20_000, 60_000, 20, 4
    else:
        small, large, seeks, peers = 100_000, 1_000_000, 200, 12
    say(f"History seek vs plain replay: lossy-network flow, frames of {FRAME_EVENTS:,} "
        f"events, checkpoints every {CHECKPOINT_EVERY:,} events, {seeks} random moments "
        f"(half by seq, half by t), the peer on the first {peers}")
    say("-" * 86)
    say(f"{'run':>10s}  {'events':>9s}  {'ckpts':>5s}  {'seek p50':>8s}  {'seek p95':>8s}  "
        f"{'seek max':>8s}  {'peer p50':>8s}  {'peer p95':>8s}  same")
    rows = {}
    for name, events in (("100k", small), ("1M", large)):
        rows[name] = figures = measure(events, seeks, peers, rng)
        report_row(name, figures)
    say("  (ms; peer = Simulation.replay from t = 0 to the same moment; same = answers "
        "identical)")
    for name, figures in rows.items():
        overhead = figures["with_s"] / figures["plain_s"] - 1
        say(f"  {name}: run made in {figures['plain_s']:.2f} s without a history, "
            f"{figures['with_s']:.2f} s with it ({overhead:+.0%}); "
            f"{figures['commands']} commands, t = {figures['t']:,.0f} s")
    say("-" * 86)
    mem = memory(large)
    say(f"Memory of the history of the {mem['events']:,}-event run: "
        f"{mem['traced_mb']:.1f} MB (tracemalloc), {mem['bytes_mb']:.1f} MB of checkpoint "
        f"bytes, {mem['checkpoints']} checkpoints")
    dense = None
    if not args.quick:
        dense = memory(large, dense=True)
        config = config_for(large, dense=True)
        sim, history = drive(config, large)
        times = []
        for _ in range(20):
            started = time.perf_counter()
            history.state_at(seq=rng.randrange(0, sim.seq))
            times.append((time.perf_counter() - started) * 1000)
        say(f"  info: the densest run (an order every 0.1 ms, ~40,000 in flight): "
            f"{dense['traced_mb']:.1f} MB, {dense['checkpoints']} checkpoints, every "
            f"{dense['every']:,} events after thinning; seek p50 {pct(times, 0.5):.0f} ms, "
            f"p95 {pct(times, 0.95):.0f} ms")
    say("=" * 86)
    checks = [
        (f"seek p95, {rows['100k']['events']:,}-event run <= {TARGET_100K_MS:.0f} ms",
         pct(rows["100k"]["seek_ms"], 0.95) <= TARGET_100K_MS,
         f"{pct(rows['100k']['seek_ms'], 0.95):.1f} ms"),
        (f"seek p95, {rows['1M']['events']:,}-event run <= {TARGET_1M_MS:.0f} ms",
         pct(rows["1M"]["seek_ms"], 0.95) <= TARGET_1M_MS,
         f"{pct(rows['1M']['seek_ms'], 0.95):.1f} ms"),
        (f"history memory, {mem['events']:,}-event run < {TARGET_MEMORY_MB:.0f} MB",
         mem["traced_mb"] < TARGET_MEMORY_MB, f"{mem['traced_mb']:.1f} MB"),
        ("seek answers identical to the peer's",
         all(f["same"] == f["compared"] for f in rows.values()),
         ", ".join(f"{f['same']}/{f['compared']}" for f in rows.values())),
    ]
    for name, ok, value in checks:
        say(f"  {'PASS' if ok else 'FAIL'}  {name:60s} {value}" + ("" if ok else
                                                                  "   <<<<<<<< FAIL"))
    if args.quick:
        say("  (--quick: small sizes, the figures are not meaningful)")
    say("  all targets met" if all(ok for _, ok, _ in checks) else "  some targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
