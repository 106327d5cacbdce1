"""``python -m engine``: run the simulation headless and print a report or a trace."""

from __future__ import annotations

import argparse
import json
import re
import sys

from .config import MAX_AMOUNT, MAX_ATTEMPTS, MAX_ORDERS, MAX_SEED
from .errors import EngineError
from .names import CALL_MODES, FAILURE_POINTS, OUTBOXES, SEMANTICS
from .presets import PRESETS, preset_config, preset_script
from .runfile import MAX_FILE_BYTES, dump_run, load_run, read_run_text
from .simulation import Simulation

# Leg names accepted by --loss as short forms of the two network failure points.
_LOSS_ALIASES = {"request": "request-lost", "reply": "reply-lost"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2, no traceback
        self.exit(2, f"{self.prog}: error: {message}\n")


# Numbers on the command line are plain ASCII decimals: Python's int() and float() would
# also take " 5 ", "1_000", "+7" and other scripts' digits ("١٢٣"), which a user reading
# the help would not expect to work and a script should not come to rely on.
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")


def _int_in(low: int, high: int):
    def parse(text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an integer ({low}..{high}; digits 0-9 only)")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({low}..{high})")
        return value
    return parse


def _decimal(text: str) -> float:
    if not _DECIMAL.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number (like 0.5 or 2; digits 0-9, a point, an exponent)")
    return float(text)


def _point(text: str) -> str:
    if text not in FAILURE_POINTS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a failure point (one of {', '.join(FAILURE_POINTS)})")
    return text


def _call(text: str) -> str:
    if text not in CALL_MODES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a call mode (one of {', '.join(CALL_MODES)})")
    return text


def _choice(what: str, allowed: tuple[str, ...]):
    def parse(text: str) -> str:
        if text not in allowed:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {what} (one of {', '.join(allowed)})")
        return text
    return parse


def _case(text: str) -> tuple[str, ...]:
    if text in ("", "none"):
        return ()
    points = text.split(",")
    for point in points:
        if point not in FAILURE_POINTS:
            raise argparse.ArgumentTypeError(
                f"{point!r} is not a failure point (a comma-separated list of "
                f"{', '.join(FAILURE_POINTS)}, or none)")
    return tuple(p for p in FAILURE_POINTS if p in points)


def _loss(text: str) -> tuple[str, float]:
    allowed = ", ".join(list(_LOSS_ALIASES) + list(FAILURE_POINTS))
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not POINT=P (POINT: {allowed})")
    name, _, raw = text.partition("=")
    point = _LOSS_ALIASES.get(name, name)
    if point not in FAILURE_POINTS:
        raise argparse.ArgumentTypeError(f"{name!r} is not a leg or failure point ({allowed})")
    if not _DECIMAL.fullmatch(raw):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a probability (0..1)")
    probability = float(raw)
    if not 0.0 <= probability <= 1.0:
        raise argparse.ArgumentTypeError(f"{raw} is not a probability (0..1)")
    return point, probability


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m engine",
        description="Run the order/customer simulation headless: at-most-once by default, "
                    "or at-least-once or exactly-once (docs/semantics.md).")
    parser.add_argument("--scenario", default=None, choices=list(PRESETS),
                        help="a preset named for the seed's cases (default: happy-path, or "
                             "a plain run when --orders is given)")
    parser.add_argument("--fail", action="append", type=_point, default=[], metavar="POINT",
                        help="switch a failure point on for every message (repeatable): "
                             + ", ".join(FAILURE_POINTS))
    parser.add_argument("--next", action="append", type=_point, default=[], metavar="POINT",
                        help="arm a failure point for the next message it applies to only "
                             "(repeatable)")
    parser.add_argument("--loss", action="append", type=_loss, default=[], metavar="POINT=P",
                        help="probability that a failure point strikes a message, e.g. "
                             "request=0.1 reply=0.05 crash-after-processing=0.01")
    parser.add_argument("--orders", type=_int_in(0, MAX_ORDERS), default=None,
                        help="number of orders arriving over time")
    parser.add_argument("--order-interval", type=_decimal, default=None,
                        help="mean virtual seconds between order arrivals")
    parser.add_argument("--amount", type=_int_in(1, MAX_AMOUNT), default=None,
                        help="amount of each order")
    parser.add_argument("--credit-limit", type=_int_in(0, MAX_AMOUNT), default=None,
                        help="the customer's credit limit")
    parser.add_argument("--timeout", type=_decimal, default=None,
                        help="the sender's reply timeout, virtual seconds")
    parser.add_argument("--seed", type=_int_in(0, MAX_SEED), default=None)
    parser.add_argument("--call", type=_call, default=None, metavar="MODE",
                        help="how the Order service calls the Customer service: async "
                             "(default: send and go on) or sync (one call at a time, "
                             "blocking until its reply or its timeout; orders wait in a "
                             "queue)")
    parser.add_argument("--semantics", type=_choice("a delivery semantics", SEMANTICS),
                        default=None, metavar="SEMANTICS",
                        help="at-most-once (default: no retry), at-least-once (retries; "
                             "the receiver reacts to every copy) or exactly-once (retries; "
                             "the receiver deduplicates by order id)")
    parser.add_argument("--max-attempts", type=_int_in(1, MAX_ATTEMPTS), default=None,
                        metavar="N", help="attempts per order at most under a retrying "
                                          "semantics (default 5)")
    parser.add_argument("--outbox", type=_choice("an outbox", OUTBOXES), default=None,
                        metavar="OUTBOX",
                        help="where the sender keeps unanswered orders: memory (default: "
                             "lost in a sender-crash) or durable (kept)")
    parser.add_argument("--truth-table", action="store_true",
                        help="print the truth table: every combination of the failure "
                             "points for one order under each semantics (with --json: as "
                             "JSON; honours --outbox and --max-attempts)")
    parser.add_argument("--case", type=_case, default=None, metavar="POINTS",
                        help="play one case of the truth table: these failure points "
                             "(comma-separated, or none), each armed for the next message, "
                             "one order, the table's timing")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print a JSON report")
    out.add_argument("--trace", action="store_true",
                     help="print every event as a JSON line as it happens")
    parser.add_argument("--no-orders-list", action="store_true",
                        help="leave the per-order list out of the --json report")
    parser.add_argument("--export", metavar="FILE", default=None,
                        help="also save the run (config and command log) to FILE as a run "
                             "file (docs/runfile.md); - for standard output")
    parser.add_argument("--replay", metavar="FILE", default=None,
                        help="replay a run file (from --export or the page's Export run) "
                             "and print the same report as the original run")
    parser.add_argument("--until", metavar="SEQ", type=_int_in(0, 2**63 - 1), default=None,
                        help="with --replay: stop at event SEQ (after the step that makes it)")
    return parser


