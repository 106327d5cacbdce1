"""Configuration of one simulation run, validated field by field."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .errors import ConfigError
from .names import (
    ASYNC,
    AT_MOST_ONCE,
    CALL_MODES,
    FAILURE_POINTS,
    MEMORY,
    MODES,
    OUTBOXES,
    SEMANTICS,
)

MAX_SEED = 2**63 - 1
MAX_ORDERS = 100_000_000
MAX_AMOUNT = 10**12
MAX_SECONDS = 3600.0
MAX_ATTEMPTS = 100  # attempts per order at most (max_attempts)
# The backoff before attempt k + 1 (after attempt k timed out) is
# reply_timeout * 2 ** (k - 2), at most BACKOFF_CAP * reply_timeout (docs/semantics.md).
BACKOFF_CAP = 4.0


def backoff(reply_timeout: float, attempt: int) -> float:
    """Seconds between attempt ``attempt``'s timeout and the next attempt being sent."""
    return reply_timeout * min(2.0 ** (attempt - 2), BACKOFF_CAP)


@dataclass(frozen=True)
class FailureSetting:
    """How one failure point behaves: a switch (off / next / on) and a probability."""

    mode: str = "off"
    probability: float = 0.0


def _default_failures() -> dict[str, FailureSetting]:
    return {point: FailureSetting() for point in FAILURE_POINTS}


@dataclass(frozen=True)
class Config:
    """Everything that shapes a run besides the commands given during it.

    Times are virtual seconds. Latency ranges are (min, max); each message draws its
    latency uniformly from its leg's range with the run's seeded random generator.
    """

    seed: int = 1
    request_latency: tuple[float, float] = (0.8, 1.2)
    reply_latency: tuple[float, float] = (0.8, 1.2)
    processing_time: float = 0.3
    reply_timeout: float = 4.0
    restart_after: float = 2.0
    credit_limit: int = 1000
    amount: int = 100
    orders: int = 0
    order_interval: float = 0.5
    samples: int = 0
    sample_interval: float = 0.25
    sample_mean: float = 50.0
    failures: dict[str, FailureSetting] = field(default_factory=_default_failures)
    call: str = ASYNC
    semantics: str = AT_MOST_ONCE
    max_attempts: int = 5
    outbox: str = MEMORY

    # ---------------------------------------------------------------- validation
    @classmethod
    def from_dict(cls, data: dict | None = None, **overrides) -> Config:
        """Build a validated Config from plain data (JSON, CLI, socket payloads)."""
        merged: dict = {}
        if data is not None:
            if not isinstance(data, dict):
                raise ConfigError("config", data, "an object of config fields")
            merged.update(data)
        merged.update(overrides)
        known = {f for f in cls.__dataclass_fields__}
        for key in merged:
            if key not in known:
                raise ConfigError(str(key)[:40], merged[key],
                                  "a known config field: " + ", ".join(sorted(known)))
        base = cls()
        values = {}
        values["seed"] = check_int("seed", merged.get("seed", base.seed), 0, MAX_SEED)
        for name in ("request_latency", "reply_latency"):
            values[name] = check_range(name, merged.get(name, getattr(base, name)))
        values["processing_time"] = check_float(
            "processing_time", merged.get("processing_time", base.processing_time), 0.0,
            MAX_SECONDS)
        values["reply_timeout"] = check_float(
            "reply_timeout", merged.get("reply_timeout", base.reply_timeout), 0.001, MAX_SECONDS)
        values["restart_after"] = check_float(
            "restart_after", merged.get("restart_after", base.restart_after), 0.0, MAX_SECONDS)
        values["credit_limit"] = check_int(
            "credit_limit", merged.get("credit_limit", base.credit_limit), 0, MAX_AMOUNT)
        values["amount"] = check_int("amount", merged.get("amount", base.amount), 1, MAX_AMOUNT)
        values["orders"] = check_int("orders", merged.get("orders", base.orders), 0, MAX_ORDERS)
        values["order_interval"] = check_float(
            "order_interval", merged.get("order_interval", base.order_interval), 0.000001,
            MAX_SECONDS)
        values["samples"] = check_int(
            "samples", merged.get("samples", base.samples), 0, MAX_ORDERS)
        values["sample_interval"] = check_float(
            "sample_interval", merged.get("sample_interval", base.sample_interval), 0.000001,
            MAX_SECONDS)
        values["sample_mean"] = check_float(
            "sample_mean", merged.get("sample_mean", base.sample_mean), 0.0, 1e9)
        values["failures"] = check_failures(merged.get("failures", {}))
        values["call"] = check_call(merged.get("call", base.call))
        values["semantics"] = check_choice("semantics", merged.get("semantics", base.semantics),
                                           SEMANTICS)
        values["max_attempts"] = check_int(
            "max_attempts", merged.get("max_attempts", base.max_attempts), 1, MAX_ATTEMPTS)
        values["outbox"] = check_choice("outbox", merged.get("outbox", base.outbox), OUTBOXES)
        return cls(**values)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["request_latency"] = list(self.request_latency)
        data["reply_latency"] = list(self.reply_latency)
        return data

    def round_trip_max(self) -> float:
        """Longest possible request-to-reply time without failures."""
        return self.request_latency[1] + self.processing_time + self.reply_latency[1]

    def attempts(self) -> int:
        """How many times the sender sends one order's OrderCreated at most."""
        return 1 if self.semantics == AT_MOST_ONCE else self.max_attempts


