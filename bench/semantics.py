"""Delivery semantics vs SimPy (issue 12): the engine's orders/s under each semantics beside a
SimPy model of the same flow, retries included, measured in one run.

The flow is bench/engine_vs_simpy.py's (the lossy mix: request-lost 0.05, crash before
and after processing 0.01 each, reply-lost 0.05; credit for half the orders; seed 1) with
``semantics`` set: at-most-once (``SimpyFlow``, the peer of ``python -m bench engine``),
at-least-once and exactly-once (``SimpyRetryFlow`` below: the sender retries after its
reply timeout and a backoff, up to ``max_attempts``, accepting a reply to any attempt; the
receiver reacts to every copy, or answers a copy from its idempotency record). Both
models draw from the same keyed draws, so with the same seed their per-order outcomes
should be identical; a digest of every order's outcome is compared.

Every measurement runs in a fresh interpreter, engine and SimPy interleaved; the best of
``--repeats`` is kept.

    python -m bench.semantics [--orders N] [--repeats R] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.engine_vs_simpy import (
    INV32,
    SimpyFlow,
    _child_env,
    bench_config,
    engine_outcomes,
    outcome_stats,
)

ROOT = Path(__file__).resolve().parent.parent
SEMANTICS = ("at-most-once", "at-least-once", "exactly-once")
TARGET_RATIO = 2.5
FULL = {"orders": 100_000, "repeats": 3}
QUICK = {"orders": 10_000, "repeats": 1}


def semantics_config(orders: int, semantics: str, seed: int = 1):
    from engine import Config

    return Config.from_dict(bench_config(orders, seed).to_dict(), semantics=semantics)


class SimpyRetryFlow(SimpyFlow):
    """``SimpyFlow`` with retries: one ``sender`` process per order waits for a reply to
    any of its attempts (``reply | timeout``), retries after a backoff, and gives up after
    its last attempt; each attempt is a ``conversation`` process. The receiver keeps an
    idempotency record per order (exactly-once answers a copy from it; at-least-once,
    not idempotent, reacts again). Judgement as the engine keeps it under a retrying
    semantics: an order diverges when the sender gives up, when its credit is reserved a
    second time (double-reserved) or when it is cancelled with credit reserved."""

    DOUBLE_RESERVED = 3
    RANK = (0, 2, 1, 3)  # none, reserved-not-approved, stuck-new, double-reserved

    def __init__(self, config) -> None:
        from engine.config import backoff

        super().__init__(config)
        self.backoff = backoff
        self.max_attempts = config.attempts()
        self.dedup = config.semantics == "exactly-once"
        self.record = bytearray(1)
        self.retries = 0
        self.duplicates_delivered = 0
        self.duplicates_suppressed = 0
        self.double_reserved = 0

    def new_order(self) -> int:
        self.record.append(0)  # the receiver's idempotency record of the order
        return super().new_order()

    def sender(self, order: int):
        env = self.env
        reply = env.event()
        attempt = 1
        while True:
            env.process(self.conversation(order, reply, attempt))
            outcome = yield reply | env.timeout(self.reply_timeout)
            if reply not in outcome and attempt < self.max_attempts:
                outcome = yield reply | env.timeout(self.backoff(self.reply_timeout, attempt))
            if reply in outcome:
                self.answered(order, reply.value)
                return
            if attempt == self.max_attempts:
                break
            attempt += 1
            self.retries += 1
        # Gave up: the outcome is unknown and the order stays new.
        self.saw[order] = self.SAW_NO_REPLY
        self.timeouts += 1
        if self.verdict[order] == self.IN_FLIGHT:
            self.doom(order)

    def answered(self, order: int, answer: int) -> None:
        self.saw[order] = self.SAW_REPLY
        verdict = self.verdict[order]
        if answer == self.CREDIT_RESERVED:
            self.state[order] = self.APPROVED
            self.approved_total += self.amount
            if verdict == self.IN_FLIGHT:
                self.pending_reserved -= self.amount
        else:
            self.state[order] = self.CANCELLED
        if verdict == self.IN_FLIGHT:
            if answer == self.INSUFFICIENT_CREDIT and self.reserved[order]:
                self.doom(order)
            else:
                self.verdict[order] = self.CONSISTENT
                self.consistent += 1
        elif answer == self.CREDIT_RESERVED:
            self.check_invariant()

    def conversation(self, order: int, reply, attempt: int = 1):
        draws = self.draws(order, attempt)
        arrived = yield from self.travel(self.request_latency, self.p_request_lost, draws, 0)
        if not arrived:
            return
        if not self.receiver_up:
            self.messages_lost += 1
            return
        self.messages_delivered += 1
        if self.fires(self.p_crash_before, draws[2]):
            self.messages_forgotten += 1
            self.crash()
            return
        me = self.env.active_process
        self.in_memory[me] = order
        try:
            yield self.env.timeout(self.processing_time)
        except self.simpy.Interrupt:
            return
        del self.in_memory[me]
        record = self.record[order]
        if record and self.dedup:
            answer = record - 1
            self.duplicates_suppressed += 1
        else:
            if record:
                self.duplicates_delivered += 1
            answer = self.react(order)
            if not record:
                self.record[order] = answer + 1
        if self.fires(self.p_crash_after, draws[3]):
            self.crash()
            return
        arrived = yield from self.travel(self.reply_latency, self.p_reply_lost, draws, 4)
        if not arrived:
            return
        self.messages_delivered += 1
        if self.saw[order] != self.WAITING or reply.triggered:
            self.replies_ignored += 1
            return
        reply.succeed(answer)

    def react(self, order: int) -> int:
        amount = self.amount
        if self.credit_limit - self.held < amount:
            return self.INSUFFICIENT_CREDIT
        self.held += amount
        reserved = self.reserved[order] + amount
        self.reserved[order] = reserved
        verdict = self.verdict[order]
        if verdict == self.IN_FLIGHT:
            self.pending_reserved += amount
        if reserved > amount:
            if reserved == 2 * amount:
                self.double_reserved += 1
            self.doom(order, self.DOUBLE_RESERVED)
        elif verdict == self.DIVERGED:
            self.set_kind(order, self.RESERVED_NOT_APPROVED)
            self.check_invariant()
        elif verdict == self.CONSISTENT:
            self.doom(order, self.RESERVED_NOT_APPROVED)
        return self.CREDIT_RESERVED

    def crash(self) -> None:
        # Under a retrying semantics a crash dooms nobody: the sender may retry.
        self.crashes += 1
        self.receiver_up = False
        for process in self.in_memory:
            process.interrupt("receiver crashed")
            self.messages_forgotten += 1
        self.in_memory.clear()
        self.env.process(self.restart())

    def set_kind(self, order: int, kind: int) -> None:
        if self.RANK[kind] > self.RANK[self.kind[order]]:
            self.kind[order] = kind

    def doom(self, order: int, kind: int | None = None) -> None:
        verdict = self.verdict[order]
        if verdict == self.DIVERGED:
            if kind is not None:
                self.set_kind(order, kind)
                self.check_invariant()
            return
        reserved = self.reserved[order]
        if verdict == self.IN_FLIGHT:
            self.pending_reserved -= reserved
        else:
            self.consistent -= 1
        self.verdict[order] = self.DIVERGED
        self.diverged += 1
        self.set_kind(order, kind if kind is not None else
                      self.RESERVED_NOT_APPROVED if reserved else self.STUCK_NEW)
        if reserved:
            self.check_invariant()

    def summary(self) -> dict:
        return {**super().summary(), "retries": self.retries,
                "duplicates_delivered": self.duplicates_delivered,
                "duplicates_suppressed": self.duplicates_suppressed,
                "double_reserved": self.double_reserved}

    def iter_outcomes(self):
        from engine import names as N

        states = (N.NEW, N.APPROVED, N.CANCELLED)
        saws = (N.WAITING, N.SAW_REPLY, N.SAW_NO_REPLY)
        kinds = (None, N.RESERVED_NOT_APPROVED, N.STUCK_NEW, N.DOUBLE_RESERVED)
        for order in range(1, len(self.state)):
            yield (states[self.state[order]], self.reserved[order], saws[self.saw[order]],
                   self.verdict[order] == self.CONSISTENT, kinds[self.kind[order]])


assert INV32  # the models share engine_vs_simpy's keyed-draw scale


# --------------------------------------------------------------------------- workers
def _worker(kind: str, semantics: str, orders: int, outcomes: bool) -> dict:
    import gc

    config = semantics_config(orders, semantics)
    if kind == "simpy":
        import simpy  # noqa: F401  (imported before the clock starts, like the engine)
    from engine import Simulation
    gc.collect()
    start = time.perf_counter()
    if kind == "engine":
        sim = Simulation(config, trace=False)
        sim.run()
    else:
        sim = (SimpyFlow if semantics == "at-most-once" else SimpyRetryFlow)(config)
        sim.run()
    elapsed = time.perf_counter() - start
    summary = sim.summary()
    result = {"kind": kind, "semantics": semantics, "orders": orders, "seconds": elapsed,
              "orders_per_s": orders / elapsed, "summary": summary}
    if outcomes:
        result["outcomes"] = outcome_stats(
            engine_outcomes(sim) if kind == "engine" else sim.iter_outcomes())
    return result


def run_worker(kind: str, semantics: str, orders: int, outcomes: bool) -> dict:
    cmd = [sys.executable, "-m", "bench.semantics", "--worker", kind, "--semantics",
           semantics, "--orders", str(orders)] + (["--outcomes"] if outcomes else [])
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=_child_env())
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {semantics} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _say(text: str = "") -> None:
    print(text, flush=True)


def measure(orders: int, repeats: int) -> dict:
    results = {}
    for semantics in SEMANTICS:
        runs: dict[str, list[dict]] = {"engine": [], "simpy": []}
        for repeat in range(repeats):
            for kind in ("engine", "simpy"):
                result = run_worker(kind, semantics, orders, outcomes=repeat == 0)
                runs[kind].append(result)
                _say(f"  {semantics:14s} repeat {repeat + 1}/{repeats} {kind:6s} "
                     f"{result['seconds']:7.3f} s {result['orders_per_s']:10,.0f} orders/s")
        best = {kind: min(rs, key=lambda r: r["seconds"]) for kind, rs in runs.items()}
        first = {kind: rs[0] for kind, rs in runs.items()}
        results[semantics] = {
            "best": best,
            "ratio": best["engine"]["orders_per_s"] / best["simpy"]["orders_per_s"],
            "identical_outcomes": first["engine"]["outcomes"]["sha256"]
            == first["simpy"]["outcomes"]["sha256"],
            "identical_summary": all(best["engine"]["summary"][k] == v
                                     for k, v in best["simpy"]["summary"].items()),
        }
    return {"orders": orders, "repeats": repeats, "semantics": results}


def print_report(data: dict, quick: bool) -> list[dict]:
    w = 86
    _say()
    _say("=" * w)
    _say(f"Delivery semantics vs SimPy: {data['orders']:,} orders, best of {data['repeats']} "
         "(fresh process each)")
    _say("-" * w)
    _say(f"{'semantics':16s}{'engine/s':>11s}{'SimPy/s':>11s}{'ratio':>8s}  {'same outcomes':14s}"
         f"{'retries':>9s}{'dup.':>7s}{'double':>8s}{'diverged':>10s}")
    checks = []
    for semantics, r in data["semantics"].items():
        eng, spy = r["best"]["engine"], r["best"]["simpy"]
        s = eng["summary"]
        dups = s["duplicates_delivered"] + s["duplicates_suppressed"]
        same = "yes" if r["identical_outcomes"] and r["identical_summary"] else "NO"
        _say(f"{semantics:16s}{eng['orders_per_s']:11,.0f}{spy['orders_per_s']:11,.0f}"
             f"{r['ratio']:7.2f}x  {same:14s}{s['retries']:9,d}{dups:7,d}"
             f"{s['double_reserved']:8,d}{s['diverged']:10,d}")
        checks.append({"kind": "target", "name": f"{semantics}: engine >= {TARGET_RATIO:g}x "
                       "SimPy orders/s", "ok": r["ratio"] >= TARGET_RATIO,
                       "value": f"{r['ratio']:.2f}x"})
        checks.append({"kind": "sanity", "name": f"{semantics}: same outcomes order for order",
                       "ok": r["identical_outcomes"] and r["identical_summary"],
                       "value": same})
    _say("=" * w)
    for check in checks:
        mark = "PASS" if check["ok"] else "FAIL"
        loud = "" if check["ok"] else "   <<<<<<<< FAIL"
        _say(f"  {mark}  {check['kind']:8s} {check['name']:54s} {check['value']}{loud}")
    if all(c["ok"] for c in checks):
        _say("  all targets met")
    if quick:
        _say("  (quick run: sizes too small for the figures to mean anything)")
    _say("=" * w)
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.semantics",
        description="Orders/s of the engine under each delivery semantics vs a SimPy model "
                    "of the same (retrying) flow.")
    parser.add_argument("--orders", type=int, default=None,
                        help=f"orders per timed run (default {FULL['orders']:,})")
    parser.add_argument("--repeats", type=int, default=None,
                        help=f"timed repeats, best kept (default {FULL['repeats']})")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--worker", choices=("engine", "simpy"), help=argparse.SUPPRESS)
    parser.add_argument("--semantics", choices=SEMANTICS, default="at-most-once",
                        help=argparse.SUPPRESS)
    parser.add_argument("--outcomes", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.semantics, args.orders or FULL["orders"],
                                 args.outcomes)))
        return 0
    sizes = QUICK if args.quick else FULL
    orders = args.orders or sizes["orders"]
    repeats = args.repeats or sizes["repeats"]
    if orders < 1 or repeats < 1:
        parser.error("--orders and --repeats must be at least 1")
    import simpy

    started = time.time()
    _say(f"Delivery semantics vs SimPy {simpy.__version__}: {orders:,} orders, best of "
         f"{repeats}; the engine_vs_simpy flow (lossy mix, credit for half the orders, "
         "seed 1)")
    _say("  equivalent CLI: python -m engine --semantics S " + " ".join(
        ["--orders", str(orders), "--amount", "100", "--credit-limit", str(orders * 50),
         "--loss", "request-lost=0.05", "--loss", "crash-before-processing=0.01",
         "--loss", "crash-after-processing=0.01", "--loss", "reply-lost=0.05"]))
    data = measure(orders, repeats)
    checks = print_report(data, args.quick)
    _say(f"(benchmark took {time.time() - started:.0f} s)")
    if args.json:
        record = {"benchmark": "semantics",
                  "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                  "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                              "python": platform.python_version(),
                              "simpy": simpy.__version__},
                  "command": "python -m bench.semantics " + " ".join(argv or sys.argv[1:]),
                  "results": data, "checks": checks}
        path = Path(args.json)
        if path.parent != Path(""):
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n")
        _say(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
