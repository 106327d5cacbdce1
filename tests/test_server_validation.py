"""Validation of inbound payloads: every bad input is a CommandError naming field and allowed."""

from __future__ import annotations

import json
import math

import pytest

from engine import Config, preset_config
from engine.errors import CommandError
from server.ratelimit import TokenBucket
from server.session import Session
from server.validation import (
    COMMAND_NAMES,
    EVENTS,
    MAX_PAYLOAD_BYTES,
    SERVER_MAX_ORDERS,
    check_size,
    describe,
    payload_size,
    validate_ack,
    validate_command,
    validate_event,
    validate_join,
)


def validate_then_apply(payload: object) -> dict:
    """What the server does with a command: validate it, then apply it to a session."""
    return Session("t" * 12, 0.0).command(validate_command(payload), 0.0)


def error_of(fn, *args) -> CommandError:
    with pytest.raises(CommandError) as info:
        fn(*args)
    error = info.value
    data = error.as_dict()
    assert set(data) == {"field", "value", "allowed", "message"}
    assert data["field"] and data["allowed"]
    return error


# -- events -----------------------------------------------------------------------------


def test_known_events_and_unknown_ones():
    for name in ("join", "command", "ack"):
        assert validate_event(name) == name
    for bad in ("Join", "", "snapshot", None, 3, ["join"]):
        error = error_of(validate_event, bad)
        assert error.field == "event" and "join" in error.allowed


# -- join -------------------------------------------------------------------------------


def test_join_defaults_and_fields():
    assert validate_join(None) == {"session": None, "last_seq": None, "run": None}
    assert validate_join({}) == {"session": None, "last_seq": None, "run": None}
    token = "AbC_-1234567890"
    assert validate_join({"session": token, "last_seq": 5, "run": 2}) == {
        "session": token, "last_seq": 5, "run": 2}
    assert validate_join({"session": None, "last_seq": None})["last_seq"] is None
    assert validate_join({"last_seq": 7.0})["last_seq"] == 7


@pytest.mark.parametrize("payload, field", [
    ([], "join"),
    ("abc", "join"),
    ({"session": 5}, "session"),
    ({"session": "short"}, "session"),
    ({"session": "x" * 65}, "session"),
    ({"session": "has space 12345"}, "session"),
    ({"last_seq": -1}, "last_seq"),
    ({"last_seq": "3"}, "last_seq"),
    ({"last_seq": True}, "last_seq"),
    ({"last_seq": 1.5}, "last_seq"),
    ({"last_seq": 2**60}, "last_seq"),
    ({"run": 0}, "run"),
    ({"sesion": "typo"}, "sesion"),
])
def test_bad_join_payloads(payload, field):
    assert error_of(validate_join, payload).field == field


# -- ack --------------------------------------------------------------------------------


def test_ack():
    assert validate_ack({"seq": 0}) == {"seq": 0, "run": None}
    assert validate_ack({"seq": 12, "run": 3}) == {"seq": 12, "run": 3}


@pytest.mark.parametrize("payload, field", [
    (None, "ack"), (5, "ack"), ({}, "seq"), ({"seq": -2}, "seq"), ({"seq": None}, "seq"),
    ({"seq": float("nan")}, "seq"), ({"seq": 1, "run": "1"}, "run"), ({"seq": 1, "x": 1}, "x"),
])
def test_bad_acks(payload, field):
    assert error_of(validate_ack, payload).field == field


# -- commands ---------------------------------------------------------------------------


def test_every_command_has_a_valid_form():
    valid = {
        "scenario": {"name": "reply-lost"},
        "seed": {"seed": 3},
        "create-order": {},
        "set-failure": {"point": "reply-lost", "mode": "on"},
        "set-credit-limit": {"credit_limit": 10},
        "play": {}, "pause": {}, "step": {}, "reset": {},
        "speed": {"speed": 2},
        # time (issue 10)
        "seek": {"seq": 0}, "live": {}, "step-back": {}, "fork": {}, "export": {},
        "history": {"from_seq": 1},
        "import": {"run": {"format": "at-most-once-run", "version": 1,
                           "config": {"seed": 1}, "command_log": []}},
    }
    assert set(valid) == set(COMMAND_NAMES)
    for name, fields in valid.items():
        result = validate_command({"cmd": name, **fields})
        assert result["cmd"] == name


