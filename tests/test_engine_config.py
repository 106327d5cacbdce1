"""Config: defaults, validation that names field, value and what is allowed."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import FAILURE_POINTS, Config, ConfigError, EngineError, FailureSetting


def test_defaults_are_valid_and_round_trip_through_plain_data():
    config = Config()
    assert Config.from_dict() == config
    data = config.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert Config.from_dict(data) == config
    assert set(data["failures"]) == set(FAILURE_POINTS)
    assert all(s == {"mode": "off", "probability": 0.0} for s in data["failures"].values())
    assert config.round_trip_max() == pytest.approx(1.2 + 0.3 + 1.2)


def test_overrides_and_failure_shorthands():
    config = Config.from_dict({"orders": 5}, seed=9, failures={
        "reply-lost": "on", "request-lost": {"probability": 0.5}})
    assert (config.orders, config.seed) == (5, 9)
    assert config.failures["reply-lost"] == FailureSetting("on", 0.0)
    assert config.failures["request-lost"] == FailureSetting("off", 0.5)
    assert config.failures["crash-after-processing"] == FailureSetting()


def test_a_single_number_is_a_fixed_latency():
    config = Config.from_dict(request_latency=0.5, reply_latency=[0, 2])
    assert config.request_latency == (0.5, 0.5)
    assert config.reply_latency == (0.0, 2.0)


def test_integral_floats_are_accepted_for_integers():
    assert Config.from_dict(credit_limit=500.0).credit_limit == 500


BAD = [
    ({"seed": -1}, "seed", "integer"),
    ({"seed": "x"}, "seed", "integer"),
    ({"seed": True}, "seed", "integer"),
    ({"orders": 1.5}, "orders", "integer"),
    ({"amount": 0}, "amount", "integer from 1"),
    ({"credit_limit": -5}, "credit_limit", "integer from 0"),
    ({"reply_timeout": 0}, "reply_timeout", "number from 0.001"),
    ({"reply_timeout": math.nan}, "reply_timeout", "number"),
    ({"processing_time": math.inf}, "processing_time", "number"),
    ({"restart_after": -1}, "restart_after", "number from 0"),
    ({"order_interval": 0}, "order_interval", "number"),
    ({"request_latency": [2, 1]}, "request_latency", "min <= max"),
    ({"request_latency": [1, 2, 3]}, "request_latency", "[min, max]"),
    ({"reply_latency": [-1, 1]}, "reply_latency[0]", "number from 0"),
    ({"reply_latency": "fast"}, "reply_latency", "[min, max]"),
    ({"failures": []}, "failures", "failure points"),
    ({"failures": {"network-down": "on"}}, "failures", "request-lost"),
    ({"failures": {"reply-lost": "always"}}, "failures.reply-lost.mode", "off, next, on"),
    ({"failures": {"reply-lost": {"probability": 2}}}, "failures.reply-lost.probability",
     "number from 0 to 1"),
    ({"failures": {"reply-lost": {"odds": 1}}}, "failures.reply-lost.odds", "mode or"),
    ({"failures": {"reply-lost": 3}}, "failures.reply-lost", "mode"),
    ({"speed": 3}, "speed", "known config field"),
]


@pytest.mark.parametrize("data, field, allowed", BAD, ids=[b[1] for b in BAD])
def test_bad_values_name_field_value_and_allowed(data, field, allowed):
    with pytest.raises(ConfigError) as info:
        Config.from_dict(data)
    error = info.value
    assert error.field == field
    assert allowed in error.allowed
    as_dict = error.as_dict()
    assert set(as_dict) == {"field", "value", "allowed", "message"}
    assert as_dict["field"] == field
    assert json.loads(json.dumps(as_dict)) == as_dict or as_dict["value"] != as_dict["value"]
    assert field in str(error) and "allowed" in str(error)


def test_error_value_is_kept_and_shown():
    with pytest.raises(ConfigError) as info:
        Config.from_dict(amount=-3)
    assert info.value.value == -3
    assert info.value.as_dict()["value"] == -3
    assert str(info.value) == "amount: got -3; allowed: an integer from 1 to 1000000000000"


def test_long_and_odd_values_are_cut_short_in_messages():
    with pytest.raises(ConfigError) as info:
        Config.from_dict(reply_latency="x" * 500)
    assert len(info.value.as_dict()["value"]) <= 60
    assert len(str(info.value)) < 200
    with pytest.raises(ConfigError) as info:
        Config.from_dict(seed={"a": [1, 2]})
    assert isinstance(info.value.as_dict()["value"], str)


def test_not_an_object():
    with pytest.raises(ConfigError) as info:
        Config.from_dict([1, 2])
    assert info.value.field == "config"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(list(Config.__dataclass_fields__) + ["bogus"])


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(FIELDS, JSON, max_size=4))
def test_any_plain_data_gives_a_config_or_a_config_error(data):
    try:
        config = Config.from_dict(data)
    except ConfigError as error:
        assert isinstance(error, EngineError) and isinstance(error, ValueError)
        json.dumps(error.as_dict())
    else:
        assert Config.from_dict(config.to_dict()) == config


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(FAILURE_POINTS + ("other",)), JSON, max_size=4))
def test_any_failures_object_gives_a_config_or_a_config_error(failures):
    try:
        Config.from_dict(failures=failures)
    except ConfigError:
        pass


def test_errors_survive_pathological_values():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    for value in (deep, 10**5000, -(10**40)):
        with pytest.raises(ConfigError) as info:
            Config.from_dict(seed=value)
        as_dict = info.value.as_dict()
        assert len(json.dumps(as_dict)) < 400
        assert isinstance(as_dict["value"], str)
