"""Engine vs SimPy: the same at-most-once order flow in both, measured in one run.

The engine (``engine.Simulation`` in report mode) and an idiomatic SimPy model of the same
flow run the same config: orders arriving lazily (exponential inter-arrival from a seeded
RNG), request and reply legs with uniform latency, receiver processing time, the credit
check and reservation, the four failure points as probabilities (a crash takes the
receiver down for ``restart_after`` and forgets the work in its memory), a sender reply
timeout after which the order stays ``new`` and late replies are ignored, and the same
per-order bookkeeping (order state, credit reserved, what the sender saw, the judgement).

The SimPy model draws its arrivals from the same seeded stream as the engine and every
latency and failure from the same keyed draws (``engine.simulation.keyed_draws``: per
order and attempt), so with the same seed both should agree order for order; a run with
a different seed checks that the agreement is statistical, not an accident of shared
random numbers.

Every measurement runs in a fresh subprocess. Peak memory is the process's peak resident
set size, read at its exit from ``VmHWM`` in ``/proc/self/status`` (Linux; elsewhere
``ru_maxrss``). ``VmHWM`` belongs to the process's own address space, so, unlike
``ru_maxrss``, it cannot inherit the peak of the process that spawned it.

    python -m bench.engine_vs_simpy [--orders N] [--repeats R] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The flow under test: defaults of engine.Config plus these (the "lossy network" mix).
LOSS = {
    "request-lost": 0.05,
    "crash-before-processing": 0.01,
    "crash-after-processing": 0.01,
    "reply-lost": 0.05,
}
AMOUNT = 100
SEED = 1
OTHER_SEED = 2  # the independent-seed statistical check

# Targets from issue 2, section 5.
TARGET_RATIO = 2.5
TARGET_1M_MB = 200.0
# "Trace memory flat": the peak RSS of the larger trace run may exceed the smaller one's
# by at most this much (allocator noise; a retained event dict costs ~0.5 KB, so keeping
# even one per order would show up as tens of MB).
TRACE_FLAT_MB = 4.0
# Diagnostic beside it: growth per extra traced event. Per-order columns cost a few bytes
# per event; a retained event (a dict) or message would cost hundreds.
TRACE_EVENT_BYTES = 32

FULL = {"orders": 200_000, "repeats": 3, "big": 1_000_000, "trace": (100_000, 400_000)}
QUICK = {"orders": 10_000, "repeats": 1, "big": 50_000, "trace": (5_000, 20_000)}


# --------------------------------------------------------------------------- the config
def credit_limit_for(orders: int) -> int:
    """Enough credit for half the orders: both the reserve and the refuse paths run."""
    return max(AMOUNT, orders * AMOUNT // 2)


def bench_config(orders: int, seed: int = SEED):
    from engine import Config

    return Config.from_dict({
        "seed": seed,
        "orders": orders,
        "amount": AMOUNT,
        "credit_limit": credit_limit_for(orders),
        "failures": {point: {"probability": p} for point, p in LOSS.items()},
    })


def cli_flags(orders: int, seed: int = SEED) -> list[str]:
    """``python -m engine`` flags giving exactly ``bench_config(orders, seed)``."""
    flags = ["--orders", str(orders), "--seed", str(seed), "--amount", str(AMOUNT),
             "--credit-limit", str(credit_limit_for(orders))]
    for point, p in LOSS.items():
        flags += ["--loss", f"{point}={p}"]
    return flags


INV32 = 1.0 / 4294967296.0  # a keyed draw (0..2^32-1) to [0, 1)


# --------------------------------------------------------------------------- SimPy model
class SimpyFlow:
    """The engine's order flow written the usual SimPy way.

    Processes per order: ``sender`` waits for ``reply | timeout``; ``conversation`` carries
    OrderCreated over the request leg, lets the receiver react and carries the reply back.
    A receiver crash interrupts the conversations it was processing (their work was only
    in memory) and a ``restart`` process brings it back after the downtime.
    """

    # Codes of the per-order columns (names come from engine.names when reported).
    NEW, APPROVED, CANCELLED = 0, 1, 2
    WAITING, SAW_REPLY, SAW_NO_REPLY = 0, 1, 2
    IN_FLIGHT, CONSISTENT, DIVERGED = 0, 1, 2
    NO_KIND, RESERVED_NOT_APPROVED, STUCK_NEW = 0, 1, 2
    CREDIT_RESERVED, INSUFFICIENT_CREDIT = 0, 1

    def __init__(self, config) -> None:
        import random
        from array import array

        import simpy

        self.simpy = simpy
        self.env = simpy.Environment()
        cfg = config
        self.orders_to_create = cfg.orders
        self.order_rate = 1.0 / cfg.order_interval
        self.request_latency = cfg.request_latency
        self.reply_latency = cfg.reply_latency
        self.processing_time = cfg.processing_time
        self.reply_timeout = cfg.reply_timeout
        self.restart_after = cfg.restart_after
        self.amount = cfg.amount
        self.credit_limit = cfg.credit_limit
        # The engine's arrival stream and its keyed draws: the same fates, order for order.
        from engine.simulation import keyed_draws

        self.rng_arrival = random.Random(f"{cfg.seed}/arrival")
        self.draws = keyed_draws(cfg.seed)
        self.p_request_lost = cfg.failures["request-lost"].probability
        self.p_crash_before = cfg.failures["crash-before-processing"].probability
        self.p_crash_after = cfg.failures["crash-after-processing"].probability
        self.p_reply_lost = cfg.failures["reply-lost"].probability
        for point, setting in cfg.failures.items():
            if setting.mode != "off":
                raise ValueError(f"the SimPy model runs probabilities only, not {point} mode")

        # Receiver (Customer service).
        self.receiver_up = True
        self.held = 0
        self.in_memory: dict = {}  # conversation process -> order, while being processed

        # Sender (Order service): per-order columns, index 0 unused.
        self.state = bytearray(1)
        self.saw = bytearray(1)
        self.verdict = bytearray(1)
        self.kind = bytearray(1)
        self.reserved = array("q", [0])
        self.approved_total = 0
        self.pending_reserved = 0
        self.invariant_ok = True

        self.messages_sent = 0
        self.messages_delivered = 0
        self.messages_lost = 0
        self.messages_forgotten = 0
        self.crashes = 0
        self.timeouts = 0
        self.replies_ignored = 0
        self.consistent = 0
        self.diverged = 0

    # ---- processes
    def run(self) -> None:
        self.env.process(self.arrivals())
        self.env.run()

    def arrivals(self):
        env = self.env
        draw = self.rng_arrival.expovariate
        rate = self.order_rate
        for _ in range(self.orders_to_create):
            yield env.timeout(draw(rate))
            env.process(self.sender(self.new_order()))

    def new_order(self) -> int:
        """The next order's columns (a subclass adds its own); returns its id."""
        order = len(self.state)
        self.state.append(self.NEW)
        self.saw.append(self.WAITING)
        self.verdict.append(self.IN_FLIGHT)
        self.kind.append(self.NO_KIND)
        self.reserved.append(0)
        return order

    def sender(self, order: int):
        env = self.env
        reply = env.event()
        env.process(self.conversation(order, reply))
        outcome = yield reply | env.timeout(self.reply_timeout)
        if reply in outcome:
            self.saw[order] = self.SAW_REPLY
            if reply.value == self.CREDIT_RESERVED:
                self.state[order] = self.APPROVED
                self.approved_total += self.amount
                self.pending_reserved -= self.amount
            else:
                self.state[order] = self.CANCELLED
            if self.verdict[order] == self.IN_FLIGHT:
                self.verdict[order] = self.CONSISTENT
                self.consistent += 1
        else:
            # At-most-once: no retry. The outcome is unknown and the order stays new.
            self.saw[order] = self.SAW_NO_REPLY
            self.timeouts += 1
            self.doom(order)

    def conversation(self, order: int, reply):
        draws = self.draws(order, 1)
        arrived = yield from self.travel(self.request_latency, self.p_request_lost, draws, 0)
        if not arrived:
            self.doom(order)
            return
        if not self.receiver_up:
            self.messages_lost += 1  # reached a receiver that is down
            self.doom(order)
            return
        self.messages_delivered += 1
        if self.fires(self.p_crash_before, draws[2]):
            self.messages_forgotten += 1
            self.crash()
            self.doom(order)
            return
        me = self.env.active_process
        self.in_memory[me] = order
        try:
            yield self.env.timeout(self.processing_time)
        except self.simpy.Interrupt:
            return  # the receiver crashed meanwhile: crash() forgot this work
        del self.in_memory[me]
        answer = self.react(order)
        if self.fires(self.p_crash_after, draws[3]):
            self.crash()
            self.doom(order)
            return
        arrived = yield from self.travel(self.reply_latency, self.p_reply_lost, draws, 4)
        if not arrived:
            self.doom(order)
            return
        self.messages_delivered += 1
        if self.saw[order] != self.WAITING:
            self.replies_ignored += 1  # the sender stopped waiting at its timeout
            return
        reply.succeed(answer)

    def travel(self, latency: tuple[float, float], loss: float, draws: tuple, at: int):
        """One message over one leg; returns whether it arrived. A loss strikes mid-leg.
        ``draws[at]``, ``draws[at + 1]``: its latency and loss; ``draws[7]``: where."""
        low, high = latency
        delay = low + (high - low) * draws[at] * INV32 if high > low else low
        self.messages_sent += 1
        if self.fires(loss, draws[at + 1]):
            yield self.env.timeout(delay * (0.25 + 0.5 * draws[7] * INV32))
            self.messages_lost += 1
            return False
        yield self.env.timeout(delay)
        return True

    def restart(self):
        yield self.env.timeout(self.restart_after)
        self.receiver_up = True

    # ---- the receiver's reaction and crash
    def react(self, order: int) -> int:
        amount = self.amount
        if self.credit_limit - self.held < amount:
            return self.INSUFFICIENT_CREDIT
        self.held += amount
        self.reserved[order] += amount
        verdict = self.verdict[order]
        if verdict == self.IN_FLIGHT:
            self.pending_reserved += amount
        elif verdict == self.DIVERGED:
            self.kind[order] = self.RESERVED_NOT_APPROVED
            self.check_invariant()
        return self.CREDIT_RESERVED

    def crash(self) -> None:
        self.crashes += 1
        self.receiver_up = False
        for process, order in self.in_memory.items():
            process.interrupt("receiver crashed")
            self.messages_forgotten += 1
            self.doom(order)
        self.in_memory.clear()
        self.env.process(self.restart())

    @staticmethod
    def fires(p: float, draw: int) -> bool:
        """Does a failure point with probability ``p`` strike this message (its keyed
        draw ``draw``, 0..2^32-1)?"""
        return draw < p * 4294967296.0

    # ---- judgement, as the engine keeps it
    def doom(self, order: int) -> None:
        if self.verdict[order] != self.IN_FLIGHT:
            return
        self.verdict[order] = self.DIVERGED
        self.diverged += 1
        reserved = self.reserved[order]
        self.kind[order] = self.RESERVED_NOT_APPROVED if reserved else self.STUCK_NEW
        if reserved:
            self.pending_reserved -= reserved
            self.check_invariant()

    def check_invariant(self) -> None:
        self.invariant_ok = self.held == self.approved_total + self.pending_reserved

    # ---- report
    def summary(self) -> dict:
        return {
            "orders": len(self.state) - 1,
            "messages_sent": self.messages_sent,
            "messages_delivered": self.messages_delivered,
            "messages_lost": self.messages_lost,
            "messages_forgotten": self.messages_forgotten,
            "diverged": self.diverged,
            "consistent": self.consistent,
            "receiver_crashes": self.crashes,
            "sender_timeouts": self.timeouts,
            "replies_ignored": self.replies_ignored,
        }

    def iter_outcomes(self):
        from engine import names as N

        states = (N.NEW, N.APPROVED, N.CANCELLED)
        saws = (N.WAITING, N.SAW_REPLY, N.SAW_NO_REPLY)
        kinds = (None, N.RESERVED_NOT_APPROVED, N.STUCK_NEW)
        for order in range(1, len(self.state)):
            yield (states[self.state[order]], self.reserved[order], saws[self.saw[order]],
                   self.verdict[order] == self.CONSISTENT, kinds[self.kind[order]])


