"""The three delivery semantics side by side (issue 12): ``GET /api/compare`` and
``GET /api/truth-table`` (docs/protocol.md, "Comparing the semantics").

``/api/compare`` plays one setup under at-most-once, at-least-once and exactly-once, to rest,
and answers each lane's events (compact) and the engine's summary. The setup is the page's
own: a scenario (a preset) with a seed, ``orders`` for its order stream, a setting per
failure point (``request-lost=30%``, ``reply-lost=next``: the bookmark's words), and the
retrying semantics' ``max_attempts`` and ``outbox``; or a truth-table case
(``case=request-lost,reply-lost``: one order on the table's timing, engine/truth.py). The
keyed draws give every lane the same failure schedule: the first attempt of each order
meets the same fate in the three lanes.

Bounded: at most ``MAX_ORDERS`` orders and ``MAX_EVENTS`` events per lane (a run that makes
more is refused, naming ``orders``). Answers are cached by their arguments, like the sweep.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable

from engine import ConfigError, Simulation, preset_config, preset_names, preset_script
from engine import names as N
from engine.config import MAX_ATTEMPTS
from engine.truth import (
    CASE_COMMANDS,
    OUTCOMES,
    case_config,
    check_case,
    outcome_of,
    truth_table,
)

MAX_ORDERS = 200  # orders per lane (the stream's and the scenario's script's together)
MAX_EVENTS = 50_000  # events per lane
MAX_SEED = 2**53 - 1  # what a page's number keeps exactly
DEFAULT_SCENARIO = "happy-path"
RUN_PARAMS = ("scenario", "seed", "orders")
PARAMS = ("scenario", "seed", "orders", "max_attempts", "outbox", "case", *N.FAILURE_POINTS)
TRUTH_PARAMS = ("outbox", "max_attempts")
PERCENT = re.compile(r"(?:[0-9]{1,3}(?:\.[0-9]{0,6})?|\.[0-9]{1,6})%?")
DIGITS = re.compile(r"[0-9]{1,16}")
# Fields a lane's view does not need: the order-diverged sentence, customer totals, the
# invariant's sums and metric sample fields (the summary has what counts).
DROPPED = frozenset(("credit_limit", "available", "unbacked", "approved_total", "pending",
                     "why", "true_count", "true_mean", "seen_count", "seen_mean", "drift",
                     "value", "sent_at", "diverged_at_seq"))


def _integer(name: str, text: str, low: int, high: int) -> int:
    allowed = f"an integer from {low} to {high}"
    if DIGITS.fullmatch(text) is None:
        raise ConfigError(name, text, allowed)
    value = int(text)
    if not low <= value <= high:
        raise ConfigError(name, text, allowed)
    return value


def _failure(name: str, text: str) -> dict:
    """A failure point's setting as a bookmark says it: off, next, on, or a probability
    (0.3 or 30%)."""
    value = text.strip().lower()
    if value in N.MODES:
        return {"mode": value}
    allowed = "off, next, on, or a probability from 0 to 1 (0.3 or 30%)"
    if PERCENT.fullmatch(value) is None:
        raise ConfigError(name, text, allowed)
    probability = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    if not 0.0 <= probability <= 1.0:
        raise ConfigError(name, text, allowed)
    return {"mode": "off", "probability": probability}


def _choice(name: str, text: str, allowed: tuple[str, ...]) -> str:
    if text not in allowed:
        raise ConfigError(name, text, "one of " + ", ".join(allowed))
    return text


def compare_args(query) -> tuple:
    """The query of GET /api/compare, validated (a ConfigError names the parameter): a
    hashable key ``(case, scenario, seed, orders, failures, max_attempts, outbox)``, with
    ``case`` None for a scenario's run and ``failures`` a sorted tuple of (point, setting)."""
    for name in query:
        if name not in PARAMS:
            raise ConfigError(name[:40], query.get(name), "one of " + ", ".join(PARAMS))
        if len(query.getlist(name)) > 1:
            raise ConfigError(name, query.getlist(name)[:3], "one value")
    outbox = _choice("outbox", query.get("outbox", N.MEMORY), N.OUTBOXES)
    max_attempts = _integer("max_attempts", query.get("max_attempts", "5"), 1, MAX_ATTEMPTS)
    failures = tuple((point, tuple(sorted(_failure(point, query[point]).items())))
                     for point in N.FAILURE_POINTS if point in query)
    if "case" in query:
        for name in (*RUN_PARAMS, *N.FAILURE_POINTS):
            if name in query:
                raise ConfigError(name, query[name], "nothing with case (a truth-table case "
                                  "is one order on the table's own timing and failures)")
        return (check_case(query["case"]), None, None, None, (), max_attempts, outbox)
    scenario = _choice("scenario", query.get("scenario", DEFAULT_SCENARIO),
                       tuple(preset_names()))
    seed = _integer("seed", query.get("seed", "1"), 0, MAX_SEED)
    scripted = sum(1 for _, cmd in preset_script(scenario) if cmd["cmd"] == "create-order")
    orders = preset_config(scenario).orders if "orders" not in query else \
        _integer("orders", query["orders"], 0, MAX_ORDERS - scripted)
    if orders + scripted > MAX_ORDERS:
        raise ConfigError("orders", orders, f"an integer from 0 to {MAX_ORDERS - scripted}")
    return (None, scenario, seed, orders, failures, max_attempts, outbox)


