"""Delivery semantics (issue 12): at-most-once, at-least-once and exactly-once on the same
failure schedules, the sender crash and its outbox, the keyed draws, the truth table.

Property tests (hypothesis) run over failure schedules: failure points armed for the next
message (``next``) at chosen moments, a finite number of strikes, and, where a property
holds under any schedule, probabilities as well.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import FAILURE_POINTS, SEMANTICS, Config, Simulation
from engine.config import backoff
from engine.truth import OUTCOMES, case_config, cases, play_case, truth_table

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

POINTS = st.sampled_from(FAILURE_POINTS)
# Short legs and a reply timeout longer than any round trip and any restart: a reply that
# is not lost always comes in time, and one strike costs an order at most one attempt.
_LATENCY = st.tuples(st.floats(0.1, 1.0), st.floats(0.1, 1.0)).map(sorted)


def configs(**fixed) -> st.SearchStrategy:
    fields = {
        "seed": st.integers(0, 2**63 - 1),
        "request_latency": _LATENCY,
        "reply_latency": _LATENCY,
        "processing_time": st.floats(0.0, 0.5),
        "reply_timeout": st.floats(3.0, 6.0),
        "restart_after": st.floats(0.1, 2.0),
        "credit_limit": st.sampled_from([300, 10_000]),
        "amount": st.integers(1, 300),
        "orders": st.integers(1, 12),
        "order_interval": st.floats(0.05, 2.0),
        "semantics": st.sampled_from(SEMANTICS),
        "outbox": st.sampled_from(["memory", "durable"]),
        "max_attempts": st.integers(1, 6),
    }
    fields.update({k: v if isinstance(v, st.SearchStrategy) else st.just(v)
                   for k, v in fixed.items()})
    return st.fixed_dictionaries(fields)


# A finite failure schedule: (virtual time, point) pairs, each arming the point for the next
# message it applies to.
SCHEDULES = st.lists(st.tuples(st.floats(0.0, 20.0), POINTS), max_size=6)
PROBABILITIES = st.dictionaries(POINTS, st.floats(0.0, 0.6).map(
    lambda p: {"probability": round(p, 3)}))


def run(fields: dict, schedule=(), trace: bool = True) -> tuple[Simulation, list[dict]]:
    sim = Simulation(Config.from_dict(fields), trace=trace)
    events: list[dict] = []
    for at, point in sorted(schedule):
        events += sim.advance(at)
        events += sim.apply({"cmd": "set-failure", "point": point, "mode": "next"})
    sim.run(sink=events.append)
    assert sim.idle
    return sim, events


def check_books(sim: Simulation, events: list[dict]) -> None:
    """What holds at rest under every semantics."""
    assert [e["seq"] for e in events] == list(range(1, sim.seq + 1))
    times = [e["t"] for e in events]
    assert times == sorted(times)
    sent, resolved = {}, Counter()
    attempts: dict[int, list[int]] = defaultdict(list)
    for e in events:
        if e["type"] == "message-sent":
            assert e["msg"] not in sent  # each send is a new message, with its own id
            sent[e["msg"]] = e
            if e["leg"] == "request":
                attempts[e["order"]].append(e["attempt"])
        elif e["type"] in ("message-delivered", "message-lost"):
            resolved[e["msg"]] += 1
            assert e.get("attempt") == sent[e["msg"]].get("attempt")
    assert set(resolved) == set(sent) and set(resolved.values()) == ({1} if sent else set())
    orders = list(sim.iter_orders())
    for o in orders:
        # Attempts are numbered 1, 2, 3, ... with one OrderCreated each.
        assert attempts[o["id"]] == list(range(1, o["attempts"] + 1))
        assert o["attempts"] <= sim.config.attempts()
        assert o["times_reserved"] * o["amount"] == o["credit_reserved"]
        assert o["judgement"] in ("consistent", "diverged")
        consistent = (o["order_state"], o["times_reserved"]) in (("approved", 1),
                                                                  ("cancelled", 0))
        assert o["consistent"] is consistent
        if o["times_reserved"] > 1:
            assert o["divergence"] == "double-reserved"
    s = sim.summary()
    kinds = Counter(e["type"] for e in events)
    assert s["retries"] == kinds["message-sent"] - kinds["order-created"] - sum(
        1 for e in events if e["type"] == "message-sent" and e["leg"] == "reply")
    assert s["retries"] == sum(o["attempts"] - 1 for o in orders)
    assert kinds["retry-scheduled"] >= s["retries"]
    assert s["duplicates_delivered"] == kinds["duplicate-delivered"]
    assert s["duplicates_suppressed"] == kinds["duplicate-suppressed"]
    assert s["double_reserved"] == sum(1 for o in orders if o["times_reserved"] > 1)
    assert s["sender_crashes"] == kinds["sender-crashed"] == kinds["sender-restarted"]
    assert s["outbox_lost"] == kinds["outbox-lost"]
    assert s["consistent"] + s["diverged"] == s["orders"] == len(orders)
    inv = sim.invariant()
    assert inv["pending"] == 0
    assert inv["reserved"] == sum(o["credit_reserved"] for o in orders)
    assert inv["approved_total"] == sum(o["amount"] for o in orders
                                        if o["order_state"] == "approved")
    assert inv["unbacked"] == inv["reserved"] - inv["approved_total"] >= 0
    assert inv["ok"] is (inv["unbacked"] == 0)


# ------------------------------------------------------------------ properties
@SETTINGS
@given(configs(semantics="at-most-once"), SCHEDULES, PROBABILITIES)
def test_at_most_once_never_delivers_a_message_twice(fields, schedule, failures):
    sim, events = run({**fields, "failures": failures}, schedule)
    check_books(sim, events)
    delivered = Counter(e["msg"] for e in events if e["type"] == "message-delivered")
    assert set(delivered.values()) <= {1}
    per_order = Counter(e["order"] for e in events
                        if e["type"] == "message-sent" and e["leg"] == "request")
    assert set(per_order.values()) <= {1}  # one OrderCreated per order: nothing retried
    reactions = Counter(e["order"] for e in events
                        if e["type"] in ("credit-reserved", "credit-refused"))
    assert set(reactions.values()) <= {1}
    s = sim.summary()
    assert s["retries"] == s["duplicates_delivered"] == s["duplicates_suppressed"] == 0
    assert s["double_reserved"] == 0


@SETTINGS
@given(configs(semantics="at-least-once", outbox="durable"), SCHEDULES)
def test_at_least_once_finishes_every_order_when_attempts_suffice(fields, schedule):
    # One strike costs an order at most one attempt (the timeout outlasts any restart), so
    # one attempt more than there are strikes always gets through.
    fields = {**fields, "max_attempts": len(schedule) + 1}
    sim, events = run(fields, schedule)
    check_books(sim, events)
    for order in sim.iter_orders():
        assert order["order_state"] in ("approved", "cancelled"), order
        assert order["sender_saw"] == "reply"
    assert sim.summary()["sender_timeouts"] == 0


def test_at_least_once_can_reserve_twice():
    """One schedule that shows it: the first reply is lost, the retry is processed again."""
    sim, events = run({"semantics": "at-least-once", "orders": 1,
                       "failures": {"reply-lost": "next"}})
    check_books(sim, events)
    [order] = sim.iter_orders()
    assert (order["order_state"], order["times_reserved"], order["attempts"]) == (
        "approved", 2, 2)
    assert order["divergence"] == "double-reserved"
    types = [e["type"] for e in events]
    assert types.index("retry-scheduled") < types.index("duplicate-delivered")
    [dup] = [e for e in events if e["type"] == "duplicate-delivered"]
    assert (dup["order"], dup["attempt"], dup["times_reserved"]) == (1, 2, 1)
    [diverged] = [e for e in events if e["type"] == "order-diverged"]
    assert diverged["divergence"] == "double-reserved"
    began = next(e for e in events if e["seq"] == diverged["diverged_at_seq"])
    assert began["type"] == "credit-reserved" and began["attempt"] == 2
    assert sim.invariant()["unbacked"] == order["amount"]
    assert sim.summary()["double_reserved"] == 1


@SETTINGS
@given(configs(semantics="exactly-once"), SCHEDULES, PROBABILITIES)
def test_exactly_once_never_reserves_twice(fields, schedule, failures):
    sim, events = run({**fields, "failures": failures}, schedule)
    check_books(sim, events)
    assert sim.summary()["double_reserved"] == 0
    assert sim.summary()["duplicates_delivered"] == 0
    for order in sim.iter_orders():
        assert order["times_reserved"] <= 1
    reserved = Counter(e["order"] for e in events if e["type"] == "credit-reserved")
    assert set(reserved.values()) <= {1}


# Receiver crashes between the state change and the reply, again and again.
CRASHES_AFTER = st.lists(st.tuples(st.floats(0.0, 20.0), st.just("crash-after-processing")),
                         min_size=1, max_size=6)


@SETTINGS
@given(configs(semantics="exactly-once", outbox="durable"), CRASHES_AFTER | SCHEDULES)
def test_exactly_once_with_enough_attempts_ends_every_order_consistent(fields, schedule):
    fields = {**fields, "max_attempts": len(schedule) + 1}
    sim, events = run(fields, schedule)
    check_books(sim, events)
    assert all(o["consistent"] for o in sim.iter_orders())
    assert sim.invariant()["ok"]
    # A duplicate is answered with the reply the record keeps, never processed again.
    first_reply = {}
    for e in events:
        if e["type"] in ("credit-reserved", "credit-refused"):
            first_reply.setdefault(e["order"], "CreditReserved" if e["type"] == "credit-reserved"
                                   else "InsufficientCredit")
        elif e["type"] == "duplicate-suppressed":
            assert e["reply"] == first_reply[e["order"]]


# Probabilities only: a 'next' switch strikes the next message in time, which depends on
# the retries other orders make; a probability is drawn per (order, attempt).
@SETTINGS
@given(configs(), PROBABILITIES)
def test_the_first_attempt_meets_the_same_draws_under_every_semantics(fields, failures):
    fates = {}
    for semantics in SEMANTICS:
        _sim, events = run({**fields, "semantics": semantics, "failures": failures})
        fate = {}
        for e in events:
            if e.get("attempt") != 1 or e["leg" if "leg" in e else "type"] != "request":
                continue
            if e["type"] == "message-sent":
                # (the latency: when the order was sent may differ, after a sender crash
                # that only happened under one semantics)
                fate[e["order"]] = [round(e["arrives_at"] - e["sent_at"], 9)]
            elif e["type"] == "message-lost" and e["reason"] == "request-lost":
                fate[e["order"]].append(("lost", round(e["at"], 9)))
        for e in events:
            if e["type"] == "sender-crashed" and e["attempt"] == 1:
                fate[e["order"]].append("sender crashed")
        fates[semantics] = fate
    assert fates["at-least-once"] == fates["at-most-once"] == fates["exactly-once"]


@SETTINGS
@given(configs(credit_limit=10**9), st.dictionaries(
    st.sampled_from(["request-lost", "reply-lost"]),
    st.floats(0.0, 0.6).map(lambda p: {"probability": round(p, 3)})))
def test_with_only_lossy_legs_the_whole_first_attempt_is_the_same(fields, failures):
    """Nothing that one order does can change another's first attempt here (no crash, no
    credit limit): its request and its reply are sent, delivered or lost at the same
    moments under the three semantics."""
    fates = {}
    for semantics in SEMANTICS:
        _sim, events = run({**fields, "semantics": semantics, "failures": failures})
        fates[semantics] = [
            (e["type"], e["t"], e["order"], e["leg"], e.get("arrives_at"))
            for e in events if e.get("attempt") == 1
            and e["type"] in ("message-sent", "message-delivered", "message-lost")]
    assert fates["at-least-once"] == fates["at-most-once"] == fates["exactly-once"]


def test_a_reply_does_not_shift_later_orders_draws():
    """Order 3's request latency is the same whether order 1 was answered or not."""
    def latency_of(order: int, failures: dict) -> float:
        _sim, events = run({"orders": 5, "order_interval": 0.3, "failures": failures})
        [sent] = [e for e in events if e["type"] == "message-sent"
                  and e["leg"] == "request" and e["order"] == order]
        return sent["arrives_at"] - sent["sent_at"]

    assert latency_of(3, {}) == latency_of(3, {"request-lost": "on"})


