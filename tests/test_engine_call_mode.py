"""The call mode (issue 11, lesson 6): async (the default, unchanged) or sync (one blocking
call at a time, with the reply timeout; orders created meanwhile queue). Synchronous or
asynchronous makes no difference to what the sender can know."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Config, ConfigError, Simulation, preset_config, preset_names, preset_script
from engine.runfile import RunFileError, dump_run, load_run, read_run_text
from tests.test_engine_properties import OPS, SETTINGS, check_run_at_rest, configs, drive

# Fixed latencies: every order's messages take the same time, so "the first reply" is
# order 1's in both modes. Round trip 1.0 + 0.3 + 1.0 = 2.3 s, within the 4 s timeout.
FIXED = {"request_latency": [1.0, 1.0], "reply_latency": [1.0, 1.0], "processing_time": 0.3,
         "reply_timeout": 4.0}


def run(config: Config, script: list[tuple[float, dict]]) -> tuple[Simulation, list[dict]]:
    sim = Simulation(config)
    events: list[dict] = []
    sim.run_script(script, events.append)
    return sim, events


def three_at_once(call: str, **fields) -> tuple[Simulation, list[dict]]:
    config = Config.from_dict({**FIXED, **fields}, call=call)
    return run(config, [(0.0, {"cmd": "create-order"})] * 3)


def requests(events: list[dict]) -> list[dict]:
    return [e for e in events if e["type"] == "message-sent" and e["leg"] == "request"]


def call_end(events: list[dict], order: int) -> dict:
    """The event that ended order's call: its reply in time, or its timeout."""
    [end] = [e for e in events if e.get("order") == order
             and e["type"] in ("order-state-changed", "sender-timeout")]
    return end


def sender_view(sim: Simulation, order: int) -> dict:
    view = sim.order_view(order)
    del view["diverged_at_seq"]  # a seq: the two modes number their events differently
    return view


# ------------------------------------------------------------------ config and defaults
def test_the_default_is_async():
    assert Config().call == "async"
    assert Config.from_dict({}).to_dict()["call"] == "async"
    assert Config.from_dict(call="sync").call == "sync"


@pytest.mark.parametrize("value", ["bogus", "SYNC", "", None, 1, True, ["sync"], {"a": 1}])
def test_call_must_be_async_or_sync(value):
    with pytest.raises(ConfigError) as info:
        Config.from_dict(call=value)
    assert info.value.field == "call"
    assert info.value.allowed == "one of async, sync"
    json.dumps(info.value.as_dict())


def test_a_run_file_with_a_bad_call_is_refused_naming_the_field():
    data = dump_run(Config(), [])
    data["config"]["call"] = "blocking"
    with pytest.raises(RunFileError) as info:
        load_run(data)
    assert info.value.field == "config.call"


SCRIPTED = [(0.0, {"cmd": "create-order"}), (0.1, {"cmd": "create-order", "amount": 950}),
            (0.2, {"cmd": "set-failure", "point": "reply-lost", "mode": "next"}),
            (0.3, {"cmd": "create-order"}), (5.0, {"cmd": "set-credit-limit",
                                                   "credit_limit": 50}),
            (5.0, {"cmd": "create-order"})]