def engine_outcomes(sim):
    for view in sim.iter_orders():
        yield (view["order_state"], view["credit_reserved"], view["sender_saw"],
               view["consistent"], view["divergence"])


def outcome_stats(outcomes) -> dict:
    """A digest of every order's outcome, in order, and the count of each outcome."""
    digest = hashlib.sha256()
    counts: Counter = Counter()
    for outcome in outcomes:
        digest.update(repr(outcome).encode())
        counts[(outcome[0], outcome[1] > 0, outcome[2], outcome[3], outcome[4])] += 1
    return {
        "sha256": digest.hexdigest(),
        "counts": sorted([list(key) + [n] for key, n in counts.items()], key=repr),
    }


# --------------------------------------------------------------------------- workers
def _peak_kb() -> tuple[int, str]:
    """This process's peak resident set size in KiB, and where it was read."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]), "VmHWM"
    except OSError:
        pass
    import resource

    scale = 1024 if sys.platform == "darwin" else 1  # macOS reports bytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // scale, "ru_maxrss"


def _worker(kind: str, orders: int, seed: int, outcomes: bool) -> dict:
    import gc

    config = bench_config(orders, seed)
    if kind == "simpy":
        import simpy  # noqa: F401  (imported before the baseline, like the engine)
    else:
        from engine import Simulation
    gc.collect()
    base_kb, _ = _peak_kb()
    start = time.perf_counter()
    if kind == "engine":
        sim = Simulation(config, trace=False)
        sim.run()
    else:
        sim = SimpyFlow(config)
        sim.run()
    elapsed = time.perf_counter() - start
    peak_kb, source = _peak_kb()
    result = {"kind": kind, "orders": orders, "seed": seed, "seconds": elapsed,
              "orders_per_s": orders / elapsed, "base_kb": base_kb, "peak_kb": peak_kb,
              "peak_source": source, "summary": sim.summary()}
    if outcomes:
        result["outcomes"] = outcome_stats(
            engine_outcomes(sim) if kind == "engine" else sim.iter_outcomes())
    return result


def run_worker(kind: str, orders: int, seed: int = SEED, outcomes: bool = False) -> dict:
    """One measurement in a fresh interpreter."""
    cmd = [sys.executable, "-m", "bench.engine_vs_simpy", "--worker", kind,
           "--orders", str(orders), "--seed", str(seed)]
    if outcomes:
        cmd.append("--outcomes")
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=_child_env())
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    env.pop("PYTHONTRACEMALLOC", None)
    return env


# `python -m engine ARGS` unchanged, plus a report of the process's peak RSS at exit
# (to stderr, after the engine's own output). Self-contained so it adds no imports.
_ENGINE_WITH_PEAK = r"""
import atexit, runpy, sys
def _peak():
    kb, src = None, "VmHWM"
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                kb = int(line.split()[1])
    except OSError:
        pass
    if kb is None:
        import resource
        kb, src = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"
    sys.stderr.write("\nBENCH-PEAK-KB %d %s\n" % (kb, src))
    sys.stderr.flush()
