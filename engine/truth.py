"""The truth table (issue 12): every combination of the failure points for one order, under
each delivery semantics, with the outcome the engine judges (docs/semantics.md).

A **case** is a set of failure points switched on. Each point in it is armed for the next
message it applies to (mode ``next``): it strikes exactly once, the first message of the
order it applies to, whichever attempt that is, and never again; every other point is off
and no probability is drawn. So each case is a finite failure schedule, the same for the
three semantics, and a page can play it with the same config and one ``create-order``.
(For example, ``request-lost`` with ``reply-lost``: the first request is lost; under a
retrying semantics the reply to the second attempt is lost; the third goes through.)

Timing is fixed so that no outcome depends on the seed: both legs take exactly 1 s, the
receiver 0.3 s, the sender waits ``reply_timeout`` 4 s per attempt and a crashed service
restarts after 2 s (the reply to a request sent just before a sender crash comes back
after the sender is up again). Everything else is the engine's default.

The outcome of a cell is the order's judgement at rest (``Simulation.order_view``):

- ``consistent``: both services agree: approved with its credit reserved once, or
  cancelled with nothing reserved.
- ``stuck``: divergence ``stuck-new``: the order is still ``new`` (never approved nor
  cancelled) and no credit is reserved for it.
- ``reserved-not-approved``: divergence ``reserved-not-approved``: credit is reserved once
  for an order that is not approved (still ``new``, or cancelled by a later reply).
- ``double-reserved``: divergence ``double-reserved``: credit was reserved more than once
  for the order (approved or not): a duplicate was processed again.

Pure and deterministic: the same arguments give the same table, always.
"""

from __future__ import annotations

from itertools import combinations

from . import names as N
from .config import Config
from .simulation import Simulation

# The table's timing (module docstring); everything else is Config's default.
CASE_CONFIG = {"request_latency": [1.0, 1.0], "reply_latency": [1.0, 1.0],
               "processing_time": 0.3, "reply_timeout": 4.0, "restart_after": 2.0,
               "credit_limit": 1000, "amount": 100, "seed": 1}

CONSISTENT = "consistent"
STUCK = "stuck"
RESERVED_NOT_APPROVED = N.RESERVED_NOT_APPROVED
DOUBLE_RESERVED = N.DOUBLE_RESERVED
OUTCOMES = (CONSISTENT, STUCK, RESERVED_NOT_APPROVED, DOUBLE_RESERVED)
OUTCOME_TEXT = {
    CONSISTENT: "both services agree: approved with credit reserved once, or cancelled "
                "with nothing reserved",
    STUCK: "the order stays new (never approved nor cancelled) and nothing is reserved",
    RESERVED_NOT_APPROVED: "credit reserved once for an order that is not approved",
    DOUBLE_RESERVED: "credit reserved more than once for one order",
}
_BY_DIVERGENCE = {None: CONSISTENT, N.STUCK_NEW: STUCK,
                  N.RESERVED_NOT_APPROVED: RESERVED_NOT_APPROVED,
                  N.DOUBLE_RESERVED: DOUBLE_RESERVED}


def cases() -> list[tuple[str, ...]]:
    """Every combination of the failure points: none first, then by size, each in the
    order of ``FAILURE_POINTS``."""
    points = N.FAILURE_POINTS
    return [combo for size in range(len(points) + 1) for combo in combinations(points, size)]


def check_case(points: object) -> tuple[str, ...]:
    """A case from a list of failure point names (or a comma-separated string; ``none`` or
    an empty string for no failure), in the order of ``FAILURE_POINTS``."""
    from .errors import ConfigError

    if isinstance(points, str):
        points = [] if points in ("", "none") else points.split(",")
    if not isinstance(points, (list, tuple)):
        raise ConfigError("case", points, "a list of failure points")
    for point in points:
        if point not in N.FAILURE_POINTS:
            raise ConfigError("case", point, "failure points from "
                              + ", ".join(N.FAILURE_POINTS) + " (or none)")
    return tuple(p for p in N.FAILURE_POINTS if p in points)


def case_config(points: tuple[str, ...] | list[str], semantics: str = N.AT_MOST_ONCE,
                outbox: str = N.MEMORY, max_attempts: int = 5) -> Config:
    """The config of one case: the table's timing, the semantics, and each point of the
    case armed for the next message."""
    return Config.from_dict(CASE_CONFIG, semantics=semantics, outbox=outbox,
                            max_attempts=max_attempts,
                            failures={point: {"mode": "next"} for point in points})


CASE_COMMANDS = ({"cmd": "create-order"},)  # one order, at t = 0


