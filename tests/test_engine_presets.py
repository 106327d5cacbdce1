"""Scenario presets: each of the seed's cases is one name, and does what its text says."""

from __future__ import annotations

import pytest

from engine import (
    FAILURE_POINTS,
    PRESETS,
    ConfigError,
    Simulation,
    describe_presets,
    preset_config,
    preset_names,
    preset_script,
)


def run_preset(name: str, overrides: dict | None = None) -> tuple[Simulation, list[dict]]:
    sim = Simulation(preset_config(name, overrides))
    events: list[dict] = []
    for at, command in preset_script(name):
        events += sim.advance(at)
        events += sim.apply(command)
    sim.run(sink=events.append)
    return sim, events


def test_the_seeds_cases_are_all_there():
    assert preset_names() == [
        "happy-path", "request-lost", "crash-before-processing", "crash-after-processing",
        "reply-lost", "four-failures", "lossy-network", "metrics-stream",
    ]
    described = describe_presets()
    assert [d["name"] for d in described] == preset_names()
    for d in described:
        assert d["title"] and len(d["explains"]) > 40
        assert d["config"] == preset_config(d["name"]).to_dict()  # what a run file holds


# name: (order state, credit reserved, sender saw, divergence, invariant ok)
ONE_ORDER = {
    "happy-path": ("approved", 100, "reply", None, True),
    "request-lost": ("new", 0, "no-reply", "stuck-new", True),
    "crash-before-processing": ("new", 0, "no-reply", "stuck-new", True),
    "crash-after-processing": ("new", 100, "no-reply", "reserved-not-approved", False),
    "reply-lost": ("new", 100, "no-reply", "reserved-not-approved", False),
}


@pytest.mark.parametrize("name", list(ONE_ORDER))
def test_one_order_presets_match_the_seed(name):
    sim, events = run_preset(name)
    state, reserved, saw, divergence, ok = ONE_ORDER[name]
    [order] = list(sim.iter_orders())
    assert (order["order_state"], order["credit_reserved"], order["sender_saw"],
            order["divergence"]) == (state, reserved, saw, divergence)
    assert sim.invariant()["ok"] is ok
    if name in FAILURE_POINTS:
        # The preset's failure point is the one that struck.
        began = next(e for e in events if e["seq"] == order["diverged_at_seq"])
        assert began["point"] == name


def test_four_failures_one_silence_shows_each_truth_behind_the_same_sender_view():
    sim, events = run_preset("four-failures")
    orders = list(sim.iter_orders())
    outcome = [(o["order_state"], o["credit_reserved"], o["sender_saw"], o["divergence"])
               for o in orders]
    # The first order goes through, then one per failure point, in the seed's order:
    # the same outcomes as the one-order presets, all in one run.
    assert outcome == [ONE_ORDER[name][:4] for name in (
        "happy-path", "request-lost", "crash-before-processing", "crash-after-processing",
        "reply-lost")]
    # What the sender saw is identical for the four failures: only silence.
    assert len({o["sender_saw"] for o in orders[1:]}) == 1
    assert len({o["order_state"] for o in orders[1:]}) == 1
    # Each order met its own failure point, and only that one.
    by_seq = {e["seq"]: e for e in events}
    struck = [by_seq[o["diverged_at_seq"]]["point"] for o in orders[1:]]
    # (the seed's four points: sender-crash came later and is not in this preset)
    assert struck == [p for p in FAILURE_POINTS if p != "sender-crash"]
    assert sim.summary()["receiver_crashes"] == 2


def test_lossy_network_shows_both_kinds_of_divergence():
    sim, _ = run_preset("lossy-network")
    summary = sim.summary()
    assert summary["orders"] == 200
    assert 0 < summary["diverged"] < 60
    assert summary["consistent"] + summary["diverged"] == 200
    kinds = {o["divergence"] for o in sim.iter_orders()}
    assert kinds == {None, "stuck-new", "reserved-not-approved"}
    assert sim.invariant()["ok"] is False and sim.invariant()["unbacked"] > 0


def test_metrics_stream_loses_a_little_and_corrupts_nothing():
    sim, events = run_preset("metrics-stream")
    m = sim.metrics()
    assert m["true_count"] == 400
    lost = m["true_count"] - m["seen_count"]
    assert 0 < lost < 50
    assert lost == sim.summary()["messages_lost"]
    assert m["seen_mean"] == pytest.approx(m["true_mean"], rel=0.03)
    assert m["drift"] < 0.03
    assert sim.summary()["diverged"] == 0 and sim.orders == 0
    assert sim.invariant()["ok"] is True
    recorded = [e for e in events if e["type"] == "sample-recorded"]
    assert len(recorded) == m["seen_count"]
    assert recorded[-1]["seen_mean"] == m["seen_mean"]
    assert "metrics" in sim.report()


def test_metrics_stream_under_every_failure_point_still_corrupts_nothing():
    for point in FAILURE_POINTS:
        sim, _ = run_preset("metrics-stream",
                            {"failures": {point: {"probability": 0.1}}, "restart_after": 0.2})
        m = sim.metrics()
        # (samples travel no reply leg, and the sender's crash is not the sampler's)
        assert m["seen_count"] < m["true_count"] or point in ("reply-lost", "sender-crash")
        assert m["seen_mean"] == pytest.approx(m["true_mean"], rel=0.05)
        assert sim.invariant()["ok"] is True and sim.summary()["diverged"] == 0


def test_overrides_lay_over_the_preset():
    config = preset_config("lossy-network", {"orders": 3, "failures": {"reply-lost": "on"}})
    assert config.orders == 3
    assert config.failures["reply-lost"].mode == "on"
    assert config.failures["request-lost"].probability == 0.05  # kept from the preset
    assert preset_config("happy-path").failures == preset_config("happy-path", {}).failures


def test_presets_are_not_changed_by_overrides():
    before = repr(PRESETS)
    preset_config("request-lost", {"failures": {"reply-lost": "on"}, "seed": 4})
    preset_script("happy-path").append((1.0, {"cmd": "create-order"}))
    assert repr(PRESETS) == before


@pytest.mark.parametrize("name", ["nope", None, 3, ["happy-path"], {"a": 1}])
def test_unknown_scenario_is_a_config_error(name):
    with pytest.raises(ConfigError) as info:
        preset_config(name)
    assert info.value.field == "scenario"
    assert "happy-path" in info.value.allowed


def test_bad_override_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        preset_config("happy-path", {"reply_timeout": -1})
    assert info.value.field == "reply_timeout"