def test_scenario_is_normalized_and_its_config_built_once():
    assert validate_command({"cmd": "scenario", "name": "happy-path"}) == {
        "cmd": "scenario", "name": "happy-path", "seed": None,
        "config": preset_config("happy-path"), "script": True}
    result = validate_command({"cmd": "scenario", "name": "lossy-network", "seed": 4.0,
                               "config": {"orders": 10, "failures": {"reply-lost": "on"}}})
    assert result["seed"] == 4 and isinstance(result["config"], Config)
    assert result["config"].orders == 10
    assert result["config"].failures["reply-lost"].mode == "on"
    # A seed among the config fields is the run's seed unless the command names one.
    result = validate_command({"cmd": "scenario", "name": "happy-path",
                               "config": {"seed": 9}})
    assert result["seed"] == 9


def test_speed_is_a_float_in_range():
    assert validate_command({"cmd": "speed", "speed": 200})["speed"] == 200.0
    assert validate_command({"cmd": "speed", "speed": 0.05})["speed"] == 0.05


def test_engine_commands_are_left_to_the_engine():
    # One validation pass: the engine checks its own commands as it applies them
    # (tests/test_server_session.py), so here they only pass the size and shape checks.
    odd = {"cmd": "set-failure", "point": "nowhere"}
    assert validate_command(odd) == odd
    assert error_of(validate_command, {"cmd": "create-order", "pad": "x" * 5000}
                    ).field == "payload"


@pytest.mark.parametrize("payload, field", [
    (None, "command"),
    ([], "command"),
    ("play", "command"),
    ({}, "cmd"),
    ({"cmd": "jump"}, "cmd"),
    ({"cmd": ["play"]}, "cmd"),
    ({"cmd": {"a": 1}}, "cmd"),
    ({"cmd": "play", "now": True}, "now"),
    ({"cmd": "reset", "seed": 1}, "seed"),
    ({"cmd": "speed"}, "speed"),
    ({"cmd": "speed", "speed": 0}, "speed"),
    ({"cmd": "speed", "speed": 201}, "speed"),
    ({"cmd": "speed", "speed": float("inf")}, "speed"),
    ({"cmd": "speed", "speed": float("nan")}, "speed"),
    ({"cmd": "speed", "speed": "2"}, "speed"),
    ({"cmd": "speed", "speed": True}, "speed"),
    ({"cmd": "speed", "speed": 2, "x": 1}, "x"),
    ({"cmd": "seed"}, "seed"),
    ({"cmd": "seed", "seed": -1}, "seed"),
    ({"cmd": "seed", "seed": 2**63}, "seed"),
    ({"cmd": "seed", "seed": "7"}, "seed"),
    ({"cmd": "seed", "seed": 1, "name": "x"}, "name"),
    ({"cmd": "scenario"}, "name"),
    ({"cmd": "scenario", "name": "nope"}, "name"),
    ({"cmd": "scenario", "name": ["happy-path"]}, "name"),
    ({"cmd": "scenario", "name": "happy-path", "seed": 1.5}, "seed"),
    ({"cmd": "scenario", "name": "happy-path", "config": []}, "config"),
    ({"cmd": "scenario", "name": "happy-path", "config": {"orders": -1}}, "orders"),
    ({"cmd": "scenario", "name": "happy-path", "config": {"warp": 1}}, "warp"),
    ({"cmd": "scenario", "name": "happy-path", "config": {"failures": {"x": "on"}}},
     "failures"),
    ({"cmd": "scenario", "name": "happy-path",
      "config": {"orders": SERVER_MAX_ORDERS + 1}}, "config.orders"),
    ({"cmd": "scenario", "name": "happy-path", "config": {"samples": 10**7}},
     "config.samples"),
    ({"cmd": "scenario", "name": "happy-path", "extra": 1}, "extra"),
    ({"cmd": "scenario", "name": "happy-path", "script": "no"}, "script"),
    ({"cmd": "create-order", "amount": 0}, "amount"),
    ({"cmd": "create-order", "amount": "5"}, "amount"),
    ({"cmd": "set-failure", "point": "nowhere", "mode": "on"}, "point"),
    ({"cmd": "set-failure", "point": "reply-lost", "mode": "sometimes"}, "mode"),
    ({"cmd": "set-failure", "point": "reply-lost", "probability": 1.5}, "probability"),
    ({"cmd": "set-credit-limit"}, "credit_limit"),
])
def test_bad_commands_name_the_field(payload, field):
    # Validation, then (for the engine's own commands) the engine as it applies them.
    assert error_of(validate_then_apply, payload).field == field