@SETTINGS
@given(configs(semantics=st.sampled_from(["at-least-once", "exactly-once"])),
       st.lists(st.tuples(st.floats(0.0, 20.0), st.just("sender-crash")), min_size=1,
                max_size=3))
def test_durable_versus_memory_outbox_under_sender_crash(fields, crashes):
    fields = {**fields, "max_attempts": len(crashes) + 1}
    durable, durable_events = run({**fields, "outbox": "durable"}, crashes)
    memory, memory_events = run({**fields, "outbox": "memory"}, crashes)
    check_books(durable, durable_events)
    check_books(memory, memory_events)
    # Durable: nothing is forgotten and every order ends with a reply.
    assert durable.summary()["outbox_lost"] == 0
    assert all(o["sender_saw"] == "reply" for o in durable.iter_orders())
    # Memory: every order the sender waited for when it crashed is forgotten: no retry
    # after the crash, no reply taken, never approved nor cancelled (at-most-once again).
    lost = [e for e in memory_events if e["type"] == "outbox-lost"]
    assert len(lost) == memory.summary()["outbox_lost"] > 0 or \
        memory.summary()["sender_crashes"] == 0
    for e in lost:
        order = memory.order_view(e["order"])
        assert order["order_state"] == "new" and order["judgement"] == "diverged"
        assert order["attempts"] == e["attempt"]
        later = [x for x in memory_events if x["seq"] > e["seq"] and x.get("order") == e["order"]
                 and x["type"] in ("retry-scheduled", "order-state-changed")]
        assert later == []


