"""Commands: validation, normalized command log, and replay of an interactive run."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import COMMANDS, CommandError, Config, Simulation, normalize_command


def test_normalized_forms():
    assert normalize_command({"cmd": "create-order"}) == {"cmd": "create-order"}
    assert normalize_command({"cmd": "create-order", "amount": 250.0}) == {
        "cmd": "create-order", "amount": 250}
    assert normalize_command({"cmd": "set-failure", "point": "reply-lost", "probability": 1}) \
        == {"cmd": "set-failure", "point": "reply-lost", "probability": 1.0}
    assert normalize_command({"cmd": "set-failure", "point": "request-lost", "mode": "next"}) \
        == {"cmd": "set-failure", "point": "request-lost", "mode": "next"}
    assert normalize_command({"cmd": "set-credit-limit", "credit_limit": 0}) == {
        "cmd": "set-credit-limit", "credit_limit": 0}
    assert set(COMMANDS) == {"create-order", "set-failure", "set-credit-limit"}


BAD = [
    ("not a dict", "command", "object"),
    ({}, "cmd", "create-order"),
    ({"cmd": "delete-order"}, "cmd", "one of create-order, set-failure, set-credit-limit"),
    ({"cmd": ["create-order"]}, "cmd", "one of"),
    ({"cmd": "create-order", "amount": 0}, "amount", "integer from 1"),
    ({"cmd": "create-order", "amount": "10"}, "amount", "integer"),
    ({"cmd": "create-order", "amount": True}, "amount", "integer"),
    ({"cmd": "create-order", "amount": 1.5}, "amount", "integer"),
    ({"cmd": "create-order", "colour": "red"}, "colour", "fields of create-order: amount"),
    ({"cmd": "set-failure", "mode": "on"}, "point", "request-lost"),
    ({"cmd": "set-failure", "point": "disk-full", "mode": "on"}, "point", "reply-lost"),
    ({"cmd": "set-failure", "point": "reply-lost"}, "mode", "probability"),
    ({"cmd": "set-failure", "point": "reply-lost", "mode": "sometimes"}, "mode",
     "off, next, on"),
    ({"cmd": "set-failure", "point": "reply-lost", "probability": 2}, "probability",
     "number from 0 to 1"),
    ({"cmd": "set-failure", "point": "reply-lost", "probability": -0.1}, "probability",
     "number from 0 to 1"),
    ({"cmd": "set-failure", "point": "reply-lost", "probability": float("nan")},
     "probability", "number"),
    ({"cmd": "set-credit-limit"}, "credit_limit", "integer from 0"),
    ({"cmd": "set-credit-limit", "credit_limit": -1}, "credit_limit", "integer from 0"),
    ({"cmd": "set-credit-limit", "credit_limit": 10**13}, "credit_limit", "integer"),
]


@pytest.mark.parametrize("command, field, allowed", BAD, ids=[str(b[0])[:40] for b in BAD])
def test_bad_commands_name_field_value_and_allowed(command, field, allowed):
    with pytest.raises(CommandError) as info:
        normalize_command(command)
    error = info.value
    assert error.field == field
    assert allowed in error.allowed
    as_dict = error.as_dict()
    assert as_dict["field"] == field and as_dict["allowed"] == error.allowed
    assert as_dict["message"] == str(error)
    json.dumps(as_dict)


def test_a_rejected_command_changes_nothing_and_is_not_logged():
    sim = Simulation()
    with pytest.raises(CommandError):
        sim.apply({"cmd": "create-order", "amount": -1})
    assert sim.command_log == [] and sim.orders == 0 and sim.seq == 0


def test_set_credit_limit_applies_to_later_orders():
    sim = Simulation(Config.from_dict(credit_limit=1000))
    events = sim.apply({"cmd": "set-credit-limit", "credit_limit": 150})
    assert events == [{"seq": 1, "t": 0.0, "type": "credit-limit-changed",
                       "credit_limit": 150, "reserved": 0, "available": 150}]
    sim.apply({"cmd": "create-order"})
    # 0.5 s apart: more than the spread of the request leg's latency (0.8 to 1.2 s), so
    # the first order reaches the Customer service first whatever the draws.
    sim.advance(0.5)
    sim.apply({"cmd": "create-order"})
    sim.run()
    assert [o["order_state"] for o in sim.iter_orders()] == ["approved", "cancelled"]
    assert sim.customer() == {"credit_limit": 150, "reserved": 100, "available": 50,
                              "up": True, "restarts_at": None}


def test_create_order_amount_defaults_to_the_config():
    sim = Simulation(Config.from_dict(amount=70))
    sim.apply({"cmd": "create-order"})
    sim.apply({"cmd": "create-order", "amount": 30})
    assert [sim.order_view(i)["amount"] for i in (1, 2)] == [70, 30]


def test_set_failure_keeps_what_it_does_not_mention():
    sim = Simulation()
    sim.apply({"cmd": "set-failure", "point": "reply-lost", "probability": 0.3})
    events = sim.apply({"cmd": "set-failure", "point": "reply-lost", "mode": "on"})
    assert sim.failures_view()["reply-lost"] == {"mode": "on", "probability": 0.3}
    assert events[-1] == {"seq": 2, "t": 0.0, "type": "failure-point-changed",
                          "point": "reply-lost", "mode": "on", "probability": 0.3,
                          "why": "command"}


def test_command_log_records_normalized_commands_with_time_and_step():
    sim = Simulation()
    sim.apply({"cmd": "create-order", "amount": 120.0})
    sim.advance(1.5)
    sim.apply({"cmd": "set-failure", "point": "reply-lost", "probability": 1})
    steps = sim.steps
    assert sim.command_log == [
        {"t": 0.0, "step": 0, "cmd": {"cmd": "create-order", "amount": 120}},
        {"t": 1.5, "step": steps,
         "cmd": {"cmd": "set-failure", "point": "reply-lost", "probability": 1.0}},
    ]
    assert steps > 0
    assert json.loads(json.dumps(sim.command_log)) == sim.command_log


def interactive_run(trace: bool = True) -> tuple[Simulation, list[dict]]:
    """A session-like run mixing step(), capped and uncapped advance() and apply()."""
    config = Config.from_dict(seed=7, orders=25, order_interval=0.3, credit_limit=1500,
                              failures={"request-lost": {"probability": 0.1},
                                        "reply-lost": {"probability": 0.1}})
    sim = Simulation(config, trace=trace)
    events = []
    events += sim.apply({"cmd": "create-order", "amount": 40})
    events += sim.step()
    events += sim.step()
    events += sim.advance(0.9, max_events=2)
    events += sim.advance(1.7)
    events += sim.apply({"cmd": "set-failure", "point": "crash-after-processing",
                         "mode": "next"})
    events += sim.advance(2.05, max_events=1)
    events += sim.apply({"cmd": "set-credit-limit", "credit_limit": 900})
    for _ in range(5):
        events += sim.step()
    events += sim.apply({"cmd": "set-failure", "point": "crash-before-processing",
                         "probability": 0.2})
    events += sim.apply({"cmd": "create-order"})
    events += sim.advance(6.0, max_events=3)
    events += sim.advance(6.0)
    events += sim.apply({"cmd": "set-failure", "point": "reply-lost", "mode": "on"})
    events += sim.advance(8.25)
    events += sim.apply({"cmd": "create-order", "amount": 5})
    sim.run(sink=events.append)
    return sim, events


def test_replay_reproduces_an_interactive_run_exactly():
    sim, events = interactive_run()
    assert len(sim.command_log) == 7
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    again, replayed = Simulation.replay(sim.config, sim.command_log)
    assert replayed == events
    assert again.report() == sim.report()
    assert again.command_log == sim.command_log


@pytest.mark.parametrize("until", [0.0, 1.7, 5.0, 6.0, 8.0])
def test_replay_until_a_time_rebuilds_the_run_as_it_stood_then(until):
    sim, events = interactive_run()
    partial, replayed = Simulation.replay(sim.config, sim.command_log, until=until)
    assert partial.now == until
    assert replayed == [e for e in events if e["t"] <= until]
    assert partial.command_log == [c for c in sim.command_log if c["t"] <= until]


def test_replay_without_trace_gives_the_same_report():
    sim, _ = interactive_run()
    quiet, events = Simulation.replay(sim.config, sim.command_log, trace=False)
    assert events == []
    assert quiet.report() == sim.report()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
KEYS = st.sampled_from(["cmd", "amount", "point", "mode", "probability", "credit_limit", "x"])
NAMES = st.sampled_from(list(COMMANDS) + ["scenario"]) | JSON


@settings(max_examples=400, deadline=None)
@given(NAMES, st.dictionaries(KEYS, JSON | st.sampled_from(
    ["on", "off", "next", "reply-lost", "request-lost"]), max_size=3))
def test_any_payload_gives_a_command_or_a_command_error(name, fields):
    command = dict(fields, cmd=name)
    try:
        normalized = normalize_command(command)
    except CommandError as error:
        json.dumps(error.as_dict())
    else:
        assert normalize_command(normalized) == normalized
        sim = Simulation()
        sim.apply(normalized)
        sim.run()