atexit.register(_peak)
sys.argv = ["engine"] + sys.argv[1:]
runpy.run_module("engine", run_name="__main__", alter_sys=True)
"""


def run_engine_cli(args: list[str]) -> dict:
    """``python -m engine ARGS`` with stdout piped to a consumer (us) that discards it."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", _ENGINE_WITH_PEAK, *args], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=err, env=_child_env())
        lines = 0
        size = 0
        fd = proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            lines += chunk.count(b"\n")
        proc.stdout.close()
        status = proc.wait()
        elapsed = time.perf_counter() - start
        err.seek(0)
        text = err.read().decode(errors="replace")
    if status != 0:
        raise RuntimeError(f"python -m engine {' '.join(args)} exited {status}:\n{text}")
    peak = [line.split() for line in text.splitlines() if line.startswith("BENCH-PEAK-KB")]
    return {"args": args, "seconds": elapsed, "lines": lines, "bytes": size,
            "peak_kb": int(peak[-1][1]), "peak_source": peak[-1][2]}


# --------------------------------------------------------------------------- the run
def _mb(kb: float) -> float:
    return kb / 1024.0


def _say(text: str = "") -> None:
    print(text, flush=True)


def measure(orders: int, repeats: int, big: int, trace_sizes: tuple[int, int],
            quick: bool) -> dict:
    import simpy

    _say(f"Engine vs SimPy {simpy.__version__}: {orders:,} orders, best of {repeats}"
         f"{' (quick smoke run: sizes too small to judge the targets)' if quick else ''}")
    _say("  flow: engine.Config defaults (latency U[0.8,1.2] both legs, processing 0.3,")
    _say("  reply timeout 4.0, restart after 2.0, order interval 0.5) plus "
         + ", ".join(f"{k} {v}" for k, v in LOSS.items()))
    _say(f"  amount {AMOUNT}, credit limit for half the orders; seed {SEED}")
    _say("  equivalent CLI: python -m engine " + " ".join(cli_flags(orders)))
    _say()

    runs: dict[str, list[dict]] = {"engine": [], "simpy": []}
    for repeat in range(repeats):
        for kind in ("engine", "simpy"):  # interleaved, so drift hits both alike
            result = run_worker(kind, orders, SEED, outcomes=repeat == 0)
            runs[kind].append(result)
            _say(f"  repeat {repeat + 1}/{repeats} {kind:6s} {result['seconds']:8.3f} s "
                 f"{result['orders_per_s']:12,.0f} orders/s  peak RSS "
                 f"{_mb(result['peak_kb']):6.1f} MB")
    best = {kind: min(rs, key=lambda r: r["seconds"]) for kind, rs in runs.items()}
    ratio = best["engine"]["orders_per_s"] / best["simpy"]["orders_per_s"]

    _say(f"  independent seed: SimPy with seed {OTHER_SEED} ...")
    other = run_worker("simpy", orders, OTHER_SEED, outcomes=False)

    _say(f"  engine report mode, {big:,} orders (Simulation.run, trace off) ...")
    big_run = run_worker("engine", big, SEED)
    _say(f"  python -m engine --orders {big:,} --json, report streamed to a pipe ...")
    big_cli = run_engine_cli(cli_flags(big) + ["--json"])

    trace_runs = []
    for n in trace_sizes:
        _say(f"  python -m engine --orders {n:,} --trace | discard ...")
        trace_runs.append(run_engine_cli(cli_flags(n) + ["--trace"]))

    return {"orders": orders, "repeats": repeats, "runs": runs, "best": best,
            "ratio": ratio, "other_seed": other, "big": big_run, "big_cli": big_cli,
            "trace": trace_runs, "trace_sizes": list(trace_sizes), "quick": quick}