# ------------------------------------------------------------------ examples
def test_the_retry_waits_the_timeout_then_a_backoff():
    sim, events = run({"semantics": "at-least-once", "orders": 1, "max_attempts": 4,
                       "failures": {"request-lost": "on"}, "reply_timeout": 4.0})
    sent = [e["t"] for e in events if e["type"] == "message-sent"]
    first = sent[0]
    assert [round(t - first, 9) for t in sent] == [0.0, 6.0, 14.0, 26.0]
    assert [backoff(4.0, k) for k in (1, 2, 3, 4, 5, 6)] == [2.0, 4.0, 8.0, 16.0, 16.0, 16.0]
    [timeout] = [e for e in events if e["type"] == "sender-timeout"]
    assert timeout["attempts"] == 4 and timeout["t"] == first + 30.0
    scheduled = [e for e in events if e["type"] == "retry-scheduled"]
    assert [e["attempt"] for e in scheduled] == [2, 3, 4]
    assert [e["due_at"] for e in scheduled] == sent[1:]
    assert sim.order_view(1)["divergence"] == "stuck-new"


def test_a_late_reply_to_an_earlier_attempt_is_taken_and_its_duplicate_ignored():
    # The request takes 5 s, the timeout 4 s, the backoff 2 s: attempt 2 goes out at 6 s,
    # before attempt 1's reply comes (6.8 s); that reply approves the order, attempt 2's
    # reply is ignored.
    sim, events = run({"semantics": "exactly-once", "orders": 1, "reply_timeout": 4.0,
                       "request_latency": [5.0, 5.0], "reply_latency": [1.5, 1.5]})
    check_books(sim, events)
    [changed] = [e for e in events if e["type"] == "order-state-changed"]
    assert changed["attempt"] == 1
    ignored = [e for e in events if e["type"] == "reply-ignored"]
    assert [(e["attempt"], e["reason"]) for e in ignored] == [(2, "already-answered")]
    assert sim.order_view(1)["consistent"]