@pytest.mark.parametrize("name", preset_names())
@pytest.mark.parametrize("seed", [1, 7])
def test_async_set_explicitly_makes_the_same_events_as_today(name, seed):
    implicit = run(preset_config(name, {"seed": seed}), preset_script(name))[1]
    explicit = run(preset_config(name, {"seed": seed, "call": "async"}),
                   preset_script(name))[1]
    assert explicit == implicit and implicit
    assert not [e for e in implicit if e["type"].startswith("call-")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_async_set_explicitly_changes_nothing_with_commands_and_losses(seed):
    fields = {"seed": seed, "orders": 40, "order_interval": 0.2,
              "failures": {"request-lost": {"probability": 0.1},
                           "crash-after-processing": {"probability": 0.05},
                           "reply-lost": {"probability": 0.1}}}
    implicit_sim, implicit = run(Config.from_dict(fields), SCRIPTED)
    explicit_sim, explicit = run(Config.from_dict(fields, call="async"), SCRIPTED)
    assert explicit == implicit
    assert list(explicit_sim.iter_orders()) == list(implicit_sim.iter_orders())
    assert "calls" not in explicit_sim.snapshot()


# ------------------------------------------------------------------ sync: one at a time
def test_sync_sends_three_orders_created_at_once_one_at_a_time():
    sim, events = three_at_once("sync")
    created = [e for e in events if e["type"] == "order-created"]
    assert [(e["order"], e["t"]) for e in created] == [(1, 0.0), (2, 0.0), (3, 0.0)]
    queued = [e for e in events if e["type"] == "call-queued"]
    assert [(e["order"], e["waiting_for"], e["queued"]) for e in queued] == [(2, 1, 1),
                                                                            (3, 1, 2)]
    started = [e for e in events if e["type"] == "call-started"]
    assert [e["order"] for e in started] == [1, 2, 3]
    sent = requests(events)
    assert [e["order"] for e in sent] == [1, 2, 3]
    for before, after in zip(sent, sent[1:], strict=False):
        end = call_end(events, before["order"])
        assert end["type"] == "order-state-changed"  # no failure: each call got its reply
        assert after["t"] == end["t"] and after["seq"] > end["seq"]
    assert [e["t"] for e in sent] == pytest.approx([0.0, 2.3, 4.6])
    for start, message in zip(started, sent, strict=True):
        # call-started comes just before its message-sent, and names it
        assert message["seq"] == start["seq"] + 1 and message["msg"] == start["msg"]
        assert start["timeout_at"] == pytest.approx(start["t"] + 4.0)
    assert [o["order_state"] for o in sim.iter_orders()] == ["approved"] * 3
    assert sim.summary()["consistent"] == 3 and sim.idle


def test_async_sends_the_same_three_orders_at_once():
    _sim, events = three_at_once("async")
    assert [e["t"] for e in requests(events)] == [0.0, 0.0, 0.0]


def test_sync_snapshot_shows_the_outstanding_call_and_the_queue():
    sim = Simulation(Config.from_dict(FIXED, call="sync"))
    for _ in range(3):
        sim.apply({"cmd": "create-order"})
    snap = sim.snapshot()
    assert snap["calls"] == {"outstanding": 1, "queued": 2}
    assert [o["sender_saw"] for o in snap["orders"]] == ["waiting"] * 3
    assert [m["order"] for m in snap["in_flight"]] == [1]
    sim.advance(2.3)
    assert sim.snapshot()["calls"] == {"outstanding": 2, "queued": 1}
    sim.run()
    assert sim.snapshot()["calls"] == {"outstanding": None, "queued": 0}


@pytest.mark.parametrize("point, divergence", [
    ("reply-lost", "reserved-not-approved"),
    ("crash-before-processing", "stuck-new"),
])
def test_a_failed_first_call_looks_the_same_to_the_sender_in_both_modes(point, divergence):
    failure = {"failures": {point: {"mode": "next"}}}
    sync_sim, sync_events = three_at_once("sync", **failure)
    async_sim, async_events = three_at_once("async", **failure)
    for sim, events in ((sync_sim, sync_events), (async_sim, async_events)):
        view = sim.order_view(1)
        assert (view["order_state"], view["sender_saw"], view["divergence"]) == (
            "new", "no-reply", divergence)
        timeout = call_end(events, 1)
        assert timeout["type"] == "sender-timeout" and timeout["t"] == 4.0
        assert {k: timeout[k] for k in ("order", "msg", "state", "outcome")} == {
            "order": 1, "msg": 1, "state": "new", "outcome": "unknown"}
    # What the sender knows of order 1 is the same, field for field.
    assert sender_view(sync_sim, 1) == sender_view(async_sim, 1)
    # Sync: order 2 is sent only once order 1's call has timed out, and not before.
    timeout = call_end(sync_events, 1)
    second = requests(sync_events)[1]
    assert second["order"] == 2
    assert second["t"] == timeout["t"] == 4.0 and second["seq"] > timeout["seq"]
    # ... and then orders 2 and 3 go through.
    assert [o["order_state"] for o in sync_sim.iter_orders()] == ["new", "approved",
                                                                  "approved"]


def test_a_late_reply_is_ignored_and_does_not_end_the_newer_call():
    # Timeout 1.5 s, round trip 2.3 s: every call times out, every reply comes late.
    sim, events = three_at_once("sync", reply_timeout=1.5)
    ignored = [e for e in events if e["type"] == "reply-ignored"]
    assert [e["order"] for e in ignored] == [1, 2, 3]
    assert ignored[0]["t"] == pytest.approx(2.3)  # while order 2's call is outstanding
    started = [e for e in events if e["type"] == "call-started"]
    # Order 3's call starts at order 2's timeout (1.5 + 1.5), not at order 1's late reply.
    assert [e["t"] for e in started] == pytest.approx([0.0, 1.5, 3.0])
    assert started[2]["seq"] == call_end(events, 2)["seq"] + 2  # after its order-diverged
    assert [o["sender_saw"] for o in sim.iter_orders()] == ["no-reply"] * 3
    assert sim.summary()["replies_ignored"] == 3


def test_create_order_commands_queue_behind_the_order_stream():
    config = Config.from_dict(FIXED, call="sync", orders=3, order_interval=0.01, seed=4)
    sim, events = run(config, [(0.5, {"cmd": "create-order", "amount": 7})])
    assert [e["order"] for e in requests(events)] == [1, 2, 3, 4]
    assert sim.order_view(4)["amount"] == 7
    check_run_at_rest(sim, events)


def test_sync_is_deterministic_and_the_seed_matters():
    config = Config.from_dict(call="sync", seed=11, orders=60, order_interval=0.3,
                              failures={"request-lost": {"probability": 0.1},
                                        "crash-before-processing": {"probability": 0.05},
                                        "reply-lost": {"probability": 0.1}})
    first = run(config, SCRIPTED)[1]
    assert run(config, SCRIPTED)[1] == first
    other = run(Config.from_dict(config.to_dict(), seed=12), SCRIPTED)[1]
    assert other != first


def test_a_sync_run_replays_from_its_run_file_event_for_event():
    config = Config.from_dict(call="sync", seed=5, orders=30, order_interval=0.4,
                              failures={"reply-lost": {"probability": 0.2},
                                        "crash-after-processing": {"probability": 0.1}})
    sim, events = run(config, SCRIPTED)
    text = json.dumps(dump_run(sim.config, sim.command_log))
    loaded, log, _scenario = load_run(read_run_text(text))
    assert loaded.call == "sync"
    replayed, again = Simulation.replay(loaded, log)
    assert again == events
    assert list(replayed.iter_orders()) == list(sim.iter_orders())


def test_sync_report_mode_and_dropped_orders_agree_with_a_full_trace():
    # Orders come a little faster than calls end: the queue grows, and a streaming run
    # (keep_orders=False) must never drop an order still waiting for its call.
    config = Config.from_dict(FIXED, call="sync", seed=3, orders=4500, order_interval=2.2,
                              failures={"reply-lost": {"probability": 0.05}})
    full = Simulation(config)
    full.run()
    streamed = Simulation(config, keep_orders=False)
    streamed.run()
    quiet = Simulation(config, trace=False)
    quiet.run()
    assert streamed._base > 0  # some orders were dropped
    assert streamed.summary() == full.summary() == quiet.summary()
    assert streamed.seq == full.seq == quiet.seq
    assert list(streamed.iter_orders()) == list(full.iter_orders())[streamed._base:]


# ------------------------------------------------------------------ properties
def check_one_call_at_a_time(events: list[dict]) -> None:
    outstanding = None
    pending: list[int] = []
    for i, e in enumerate(events):
        kind, order = e["type"], e.get("order")
        if kind == "call-started":
            assert outstanding is None, f"call for {order} while {outstanding} outstanding"
            assert order == pending.pop(0)  # oldest first
            outstanding = order
            nxt = events[i + 1]
            assert (nxt["type"], nxt["leg"], nxt["order"]) == ("message-sent", "request",
                                                                order)
        elif kind == "order-created":
            pending.append(order)
            nxt = events[i + 1]
            assert nxt["type"] in ("call-started", "call-queued") and nxt["order"] == order
            assert (nxt["type"] == "call-queued") is (outstanding is not None)
        elif kind == "message-sent" and e["leg"] == "request" and order:
            assert events[i - 1]["type"] == "call-started"
        elif kind in ("order-state-changed", "sender-timeout", "outbox-lost"):
            # Only the outstanding call can return (or be lost in a sender crash: the next
            # call starts when the sender restarts).
            assert order == outstanding
            outstanding = None
    assert outstanding is None and not pending


@SETTINGS
@given(configs(call="sync"), OPS)
def test_sync_has_at_most_one_call_outstanding(config, ops):
    assert config.call == "sync"
    sim, events = drive(config, ops)
    check_run_at_rest(sim, events)
    check_one_call_at_a_time(events)
    quiet, _ = Simulation.replay(config, sim.command_log, trace=False)  # report mode
    assert quiet.summary() == sim.summary() and quiet.seq == sim.seq


@settings(max_examples=100, deadline=None)
@given(configs(call="sync"), OPS)
def test_sync_replays_event_for_event(config, ops):
    sim, events = drive(config, ops)
    replayed, again = Simulation.replay(config, sim.command_log)
    assert again == events


@settings(max_examples=100, deadline=None)
@given(configs(), OPS)
def test_async_explicit_equals_default_on_random_runs(config, ops):
    assert config.call == "async"
    _sim, implicit = drive(config, ops)
    _sim, explicit = drive(Config.from_dict(config.to_dict(), call="async"), ops)
    assert explicit == implicit


@given(st.sampled_from(["async", "sync"]))
def test_the_call_mode_survives_a_round_trip(call):
    config = Config.from_dict(call=call)
    assert Config.from_dict(config.to_dict()) == config


def test_a_sync_run_restored_from_a_checkpoint_goes_on_the_same():
    config = Config.from_dict(FIXED, call="sync", orders=20, order_interval=0.1, seed=2,
                              failures={"reply-lost": {"probability": 0.3}})
    sim = Simulation(config)
    sim.advance(6.0)
    assert sim.queued_calls()  # mid-run, with orders waiting
    restored = Simulation.restore(config, sim.checkpoint(), sim.command_log)
    assert restored.snapshot() == sim.snapshot()
    rest, again = [], []
    sim.run(sink=rest.append)
    restored.run(sink=again.append)
    assert again == rest