def _compact(event: dict) -> dict:
    out = {}
    for key, value in event.items():
        if key in DROPPED or (key == "reason" and event["type"] == "order-diverged"):
            continue
        out[key] = round(value, 6) if isinstance(value, float) else value
    return out


class TooManyEvents(Exception):
    pass


def play_lane(args: tuple, semantics: str) -> dict:
    """One lane: the setup under ``semantics``, played to rest."""
    case, scenario, seed, orders, failures, max_attempts, outbox = args
    if case is not None:
        config = case_config(case, semantics, outbox, max_attempts)
        script = [(0.0, dict(c)) for c in CASE_COMMANDS]
    else:
        config = preset_config(scenario, {
            "seed": seed, "orders": orders, "samples": 0, "semantics": semantics,
            "max_attempts": max_attempts, "outbox": outbox,
            "failures": {point: dict(setting) for point, setting in failures}})
        script = preset_script(scenario)
    sim = Simulation(config)
    events: list[dict] = []

    def sink(event: dict) -> None:
        if len(events) >= MAX_EVENTS:
            raise TooManyEvents
        events.append(_compact(event))

    try:
        sim.run_script(script, sink=sink)
    except TooManyEvents:
        raise ConfigError("orders", orders, f"fewer orders (or attempts): a lane may make at "
                          f"most {MAX_EVENTS} events") from None
    outcomes = dict.fromkeys((*OUTCOMES, "in-flight"), 0)
    for order in sim.iter_orders():
        outcomes[outcome_of(order)] += 1
    return {"semantics": semantics, "events": events, "end": sim.now,
            "summary": {**sim.summary(), "outcomes": outcomes}}


def compare(args: tuple, pause: Callable[[float], object] = lambda s: None) -> dict:
    case, scenario, seed, orders, failures, max_attempts, outbox = args
    lanes = []
    for semantics in N.SEMANTICS:
        lanes.append(play_lane(args, semantics))
        pause(0)
    setup = {"case": (",".join(case) or "none") if case is not None else None, "scenario": scenario,
             "seed": seed, "orders": orders, "failures": {p: dict(s) for p, s in failures},
             "max_attempts": max_attempts, "outbox": outbox}
    return {"setup": setup, "end": max(lane["end"] for lane in lanes), "lanes": lanes,
            "scenarios": preset_names(), "failure_points": list(N.FAILURE_POINTS),
            "limits": {"max_orders": MAX_ORDERS, "max_events": MAX_EVENTS,
                       "max_attempts": MAX_ATTEMPTS, "max_seed": MAX_SEED}}


def truth_args(query) -> tuple[str, int]:
    """The query of GET /api/truth-table, validated."""
    for name in query:
        if name not in TRUTH_PARAMS:
            raise ConfigError(name[:40], query.get(name), "one of " + ", ".join(TRUTH_PARAMS))
    return (_choice("outbox", query.get("outbox", N.MEMORY), N.OUTBOXES),
            _integer("max_attempts", query.get("max_attempts", "5"), 1, MAX_ATTEMPTS))


def truth(args: tuple[str, int]) -> dict:
    """The truth table with each row's case (the ``case`` of /api/compare that plays it)."""
    outbox, max_attempts = args
    rows = truth_table(outbox, max_attempts)
    for row in rows:
        row["case"] = ",".join(row["failures"]) or "none"
    return {"outbox": outbox, "max_attempts": max_attempts,
            "failure_points": list(N.FAILURE_POINTS), "semantics": list(N.SEMANTICS),
            "outcomes": list(OUTCOMES), "rows": rows}


class AnswerCache:
    """The last few answers by their arguments, serialized once (a lecture room's refreshes
    are free). ``make`` runs in the request; ``pause(0)`` lets the frame loop run between
    lanes under eventlet."""

    def __init__(self, make: Callable[[tuple], dict], size: int = 16) -> None:
        self.make = make
        self.size = size
        self.lock = threading.Lock()
        self.answers: OrderedDict[tuple, str] = OrderedDict()

    def get(self, args: tuple) -> str:
        with self.lock:
            if args in self.answers:
                self.answers.move_to_end(args)
                return self.answers[args]
        body = json.dumps(self.make(args), separators=(",", ":"))
        with self.lock:
            self.answers[args] = body
            while len(self.answers) > self.size:
                self.answers.popitem(last=False)
        return body


def install(app, pause: Callable[[float], object]) -> None:
    """The two routes on ``app``."""
    from flask import request

    def bad(error: ConfigError):
        return (f"400 bad request: {error}\n", 400,
                {"Content-Type": "text/plain; charset=utf-8"})

    def ok(body: str):
        return (body, 200, {"Content-Type": "application/json"})

    compares = AnswerCache(lambda args: compare(args, pause))
    tables = AnswerCache(truth, size=4)

    @app.get("/api/compare")
    def compare_api():
        """The three semantics on one setup: docs/protocol.md, "Comparing the semantics"."""
        try:
            return ok(compares.get(compare_args(request.args)))
        except ConfigError as error:
            return bad(error)

    @app.get("/api/truth-table")
    def truth_table_api():
        """engine/truth.py's table, each row with its case: docs/protocol.md."""
        try:
            return ok(tables.get(truth_args(request.args)))
        except ConfigError as error:
            return bad(error)