def test_a_duplicate_after_a_cancel_under_at_least_once():
    # Attempt 1 is refused and its reply is lost; the limit is raised; attempt 2 reserves:
    # the order is approved with credit reserved once: consistent.
    sim = Simulation(Config.from_dict(semantics="at-least-once", credit_limit=0,
                                      failures={"reply-lost": "next"}))
    sim.apply({"cmd": "create-order"})
    sim.advance(5.0)
    sim.apply({"cmd": "set-credit-limit", "credit_limit": 1000})
    sim.run()
    order = sim.order_view(1)
    assert (order["order_state"], order["times_reserved"], order["consistent"]) == (
        "approved", 1, True)


@pytest.mark.parametrize(("outbox", "saw", "lost"), [("memory", "no-reply", 1),
                                                      ("durable", "reply", 0)])
def test_sender_crash_events(outbox, saw, lost):
    sim, events = run({"orders": 1, "outbox": outbox, "failures": {"sender-crash": "next"}})
    types = [e["type"] for e in events]
    crash = events[types.index("sender-crashed")]
    assert (crash["point"], crash["order"], crash["attempt"], crash["outbox"]) == (
        "sender-crash", 1, 1, outbox)
    assert types.index("message-sent") < types.index("sender-crashed")
    restarted = events[types.index("sender-restarted")]
    assert restarted["t"] == crash["restarts_at"]
    assert types.count("outbox-lost") == lost
    assert sim.order_view(1)["sender_saw"] == saw
    assert sim.snapshot()["sender"]["up"] is True


