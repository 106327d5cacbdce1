"""Property tests over random configs and random command logs (hypothesis)."""

from __future__ import annotations

from collections import Counter, defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import FAILURE_POINTS, SEED_FAILURE_POINTS, Config, Simulation

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

POINTS = st.sampled_from(FAILURE_POINTS)
MODES = st.sampled_from(["off", "off", "next", "on"])
PROBABILITIES = st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]) | st.floats(0.0, 1.0)
_SECONDS = st.floats(0.0, 3.0).map(lambda x: round(x, 4))
LATENCY = st.tuples(_SECONDS, _SECONDS).map(sorted)
SETTING = st.fixed_dictionaries({"mode": MODES, "probability": PROBABILITIES})


def configs(failures=st.dictionaries(POINTS, SETTING), **fixed) -> st.SearchStrategy:
    fields = {
        "seed": st.integers(0, 2**63 - 1),
        "request_latency": LATENCY,
        "reply_latency": LATENCY,
        "processing_time": st.floats(0.0, 2.0),
        "reply_timeout": st.floats(0.001, 10.0),
        "restart_after": st.floats(0.0, 5.0),
        "credit_limit": st.integers(0, 3000),
        "amount": st.integers(1, 500),
        "orders": st.integers(0, 50),
        "order_interval": st.floats(0.01, 2.0),
        "samples": st.integers(0, 20),
        "sample_interval": st.floats(0.05, 1.0),
        "failures": failures,
    }
    fields.update({k: st.just(v) if not isinstance(v, st.SearchStrategy) else v
                   for k, v in fixed.items()})
    return st.fixed_dictionaries(fields).map(Config.from_dict)


CREATE = st.builds(lambda a: {"cmd": "create-order", **({"amount": a} if a else {})},
                   st.none() | st.integers(1, 500))
CREDIT = st.builds(lambda c: {"cmd": "set-credit-limit", "credit_limit": c},
                   st.integers(0, 3000))
SET_FAILURE = st.one_of(
    st.fixed_dictionaries({"cmd": st.just("set-failure"), "point": POINTS, "mode": MODES}),
    st.fixed_dictionaries({"cmd": st.just("set-failure"), "point": POINTS,
                           "probability": PROBABILITIES}),
    st.fixed_dictionaries({"cmd": st.just("set-failure"), "point": POINTS, "mode": MODES,
                           "probability": PROBABILITIES}),
)
COMMAND = st.one_of(CREATE, CREATE, CREDIT, SET_FAILURE)

# A session's way of driving the engine: step, advance (capped or not), apply a command.
OPS = st.lists(st.one_of(
    st.tuples(st.just("step")),
    st.tuples(st.just("advance"), st.floats(0.0, 3.0), st.none() | st.integers(1, 4)),
    st.tuples(st.just("apply"), COMMAND),
), max_size=25)


def drive(config: Config, ops: list, trace: bool = True) -> tuple[Simulation, list[dict]]:
    sim = Simulation(config, trace=trace)
    events: list[dict] = []
    for op in ops:
        if op[0] == "step":
            events += sim.step()
        elif op[0] == "advance":
            events += sim.advance(sim.now + op[1], max_events=op[2])
        else:
            events += sim.apply(op[1])
        check_books(sim)
    sim.run(sink=events.append)
    events += sim.advance(sim.now)  # anything a capped advance left buffered
    assert sim.idle
    return sim, events


def check_books(sim: Simulation) -> None:
    """What holds at every moment, not just at rest."""
    inv = sim.invariant()
    assert inv["reserved"] == inv["approved_total"] + inv["pending"] + inv["unbacked"]
    assert inv["unbacked"] >= 0 and inv["pending"] >= 0
    assert inv["ok"] is (inv["unbacked"] == 0)
    s = sim.summary()
    assert s["messages_in_flight"] >= 0 and s["in_flight"] >= 0