def test_allowed_lists_the_choices():
    error = error_of(validate_command, {"cmd": "jump"})
    for name in COMMAND_NAMES:
        assert name in error.allowed
    error = error_of(validate_then_apply, {"cmd": "set-failure", "point": "x", "mode": "on"})
    assert "reply-lost" in error.allowed and "request-lost" in error.allowed


# -- sizes ------------------------------------------------------------------------------


def test_payload_size_and_limit():
    assert payload_size({"a": 1}) == len('{"a":1}')
    check_size("x" * (MAX_PAYLOAD_BYTES - 2))
    error = error_of(check_size, "x" * MAX_PAYLOAD_BYTES)
    assert error.field == "payload" and str(MAX_PAYLOAD_BYTES) in error.allowed
    # Every validator checks the size first.
    big = {"cmd": "play", "pad": "y" * MAX_PAYLOAD_BYTES}
    assert error_of(validate_command, big).field == "payload"
    assert error_of(validate_join, {"session": "z" * 5000}).field == "payload"
    assert error_of(validate_ack, {"seq": 1, "run": [0] * 3000}).field == "payload"


def test_non_json_values_are_refused():
    assert error_of(payload_size, {1, 2}).field == "payload"
    assert error_of(validate_command, {"cmd": "play", "x": object()}).field == "payload"
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert error_of(validate_command, deep).field == "payload"
    # NaN and infinities are JSON-ish numbers Python's decoder accepts: refused by range.
    assert error_of(validate_command, {"cmd": "speed", "speed": -math.inf}).field == "speed"


def test_error_values_are_short():
    error = error_of(validate_command, {"cmd": "q" * 3000})
    assert len(error.as_dict()["value"]) <= 60
    assert len(str(error)) < 400


def test_describe_lists_limits():
    info = describe()
    assert info["speed_min"] == 0.05 and info["speed_max"] == 200.0
    assert info["max_payload"] == MAX_PAYLOAD_BYTES
    assert set(info["commands"]) == set(COMMAND_NAMES)
    assert set(EVENTS) == {"join", "command", "ack"}


# -- rate limit -------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_the_rate():
    bucket = TokenBucket(rate=10, burst=5, now=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(0.05) is False  # half a token
    assert bucket.take(0.1) is True
    assert bucket.take(0.1) is False
    assert bucket.take(100.0) and bucket.tokens == pytest.approx(4.0)  # capped at the burst
    assert bucket.take(100.0, cost=0.5)
    assert "10 messages per second" in bucket.allowed()


def test_error_dict_is_valid_json_for_browsers():
    with pytest.raises(CommandError) as info:
        validate_command({"cmd": "speed", "speed": float("nan")})
    data = info.value.as_dict()
    assert data["value"] == "nan"
    json.dumps(data, allow_nan=False)