def check_int(name: str, value: object, low: int, high: int,
              error: type[Exception] = ConfigError) -> int:
    """The one integer check: an int (or a float with no fraction) from low to high."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise error(name, value, f"an integer from {low} to {high}")
    if not low <= value <= high:
        raise error(name, value, f"an integer from {low} to {high}")
    return value


def check_float(name: str, value: object, low: float, high: float,
                error: type[Exception] = ConfigError) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(name, value, f"a number from {low:g} to {high:g}")
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise error(name, value, f"a number from {low:g} to {high:g}")
    return value


def check_range(name: str, value: object) -> tuple[float, float]:
    allowed = f"[min, max] seconds with 0 <= min <= max <= {MAX_SECONDS:g}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(name, value, allowed)
    low = check_float(name + "[0]", value[0], 0.0, MAX_SECONDS)
    high = check_float(name + "[1]", value[1], 0.0, MAX_SECONDS)
    if low > high:
        raise ConfigError(name, list(value), allowed)
    return (low, high)


def check_call(value: object) -> str:
    """The call mode: async (today's sender) or sync (one blocking call at a time)."""
    if not isinstance(value, str) or value not in CALL_MODES:
        raise ConfigError("call", value, "one of " + ", ".join(CALL_MODES))
    return value


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    """One of a few names (semantics, outbox)."""
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(name, value, "one of " + ", ".join(allowed))
    return value


def check_point(name: str, value: object, error: type[Exception] = ConfigError) -> str:
    if value not in FAILURE_POINTS:
        raise error(name, value, "one of " + ", ".join(FAILURE_POINTS))
    return value  # type: ignore[return-value]


def check_setting(name: str, value: object,
                  error: type[Exception] = ConfigError) -> FailureSetting:
    if isinstance(value, FailureSetting):
        return value
    if isinstance(value, str):
        value = {"mode": value}
    if not isinstance(value, dict):
        raise error(name, value, "an object {mode: off|next|on, probability: 0..1}")
    for key in value:
        if key not in ("mode", "probability"):
            raise error(f"{name}.{key}"[:60], value[key], "mode or probability")
    mode = value.get("mode", "off")
    if mode not in MODES:
        raise error(name + ".mode", mode, "one of " + ", ".join(MODES))
    probability = check_float(name + ".probability", value.get("probability", 0.0), 0.0, 1.0,
                              error)
    return FailureSetting(mode=mode, probability=probability)


def check_failures(value: object) -> dict[str, FailureSetting]:
    if not isinstance(value, dict):
        raise ConfigError("failures", value,
                          "an object mapping failure points to {mode, probability}")
    result = _default_failures()
    for point, setting in value.items():
        check_point("failures", point)
        result[point] = check_setting(f"failures.{point}", setting)
    return result