def judge(data: dict) -> dict:
    best = data["best"]
    eng, spy = best["engine"], best["simpy"]
    first_e, first_s = data["runs"]["engine"][0], data["runs"]["simpy"][0]
    n = data["orders"]
    div_e = eng["summary"]["diverged"] / n
    div_s = spy["summary"]["diverged"] / n
    div_o = data["other_seed"]["summary"]["diverged"] / n
    same_outcomes = first_e["outcomes"]["sha256"] == first_s["outcomes"]["sha256"]
    same_summary = all(eng["summary"][k] == v for k, v in spy["summary"].items())
    small, large = data["trace"]
    growth_kb = large["peak_kb"] - small["peak_kb"]
    growth_mb = _mb(growth_kb)
    extra_orders = data["trace_sizes"][1] - data["trace_sizes"][0]
    extra_events = max(1, large["lines"] - small["lines"])
    per_order = growth_kb * 1024 / extra_orders
    per_event = growth_kb * 1024 / extra_events
    big_peak = max(data["big"]["peak_kb"], data["big_cli"]["peak_kb"])
    checks = [
        {"kind": "target", "name": f"engine >= {TARGET_RATIO:g}x SimPy orders/s",
         "ok": data["ratio"] >= TARGET_RATIO, "value": f"{data['ratio']:.2f}x"},
        {"kind": "target",
         "name": f"{data['big']['orders']:,} orders < {TARGET_1M_MB:.0f} MB peak RSS",
         "ok": _mb(big_peak) < TARGET_1M_MB, "value": f"{_mb(big_peak):.1f} MB"},
        {"kind": "target",
         "name": f"--trace | pipe: peak RSS flat in N (<= {TRACE_FLAT_MB:g} MB)",
         "ok": growth_mb <= TRACE_FLAT_MB, "value": f"{growth_mb:+.1f} MB"},
        {"kind": "diagnostic",
         "name": f"--trace | pipe: no per-event retention (< {TRACE_EVENT_BYTES} B/event)",
         "ok": per_event < TRACE_EVENT_BYTES, "value": f"{per_event:.1f} B/event"},
        {"kind": "sanity", "name": "diverged fraction, same seed, within 2 pp",
         "ok": abs(div_e - div_s) <= 0.02, "value": f"{(div_s - div_e) * 100:+.2f} pp"},
        {"kind": "sanity", "name": f"diverged fraction, SimPy seed {OTHER_SEED}, within 2 pp",
         "ok": abs(div_e - div_o) <= 0.02, "value": f"{(div_o - div_e) * 100:+.2f} pp"},
    ]
    return {"diverged_fraction": {"engine": div_e, "simpy": div_s, "simpy_other_seed": div_o},
            "identical_outcomes": same_outcomes, "identical_summary": same_summary,
            "trace_growth_mb": growth_mb, "trace_growth_bytes_per_order": per_order,
            "trace_growth_bytes_per_event": per_event, "big_peak_mb": _mb(big_peak),
            "checks": checks}