def check_run_at_rest(sim: Simulation, events: list[dict]) -> None:
    # -- the event stream
    assert [e["seq"] for e in events] == list(range(1, sim.seq + 1))
    times = [e["t"] for e in events]
    assert times == sorted(times)
    low_latency = min(sim.config.request_latency[0], sim.config.reply_latency[0])

    sent: dict[int, dict] = {}
    resolved: Counter = Counter()
    per_order: dict[int, Counter] = defaultdict(Counter)
    for e in events:
        kind = e["type"]
        order = e.get("order")
        if kind == "message-sent":
            assert e["msg"] not in sent  # a message is sent once: nothing is retried
            assert e["sent_at"] == e["t"] <= e["arrives_at"]
            if low_latency > 0:
                assert e["sent_at"] < e["arrives_at"]
            sent[e["msg"]] = e
            if order:
                per_order[order][(e["leg"], "sent")] += 1
        elif kind in ("message-delivered", "message-lost"):
            origin = sent[e["msg"]]
            resolved[e["msg"]] += 1
            assert (e["leg"], e["kind"], e["order"]) == (
                origin["leg"], origin["kind"], origin["order"])
            if kind == "message-delivered":
                assert e["t"] == origin["arrives_at"]
            else:
                assert 0.0 <= e["at"] <= 1.0
                assert origin["sent_at"] <= e["t"] <= origin["arrives_at"]
        elif kind == "message-forgotten":
            assert resolved[e["msg"]] == 1  # only a delivered message can be forgotten
        elif kind == "credit-reserved":
            assert e["available"] >= 0
        if order and kind != "message-sent":
            per_order[order][kind] += 1
    # At-most-once: every message sent once and delivered or lost exactly once.
    assert set(resolved) == set(sent) and set(resolved.values()) <= {1}

    # -- per order: one OrderCreated, at most one reply, at most one outcome
    assert sorted(per_order) == list(range(1, sim.orders + 1))
    for seen in per_order.values():
        assert seen["order-created"] == 1
        assert seen[("request", "sent")] == 1
        assert seen[("reply", "sent")] <= 1
        assert seen["processing-started"] <= 1
        assert seen["credit-reserved"] + seen["credit-refused"] <= 1
        assert seen["order-state-changed"] <= 1 and seen["sender-timeout"] <= 1
        # It ends one way: a reply in time, the timeout, or its outbox entry lost when the
        # sender crashed (sender-crash, in-memory outbox).
        assert (seen["order-state-changed"] + seen["sender-timeout"]
                + seen["outbox-lost"]) == 1

    # -- the counts add up
    s = sim.summary()
    kinds = Counter(e["type"] for e in events)
    assert s["messages_sent"] == kinds["message-sent"] == len(sent)
    assert s["messages_delivered"] == kinds["message-delivered"]
    assert s["messages_lost"] == kinds["message-lost"]
    assert s["messages_forgotten"] == kinds["message-forgotten"]
    assert s["messages_sent"] == s["messages_delivered"] + s["messages_lost"]
    assert s["messages_in_flight"] == 0 and s["in_flight"] == 0
    assert s["diverged"] + s["consistent"] + s["in_flight"] == s["orders"] == sim.orders
    assert s["receiver_crashes"] == kinds["receiver-crashed"]
    assert s["sender_timeouts"] == kinds["sender-timeout"]
    assert s["replies_ignored"] == kinds["reply-ignored"]
    assert s["sender_crashes"] == kinds["sender-crashed"] == kinds["sender-restarted"]
    assert s["outbox_lost"] == kinds["outbox-lost"]
    # At-most-once: nothing retried, no duplicate, nothing reserved twice.
    assert s["retries"] == s["duplicates_delivered"] == s["duplicates_suppressed"] == 0
    assert s["double_reserved"] == 0

    # -- truth, belief and judgement per order
    orders = list(sim.iter_orders())
    inv = sim.invariant()
    assert (inv["reserved"] == sum(o["credit_reserved"] for o in orders)
            == sim.customer()["reserved"])
    assert inv["approved_total"] == sum(o["amount"] for o in orders
                                        if o["order_state"] == "approved")
    assert inv["pending"] == 0
    assert inv["unbacked"] == sum(o["credit_reserved"] for o in orders
                                  if o["judgement"] == "diverged")
    assert inv["reserved"] == inv["approved_total"] + inv["pending"] + inv["unbacked"]
    assert inv["ok"] is (inv["unbacked"] == 0)
    if not inv["ok"]:
        assert events[inv["broken_at_seq"] - 1]["type"] == "invariant-broken"
    by_seq = {e["seq"]: e for e in events}
    for o in orders:
        state, reserved = o["order_state"], o["credit_reserved"]
        assert o["sender_saw"] in ("reply", "no-reply")
        assert reserved in (0, o["amount"])
        assert o["attempts"] == 1 and o["times_reserved"] == (1 if reserved else 0)
        assert (o["sender_saw"] == "reply") is (state != "new")
        if o["judgement"] == "consistent":
            assert o["consistent"] and o["divergence"] is None
            assert (state, reserved) in (("approved", o["amount"]), ("cancelled", 0))
        else:
            assert o["judgement"] == "diverged" and not o["consistent"]
            assert state == "new"
            assert o["divergence"] == ("reserved-not-approved" if reserved else "stuck-new")
            began = by_seq[o["diverged_at_seq"]]
            assert began["order"] == o["id"]
            assert began["type"] in ("message-lost", "receiver-crashed", "message-forgotten",
                                     "sender-timeout", "outbox-lost")
            marks = [e for e in events if e["type"] == "order-diverged"
                     and e["order"] == o["id"]]
            assert marks and all(m["diverged_at_seq"] == began["seq"] for m in marks)
            assert marks[-1]["divergence"] == o["divergence"]
            assert marks[0]["seq"] >= began["seq"]

    # -- the metrics stream: every sample is seen, lost on the way, or lost in a crash
    m = sim.metrics()
    samples_lost = sum(1 for e in events if e["type"] == "message-lost"
                       and e["kind"] == "MetricSample")
    samples_forgotten = sum(1 for e in events if e["type"] == "message-forgotten"
                            and e["kind"] == "MetricSample")
    assert m["true_count"] == sim.config.samples
    assert m["seen_count"] + samples_lost + samples_forgotten == m["true_count"]