def play_case(points, semantics: str = N.AT_MOST_ONCE, outbox: str = N.MEMORY,
              max_attempts: int = 5) -> tuple[Simulation, list[dict]]:
    """One case played to rest: the simulation and all its events."""
    sim = Simulation(case_config(check_case(points), semantics, outbox, max_attempts))
    events: list[dict] = []
    for command in CASE_COMMANDS:
        events += sim.apply(dict(command))
    sim.run(sink=events.append)
    return sim, events


def cli_command(points, semantics: str, outbox: str, max_attempts: int) -> str:
    """The ``python -m engine`` command line that plays this case (add --trace to see
    every event)."""
    case = ",".join(points) or "none"
    return (f"python -m engine --case {case} --semantics {semantics} --outbox {outbox} "
            f"--max-attempts {max_attempts}")


def outcome_of(order: dict) -> str:
    """A cell's outcome from an order's judged view (``order_view``)."""
    return _BY_DIVERGENCE[order["divergence"]] if order["judgement"] != N.IN_FLIGHT \
        else "in-flight"


def truth_table(outbox: str = N.MEMORY, max_attempts: int = 5) -> list[dict]:
    """Every case under each semantics. One row per case:

    ``{"failures": [point, ...], "cells": {semantics: cell}}`` where a cell is
    ``{"outcome", "reason", "order_state", "credit_reserved", "times_reserved",
    "attempts", "sender_saw", "reproduce": {"config", "commands", "cli"}}``:
    ``outcome`` one of ``OUTCOMES``, ``reason`` a short account of each attempt, and
    ``reproduce`` the config (``Config.to_dict``), the commands (applied at t = 0) and the
    command line that play the case.
    """
    from .config import MAX_ATTEMPTS, check_choice, check_int

    check_choice("outbox", outbox, N.OUTBOXES)
    check_int("max_attempts", max_attempts, 1, MAX_ATTEMPTS)
    rows = []
    for points in cases():
        cells = {}
        for semantics in N.SEMANTICS:
            sim, events = play_case(points, semantics, outbox, max_attempts)
            order = sim.order_view(1)
            cells[semantics] = {
                "outcome": outcome_of(order),
                "reason": story(events),
                "order_state": order["order_state"],
                "credit_reserved": order["credit_reserved"],
                "times_reserved": order["times_reserved"],
                "attempts": order["attempts"],
                "sender_saw": order["sender_saw"],
                "reproduce": {
                    "config": sim.config.to_dict(),
                    "commands": [dict(c) for c in CASE_COMMANDS],
                    "cli": cli_command(points, semantics, outbox, max_attempts),
                },
            }
        rows.append({"failures": list(points), "cells": cells})
    return rows


def story(events: list[dict]) -> str:
    """What happened to the case's order, attempt by attempt, in a few words:
    ``1: request lost; 2: reserved, reply lost; 3: reserved again; approved``."""
    steps: dict[int, list[str]] = {}
    end = ""

    def say(attempt: int, words: str) -> None:
        steps.setdefault(attempt, []).append(words)

    for e in events:
        kind, attempt = e["type"], e.get("attempt", 0)
        if kind == "message-lost":
            where = "request" if e["leg"] == N.REQUEST else "reply"
            if e["reason"] == N.RECEIVER_DOWN:
                say(attempt, "receiver down")
            elif e["reason"] == N.SENDER_DOWN:
                say(attempt, "reply lost: sender down")
            else:
                say(attempt, f"{where} lost")
        elif kind == "receiver-crashed":
            say(attempt, "receiver crashed " + ("before" if e["point"] == N.CRASH_BEFORE
                                                else "after") + " processing")
        elif kind == "message-forgotten" and e["point"] != N.CRASH_BEFORE:
            say(attempt, "forgotten in a crash")
        elif kind == "credit-reserved":
            again = any(w.startswith("reserved") for ws in steps.values() for w in ws)
            say(attempt, "reserved again" if again else "reserved")
        elif kind == "credit-refused":
            say(attempt, "refused")
        elif kind == N.DUPLICATE_SUPPRESSED:
            say(attempt, "duplicate answered from the record")
        elif kind == N.SENDER_CRASHED:
            say(attempt, "sender crashed")
        elif kind == N.OUTBOX_LOST:
            say(attempt, "outbox lost")
        elif kind == "reply-ignored":
            say(attempt, f"reply ignored ({e['reason']})")
        elif kind == "order-state-changed":
            end = e["to"]
        elif kind == "sender-timeout":
            end = f"gave up after {e['attempts']} attempt{'s' if e['attempts'] > 1 else ''}"
    parts = [f"{attempt}: {', '.join(words)}" for attempt, words in sorted(steps.items())]
    if end:
        parts.append(end)
    return "; ".join(parts) or "nothing happened"