def print_report(data: dict, verdict: dict) -> None:
    best, n = data["best"], data["orders"]
    eng, spy = best["engine"], best["simpy"]
    w = 86
    _say()
    _say("=" * w)
    _say(f"Engine vs SimPy: {n:,} orders, best of {data['repeats']} (fresh process each)")
    _say("-" * w)
    _say(f"{'':34s}{'best s':>9s}{'orders/s':>12s}{'base MB':>10s}{'peak MB':>10s}")
    for label, r in (("engine Simulation.run (report)", eng), ("SimPy model", spy)):
        _say(f"{label:34s}{r['seconds']:9.3f}{r['orders_per_s']:12,.0f}"
             f"{_mb(r['base_kb']):10.1f}{_mb(r['peak_kb']):10.1f}")
    _say(f"{'ratio engine / SimPy':34s}{'':9s}{data['ratio']:11.2f}x")
    _say("  base MB = peak RSS after imports, before the run; peak MB = peak RSS at the")
    _say(f"  end of the run ({eng['peak_source']}).")
    _say("-" * w)
    div = verdict["diverged_fraction"]
    _say("Sanity: do both produce the same outcomes?")
    _say(f"  diverged fraction  engine {div['engine']:.3%}   SimPy {div['simpy']:.3%}   "
         f"SimPy seed {OTHER_SEED} {div['simpy_other_seed']:.3%}")
    _say(f"  same seed: per-order outcomes identical: "
         f"{'yes' if verdict['identical_outcomes'] else 'NO'}; summary counters identical: "
         f"{'yes' if verdict['identical_summary'] else 'NO'}")
    keys = ("messages_sent", "messages_lost", "messages_forgotten", "receiver_crashes",
            "sender_timeouts", "consistent", "diverged")
    _say("  engine: " + " ".join(f"{k}={eng['summary'][k]}" for k in keys[:4]))
    _say("          " + " ".join(f"{k}={eng['summary'][k]}" for k in keys[4:]))
    if not verdict["identical_summary"]:
        _say("  SimPy:  " + " ".join(f"{k}={spy['summary'][k]}" for k in keys[:4]))
        _say("          " + " ".join(f"{k}={spy['summary'][k]}" for k in keys[4:]))
    _say("-" * w)
    _say("Memory: peak RSS of the measured process")
    big, cli = data["big"], data["big_cli"]
    rows = [
        (f"engine {big['orders']:,} orders, Simulation.run, trace off", big["peak_kb"],
         f"{big['seconds']:.1f} s"),
        (f"python -m engine --orders {big['orders']} --json | discard", cli["peak_kb"],
         f"{cli['seconds']:.1f} s, {cli['bytes'] / 1e6:.0f} MB of JSON"),
    ]
    for size, r in zip(data["trace_sizes"], data["trace"]):
        rows.append((f"python -m engine --orders {size} --trace | discard", r["peak_kb"],
                     f"{r['seconds']:.1f} s, {r['lines']:,} events, "
                     f"{r['bytes'] / 1e6:.0f} MB"))
    for label, kb, note in rows:
        _say(f"  {label:56s}{_mb(kb):7.1f} MB  ({note})")
    sizes = data["trace_sizes"]
    _say(f"  trace peak RSS difference, {sizes[1]:,} vs {sizes[0]:,} orders: "
         f"{verdict['trace_growth_mb']:+.1f} MB = "
         f"{verdict['trace_growth_bytes_per_order']:+.1f} B per extra order, "
         f"{verdict['trace_growth_bytes_per_event']:+.1f} B per extra event")
    _say("=" * w)
    failed = [c for c in verdict["checks"] if not c["ok"]]
    for check in verdict["checks"]:
        mark = "PASS" if check["ok"] else "FAIL"
        loud = "" if check["ok"] else "   <<<<<<<< FAIL"
        _say(f"  {mark}  {check['kind']:10s} {check['name']:56s} {check['value']}{loud}")
    if failed:
        _say()
        _say("!" * w)
        for check in failed:
            _say(f"!!! FAIL ({check['kind']}): {check['name']}: {check['value']}")
        _say("!" * w)
    else:
        _say("  all targets met")
    if data.get("quick"):
        _say("  (quick run: sizes too small for the figures to mean anything)")
    _say("=" * w)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.engine_vs_simpy",
        description="Orders/s and peak memory of the engine vs an equivalent SimPy model.")
    parser.add_argument("--orders", type=int, default=None,
                        help=f"orders per timed run (default {FULL['orders']:,})")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed repeats, best kept (default {FULL['repeats']})")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes for a smoke run (figures not meaningful)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--worker", choices=("engine", "simpy"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=SEED, help=argparse.SUPPRESS)
    parser.add_argument("--outcomes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(_worker(args.worker, args.orders or FULL["orders"], args.seed,
                                 args.outcomes)))
        return 0

    sizes = QUICK if args.quick else FULL
    orders = args.orders or sizes["orders"]
    repeats = args.repeats or sizes["repeats"]
    if orders < 1 or repeats < 1:
        parser.error("--orders and --repeats must be at least 1")
    started = time.time()
    data = measure(orders, repeats, sizes["big"], sizes["trace"], args.quick)
    verdict = judge(data)
    print_report(data, verdict)
    _say(f"(benchmark took {time.time() - started:.0f} s)")
    if args.json:
        import simpy

        record = {
            "benchmark": "engine_vs_simpy",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(), "simpy": simpy.__version__},
            "command": "python -m bench.engine_vs_simpy " + " ".join(argv or sys.argv[1:]),
            "quick": args.quick, "loss": LOSS, "results": data, "verdict": verdict,
        }
        path = Path(args.json)
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n")
        _say(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