_RUN_FLAGS = ("scenario", "fail", "next", "loss", "orders", "order_interval", "amount",
              "credit_limit", "timeout", "seed", "call", "semantics", "max_attempts",
              "outbox", "case", "truth_table")


def _given(value: object) -> bool:
    """Was a flag given? (None, an empty list or a False switch: not given; 0 is given.)"""
    return value is not None and value is not False and value != []


def replay_run(args: argparse.Namespace, parser: argparse.ArgumentParser
               ) -> tuple[Simulation, list[dict]]:
    """The run of a run file, replayed (to event ``--until`` if given)."""
    given = [name for name in _RUN_FLAGS if _given(getattr(args, name))]
    if given:
        parser.error(f"argument --replay: not allowed with --{given[0].replace('_', '-')} "
                     "(the run file holds the whole run)")
    try:
        with open(args.replay, "rb") as handle:
            text = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        parser.error(f"argument --replay: cannot read {args.replay!r}: {error.strerror}")
    config, commands, _scenario = load_run(read_run_text(text))
    return Simulation.replay(config, commands, trace=args.trace, until_seq=args.until)


def make_run(args: argparse.Namespace) -> tuple[Simulation, list]:
    scenario = args.scenario or ("happy-path" if args.orders is None else None)
    overrides: dict = {}
    if args.orders is not None:
        overrides["orders"] = args.orders
    for key in ("order_interval", "amount", "credit_limit", "seed", "call", "semantics",
                "max_attempts", "outbox"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    if args.timeout is not None:
        overrides["reply_timeout"] = args.timeout
    failures: dict = {}
    for point, probability in args.loss:
        failures[point] = {"probability": probability}
    for point in args.next:
        failures.setdefault(point, {})["mode"] = "next"
    for point in args.fail:
        failures.setdefault(point, {})["mode"] = "on"
    if failures:
        overrides["failures"] = failures
    if args.case is not None:
        from .truth import CASE_COMMANDS, CASE_CONFIG

        cased = {**CASE_CONFIG, **overrides}
        cased["failures"] = {**{p: {"mode": "next"} for p in args.case},
                             **overrides.get("failures", {})}
        from .config import Config
        config = Config.from_dict(cased)
        return (Simulation(config, trace=args.trace, keep_orders=not args.trace),
                [(0.0, dict(c)) for c in CASE_COMMANDS])
    if scenario is None:
        from .config import Config
        config = Config.from_dict(overrides)
        script: list = []
    else:
        config = preset_config(scenario, overrides)
        script = preset_script(scenario) if args.orders is None else []
    # A streamed trace keeps nothing per finished order: memory stays flat however long.
    return Simulation(config, trace=args.trace, keep_orders=not args.trace), script


def _write_report(sim: Simulation, include_orders: bool, out) -> None:
    """Write the report, streaming the orders list so a large run needs no big string."""
    report = sim.report(include_orders=False)
    body = json.dumps(report, indent=2)
    if not include_orders:
        out.write(body + "\n")
        return
    out.write(body[:-2] + ',\n  "orders": [')
    first = True
    for order in sim.iter_orders():
        out.write(("\n    " if first else ",\n    ") + json.dumps(order))
        first = False
    out.write("\n  ]\n}\n")


def _write_text(sim: Simulation, out) -> None:
    s = sim.summary()
    cfg = sim.config
    policy = cfg.semantics + ("" if cfg.semantics == "at-most-once"
                              else f", at most {cfg.max_attempts} attempts")
    out.write(f"{policy} run (seed {cfg.seed}), t = {sim.now:.3f} s virtual\n")
    out.write(f"  orders: {s['orders']}  consistent: {s['consistent']}  "
              f"diverged: {s['diverged']}\n")
    if cfg.semantics != "at-most-once" or s["sender_crashes"]:
        out.write(f"  retries: {s['retries']}  duplicates delivered: "
                  f"{s['duplicates_delivered']}  suppressed: {s['duplicates_suppressed']}  "
                  f"orders reserved twice or more: {s['double_reserved']}\n")
        out.write(f"  sender crashes: {s['sender_crashes']} ({cfg.outbox} outbox; "
                  f"entries lost: {s['outbox_lost']})\n")
    out.write(f"  messages sent: {s['messages_sent']}  delivered: {s['messages_delivered']}  "
              f"lost: {s['messages_lost']}  forgotten in crashes: {s['messages_forgotten']}\n")
    inv = sim.invariant()
    out.write(f"  credit held by the Customer service: {inv['reserved']}; "
              f"credit of approved orders: {inv['approved_total']}"
              f"{'' if inv['ok'] else '  <-- the states have parted'}\n")
    if sim.config.samples:
        m = sim.metrics()
        out.write(f"  metrics: {m['seen_count']}/{m['true_count']} samples seen, "
                  f"mean {m['seen_mean']} vs true {m['true_mean']} (drift {m['drift']:.4%})\n")
    shown = 0
    for order in sim.iter_orders():
        if shown == 20:
            out.write("  ... (use --json for every order)\n")
            break
        shown += 1
        verdict = order["divergence"] or order["judgement"]
        tries = f", {order['attempts']} attempts" if order["attempts"] > 1 else ""
        out.write(f"  order {order['id']}: {order['order_state']}, credit reserved "
                  f"{order['credit_reserved']}, sender saw {order['sender_saw']}{tries}: "
                  f"{verdict}\n")


def _export(sim: Simulation, args: argparse.Namespace, parser) -> None:
    scenario = args.scenario or ("happy-path" if args.orders is None and not args.replay
                                 else None)
    text = json.dumps(dump_run(sim.config, sim.command_log, scenario), indent=1) + "\n"
    if args.export == "-":
        sys.stdout.write(text)
        return
    try:
        with open(args.export, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        parser.exit(2, f"{parser.prog}: error: argument --export: cannot write "
                       f"{args.export!r}: {error.strerror}\n")


# Column heads of the text truth table.
_SHORT = {"request-lost": "req", "crash-before-processing": "cb",
          "crash-after-processing": "ca", "reply-lost": "rep", "sender-crash": "snd"}


def _truth_table(args: argparse.Namespace, parser, out) -> None:
    """``--truth-table``: the table as text, or as JSON with --json."""
    from .names import AT_MOST_ONCE, MEMORY
    from .truth import CASE_CONFIG, OUTCOME_TEXT, truth_table

    given = [name for name in _RUN_FLAGS
             if name not in ("outbox", "max_attempts", "truth_table")
             and _given(getattr(args, name))]
    if given or args.trace or args.export or args.replay:
        flag = given[0] if given else ("trace" if args.trace else
                                       "export" if args.export else "replay")
        parser.error(f"argument --truth-table: not allowed with --{flag.replace('_', '-')} "
                     "(the table sets its own runs)")
    outbox = args.outbox or MEMORY
    attempts = args.max_attempts or 5
    rows = truth_table(outbox, attempts)
    if args.json:
        out.write(json.dumps({"outbox": outbox, "max_attempts": attempts,
                              "config": CASE_CONFIG, "outcomes": OUTCOME_TEXT,
                              "rows": rows}, indent=1) + "\n")
        return
    semantics = list(rows[0]["cells"])
    out.write(f"Truth table: one order, each failure point in a case strikes once (the first "
              f"message it applies to);\n{outbox} outbox, at most {attempts} attempts under a "
              f"retrying semantics. ({AT_MOST_ONCE}: no retry)\n\n")
    # One narrow column per failure point (x: on in this case), then one per semantics.
    points = list(FAILURE_POINTS)
    short = {p: _SHORT.get(p, p[:4]) for p in points}
    out.write("  " + " ".join(f"{short[p]:>4s}" for p in points) + "   "
              + "".join(f"{s:24s}" for s in semantics).rstrip() + "\n")
    for row in rows:
        marks = " ".join(f"{'x' if p in row['failures'] else '.':>4s}" for p in points)
        out.write(f"  {marks}   " + "".join(
            f"{row['cells'][s]['outcome']:24s}" for s in semantics).rstrip() + "\n")
    out.write("  columns: " + ", ".join(f"{short[p]} = {p}" for p in points) + "\n")
    out.write("\n")
    for name, text in OUTCOME_TEXT.items():
        out.write(f"  {name}: {text}\n")
    out.write("  Play a case: python -m engine --case POINTS --semantics S --trace "
              "(--json for every cell's story)\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.until is not None and args.replay is None:
        parser.error("argument --until: only with --replay")
    if args.case is not None and (args.scenario or args.orders is not None):
        parser.error("argument --case: not allowed with --"
                     + ("scenario" if args.scenario else "orders")
                     + " (a case is one order on the truth table's timing)")
    if args.truth_table:
        try:
            _truth_table(args, parser, sys.stdout)
        except BrokenPipeError:
            sys.stderr.close()
        return 0
    try:
        out = sys.stdout
        if args.trace:
            def sink(event: dict) -> None:
                out.write(json.dumps(event) + "\n")
        else:
            sink = None
        if args.replay is not None:
            sim, events = replay_run(args, parser)
            for event in events if sink else ():
                sink(event)
        else:
            sim, script = make_run(args)
            sim.run_script(script, sink)
        if args.export is not None:
            _export(sim, args, parser)
        if args.json:
            _write_report(sim, not args.no_orders_list, out)
        elif not args.trace:
            _write_text(sim, out)
        out.flush()
    except EngineError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    return 0
