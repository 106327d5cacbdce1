"""Scenario presets named for the seed's cases.

Each preset is a config plus a short script of commands (applied at given virtual times),
so "receiver crash after processing" is one click, one CLI flag, one test.
"""

from __future__ import annotations

from .config import Config
from .errors import ConfigError


def _one_order(point: str | None) -> dict:
    failures = {point: {"mode": "on"}} if point else {}
    return {"config": {"failures": failures}, "script": [(0.0, {"cmd": "create-order"})]}


FOUR_FAILURES_GAP = 7.0  # > reply timeout (4 s) + a crashed receiver's restart (2 s)

PRESETS: dict[str, dict] = {
    "happy-path": {
        "title": "Happy path",
        "explains": "Nothing breaks: the request arrives, credit is reserved, the reply "
                    "arrives and the order is approved. Both services agree.",
        **_one_order(None),
    },
    "request-lost": {
        "title": "Request lost",
        "explains": "OrderCreated never reaches the Customer service. No credit is reserved; "
                    "the order is stuck in new and the sender only sees silence.",
        **_one_order("request-lost"),
    },
    "crash-before-processing": {
        "title": "Receiver crash before processing",
        "explains": "The Customer service gets OrderCreated and crashes before reacting. "
                    "Nothing is reserved, no reply: the sender only sees silence.",
        **_one_order("crash-before-processing"),
    },
    "crash-after-processing": {
        "title": "Receiver crash after processing",
        "explains": "The Customer service reserves the credit, then crashes before replying. "
                    "Credit is held for an order that stays new: the states have parted.",
        **_one_order("crash-after-processing"),
    },
    "reply-lost": {
        "title": "Reply lost",
        "explains": "Credit is reserved and CreditReserved is sent, but it is lost. The "
                    "sender sees the same silence as in every other failure.",
        **_one_order("reply-lost"),
    },
    "four-failures": {
        "title": "Four failures, one silence",
        "explains": "Five orders, one at a time: the first goes through, then each failure "
                    "point strikes one order. The sender sees the same silence four times; "
                    "the Customer service's truth differs each time.",
        # One order every FOUR_FAILURES_GAP seconds, each failure point armed for the next
        # message only: spaced beyond the reply timeout and the receiver's restart, so no
        # order's fate touches another's.
        "config": {},
        "script": [(0.0, {"cmd": "create-order"})] + [
            step for i, point in enumerate(
                ("request-lost", "crash-before-processing", "crash-after-processing",
                 "reply-lost"), start=1)
            for step in ((i * FOUR_FAILURES_GAP, {"cmd": "set-failure", "point": point,
                                                  "mode": "next"}),
                         (i * FOUR_FAILURES_GAP, {"cmd": "create-order"}))],
    },
    "lossy-network": {
        "title": "Lossy network, many orders",
        "explains": "Many orders over legs that lose a few messages and a receiver that "
                    "sometimes crashes: watch the credit held drift away from the approved "
                    "orders.",
        "config": {
            "orders": 200, "order_interval": 0.25, "credit_limit": 1_000_000, "amount": 100,
            "failures": {
                "request-lost": {"probability": 0.05},
                "crash-before-processing": {"probability": 0.01},
                "crash-after-processing": {"probability": 0.01},
                "reply-lost": {"probability": 0.05},
            },
            "restart_after": 1.0,
        },
        "script": [],
    },
    "metrics-stream": {
        "title": "Metrics stream",
        "explains": "Monitoring samples sent at-most-once over the same lossy network: a few "
                    "samples are lost, the average barely moves, and no state is corrupted.",
        "config": {
            "samples": 400, "sample_interval": 0.1, "sample_mean": 50.0,
            "failures": {"request-lost": {"probability": 0.05}},
        },
        "script": [],
    },
}

DEFAULT_PRESET = "happy-path"


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: object) -> dict:
    if not isinstance(name, str) or name not in PRESETS:  # a list or dict is unhashable
        raise ConfigError("scenario", name, "one of " + ", ".join(PRESETS))
    return PRESETS[name]  # type: ignore[index]


def preset_config(name: str, overrides: dict | None = None) -> Config:
    """The preset's config with ``overrides`` (a dict of config fields) laid over it."""
    data = dict(get_preset(name)["config"])
    if overrides:
        for key, value in overrides.items():
            if key == "failures" and isinstance(value, dict):
                # Field by field: a probability laid over a preset keeps the preset's switch.
                merged = dict(data.get("failures", {}))
                for point, setting in value.items():
                    base = merged.get(point)
                    if isinstance(base, dict) and isinstance(setting, dict):
                        merged[point] = {**base, **setting}
                    else:
                        merged[point] = setting
                data["failures"] = merged
            else:
                data[key] = value
    return Config.from_dict(data)


def preset_script(name: str) -> list[tuple[float, dict]]:
    return list(get_preset(name)["script"])


def describe_presets() -> list[dict]:
    """Each preset's name and words, and its whole config (the page compares a run's
    config with it to tell whether a link can describe the run: docs/protocol.md)."""
    return [{"name": name, "title": p["title"], "explains": p["explains"],
             "config": preset_config(name).to_dict()}
            for name, p in PRESETS.items()]