@SETTINGS
@given(configs(), OPS)
def test_random_runs_keep_the_books(config, ops):
    sim, events = drive(config, ops)
    check_run_at_rest(sim, events)


@SETTINGS
@given(configs(), OPS)
def test_determinism_same_inputs_same_trace_and_replay(config, ops):
    sim, events = drive(config, ops)
    again, events_again = drive(config, ops)
    assert events_again == events
    assert again.report() == sim.report()
    replayed_sim, replayed = Simulation.replay(config, sim.command_log)
    assert replayed == events
    # The log does not record a clock moved by advance() after the last event: ask for it.
    replayed_sim, _ = Simulation.replay(config, sim.command_log, until=sim.now)
    assert replayed_sim.report() == sim.report()
    # Report mode (no events kept) reaches the very same end.
    quiet, nothing = Simulation.replay(config, sim.command_log, until=sim.now, trace=False)
    assert nothing == []
    assert quiet.report() == sim.report()
    assert quiet.summary() == sim.summary()


UNCAPPED_OPS = st.lists(st.one_of(
    st.tuples(st.just("step")),
    st.tuples(st.just("advance"), st.floats(0.0, 3.0), st.none()),
    st.tuples(st.just("apply"), COMMAND),
), max_size=25)


@SETTINGS
@given(configs(), UNCAPPED_OPS)
def test_trace_on_and_off_give_the_same_report(config, ops):
    loud, _ = drive(config, ops, trace=True)
    quiet, _ = drive(config, ops, trace=False)
    assert quiet.report() == loud.report()
    assert quiet.command_log == loud.command_log


def sender_view(events: list[dict]) -> list[tuple]:
    """What the Order service observes: its orders, its requests, replies, timeouts.

    Message ids and planned arrival times are left out: the id is a counter shared with the
    receiver's replies, and the arrival time is the network's, not something the sender sees.
    """
    seen = []
    for e in events:
        kind = e["type"]
        if kind == "order-created":
            seen.append((kind, e["t"], e["order"], e["amount"], e["state"]))
        elif kind == "message-sent" and e["leg"] == "request":
            seen.append((kind, e["t"], e["order"], e["kind"], e["sent_at"]))
        elif kind == "message-delivered" and e["leg"] == "reply":
            seen.append((kind, e["t"], e["order"], e["kind"]))
        elif kind in ("sender-timeout", "order-state-changed", "reply-ignored"):
            seen.append((kind, e["t"], e["order"], e.get("outcome"), e.get("to")))
    return seen


SENDER_OPS = st.lists(st.tuples(st.floats(0.0, 3.0), st.one_of(CREATE, CREDIT)), max_size=12)
# The seed's four points: the sender sees the same silence for each (it knows of its own
# crash, so sender-crash is not among them).
NO_SWITCHES = st.dictionaries(st.sampled_from(SEED_FAILURE_POINTS), st.fixed_dictionaries(
    {"mode": st.just("off"), "probability": PROBABILITIES}))


@SETTINGS
@given(configs(failures=NO_SWITCHES), SENDER_OPS)
def test_the_sender_sees_the_same_whichever_failure_point_is_on(config, timed_commands):
    views = {}
    for point in SEED_FAILURE_POINTS:
        failures = config.to_dict()["failures"]
        failures[point] = {"mode": "on", "probability": failures[point]["probability"]}
        sim = Simulation(Config.from_dict(config.to_dict(), failures=failures))
        events: list[dict] = []
        for delay, command in timed_commands:
            events += sim.advance(sim.now + delay)
            events += sim.apply(command)
        sim.run(sink=events.append)
        views[point] = sender_view(events)
        assert all(o["sender_saw"] == "no-reply" for o in sim.iter_orders())
        assert sim.summary()["consistent"] == 0
    first = views[SEED_FAILURE_POINTS[0]]
    for point in SEED_FAILURE_POINTS[1:]:
        assert views[point] == first, point


@SETTINGS
@given(configs(failures=st.just({})), st.floats(0.001, 5.0),
       st.lists(st.tuples(st.floats(0.0, 3.0), st.one_of(CREATE, CREDIT)), max_size=12))
def test_every_order_ends_consistent_without_failures_and_a_long_enough_timeout(
        config, margin, timed_commands):
    config = Config.from_dict(config.to_dict(), reply_timeout=config.round_trip_max() + margin)
    sim = Simulation(config)
    events: list[dict] = []
    for delay, command in timed_commands:
        events += sim.advance(sim.now + delay)
        events += sim.apply(command)
    sim.run(sink=events.append)
    check_run_at_rest(sim, events)
    assert all(o["consistent"] for o in sim.iter_orders())
    s = sim.summary()
    assert s["consistent"] == s["orders"] and s["diverged"] == 0
    assert s["messages_lost"] == 0 and s["receiver_crashes"] == 0
    assert s["sender_timeouts"] == 0 and s["replies_ignored"] == 0
    inv = sim.invariant()
    assert inv["ok"] and inv["reserved"] == inv["approved_total"]
    m = sim.metrics()
    assert m["seen_count"] == m["true_count"] and m["drift"] == 0.0