def test_orders_arriving_while_the_sender_is_down_are_created_when_it_restarts():
    sim = Simulation(Config.from_dict(restart_after=2.0, failures={"sender-crash": "next"}))
    sim.apply({"cmd": "create-order"})
    sim.advance(1.0)
    assert sim.apply({"cmd": "create-order"}) == []  # down: nothing happens yet
    assert sim.sender()["deferred_orders"] == 1
    events = sim.advance(2.0)
    types = [e["type"] for e in events]
    start = types.index("sender-restarted")
    assert types[start:start + 3] == ["sender-restarted", "order-created", "message-sent"]
    assert events[start + 1]["order"] == 2 and events[start + 1]["t"] == 2.0


def test_a_reply_while_the_sender_is_down_is_lost_and_a_durable_retry_repairs_it():
    sim, events = run({"semantics": "exactly-once", "outbox": "durable", "orders": 1,
                       "restart_after": 3.0, "failures": {"sender-crash": "next"}})
    [lost] = [e for e in events if e["type"] == "message-lost"]
    assert (lost["leg"], lost["reason"], lost["point"]) == ("reply", "sender-down", None)
    assert [e["type"] for e in events].count("duplicate-suppressed") == 1
    assert sim.order_view(1)["consistent"] and sim.order_view(1)["attempts"] == 2


def test_sync_calls_retry_inside_the_call():
    sim, events = run({"semantics": "at-least-once", "call": "sync", "orders": 2,
                       "order_interval": 0.1, "failures": {"request-lost": "next"}})
    starts = [e for e in events if e["type"] == "call-started"]
    assert [e["order"] for e in starts] == [1, 2]
    retried = next(e for e in events if e["type"] == "message-sent" and e["attempt"] == 2)
    assert retried["order"] == 1 and retried["t"] < starts[1]["t"]
    assert all(o["consistent"] for o in sim.iter_orders())


def test_checkpoint_restore_and_replay_under_retries():
    config = Config.from_dict(semantics="exactly-once", outbox="durable", orders=30,
                              order_interval=0.2, seed=3, failures={
                                  "reply-lost": {"probability": 0.3},
                                  "sender-crash": {"probability": 0.05}})
    sim = Simulation(config)
    sim.advance(8.0)
    restored = Simulation.restore(config, sim.checkpoint(), sim.command_log)
    assert restored.snapshot() == sim.snapshot()
    rest, again = [], []
    sim.run(sink=rest.append)
    restored.run(sink=again.append)
    assert rest == again
    _replayed, events = Simulation.replay(config, sim.command_log)
    assert events[-1] == rest[-1]
    quiet = Simulation(config, trace=False)
    quiet.run()
    assert quiet.report() == sim.report()


def test_streaming_drops_finished_orders_under_retries():
    config = Config.from_dict(semantics="at-least-once", outbox="durable", orders=40_000,
                              order_interval=0.01, credit_limit=10**9, failures={
                                  "reply-lost": {"probability": 0.2},
                                  "sender-crash": {"probability": 0.001}})
    kept = Simulation(config, trace=False)
    kept.run()
    streamed = Simulation(config, trace=False, keep_orders=False)
    streamed.run()
    assert streamed.summary() == kept.summary()
    # Kept: orders since the last drop (every 4,096 orders) and those within the horizon
    # or still waiting (retries run up to ~50 s here: ~5,000 orders), not all 40,000.
    assert len(streamed._state) < 12_000


def test_old_configs_default_to_at_most_once():
    config = Config.from_dict({"seed": 4})
    assert (config.semantics, config.max_attempts, config.outbox) == (
        "at-most-once", 5, "memory")
    for field, value in (("semantics", "twice"), ("max_attempts", 0),
                         ("max_attempts", 101), ("outbox", "disk"), ("semantics", None)):
        with pytest.raises(Exception) as error:
            Config.from_dict({field: value})
        assert error.value.field == field


# ------------------------------------------------------------------ the truth table
def test_the_truth_table_covers_every_combination_under_each_semantics():
    rows = truth_table()
    assert len(rows) == 2 ** len(FAILURE_POINTS) == len(cases())
    assert {tuple(r["failures"]) for r in rows} == set(cases())
    for row in rows:
        assert list(row["cells"]) == list(SEMANTICS)
        for cell in row["cells"].values():
            assert cell["outcome"] in OUTCOMES and cell["reason"]
    by = {tuple(r["failures"]): r["cells"] for r in rows}

    def outcomes(*points):
        return tuple(by[points][s]["outcome"] for s in SEMANTICS)

    assert outcomes() == ("consistent",) * 3
    assert outcomes("request-lost") == ("stuck", "consistent", "consistent")
    assert outcomes("crash-before-processing") == ("stuck", "consistent", "consistent")
    assert outcomes("crash-after-processing") == ("reserved-not-approved", "double-reserved",
                                                  "consistent")
    assert outcomes("reply-lost") == ("reserved-not-approved", "double-reserved",
                                      "consistent")
    # In-memory outbox: the sender crash turns every semantics back into at-most-once.
    assert outcomes("sender-crash") == ("reserved-not-approved",) * 3
    durable = {tuple(r["failures"]): r["cells"] for r in truth_table(outbox="durable")}
    assert all(durable[("sender-crash",)][s]["outcome"] == "consistent" for s in SEMANTICS)
    # Exactly-once with a durable outbox: consistent in every case (five attempts suffice).
    assert all(c["exactly-once"]["outcome"] == "consistent" for c in durable.values())


def test_a_truth_table_cell_is_reproduced_by_its_config_and_commands():
    rows = truth_table()
    cell = next(r for r in rows if r["failures"] == ["request-lost", "reply-lost"]
                )["cells"]["at-least-once"]
    repro = cell["reproduce"]
    sim = Simulation(Config.from_dict(repro["config"]))
    for command in repro["commands"]:
        sim.apply(command)
    sim.run()
    assert sim.order_view(1)["times_reserved"] == cell["times_reserved"] == 2
    assert repro["config"] == case_config(["request-lost", "reply-lost"],
                                          "at-least-once").to_dict()
    assert play_case(["request-lost", "reply-lost"], "at-least-once")[0].report() == \
        sim.report()
