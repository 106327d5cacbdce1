"""The simulation against the seed: each failure point, crashes, timeouts, stepping, events."""

from __future__ import annotations

import pytest

from engine import FAILURE_POINTS, SEED_FAILURE_POINTS, Config, Simulation

# Fixed latencies make the times in these tests exact: request 1 s, processing 0.5 s,
# reply 1 s, so a reply is back 2.5 s after the order is created.
FIXED = {"request_latency": [1.0, 1.0], "reply_latency": [1.0, 1.0], "processing_time": 0.5}


def make(trace: bool = True, **fields) -> Simulation:
    return Simulation(Config.from_dict(fields), trace=trace)


def run_to_rest(sim: Simulation, events: list[dict] | None = None) -> list[dict]:
    events = [] if events is None else events
    sim.run(sink=events.append)
    assert sim.idle
    return events


def one_order(point: str | None, **fields) -> tuple[Simulation, list[dict]]:
    """One order with ``point`` switched on (None: the happy path), run to rest."""
    failures = {point: {"mode": "on"}} if point else {}
    sim = make(failures=failures, **fields)
    events = sim.apply({"cmd": "create-order"})
    return sim, run_to_rest(sim, events)


def by_seq(events: list[dict], seq: int) -> dict:
    [event] = [e for e in events if e["seq"] == seq]
    return event


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def sender_view(events: list[dict]) -> list[tuple]:
    """What the Order service itself observes: its own actions, replies, its timeouts."""
    seen = []
    for e in events:
        if e["type"] == "order-created":
            seen.append(("created", e["t"], e["order"], e["amount"]))
        elif e["type"] == "message-sent" and e["leg"] == "request":
            seen.append(("sent", e["t"], e["order"], e["kind"]))
        elif e["type"] == "message-delivered" and e["leg"] == "reply":
            seen.append(("reply", e["t"], e["order"], e["kind"]))
        elif e["type"] in ("order-state-changed", "sender-timeout", "reply-ignored"):
            seen.append((e["type"], e["t"], e["order"], e.get("to"), e.get("outcome")))
    return seen


# ---------------------------------------------------------------- the seed's table

# point: (credit reserved, sender saw, order state, judgement, divergence, invariant ok)
SEED_TABLE = {
    None: (100, "reply", "approved", "consistent", None, True),
    "request-lost": (0, "no-reply", "new", "diverged", "stuck-new", True),
    "crash-before-processing": (0, "no-reply", "new", "diverged", "stuck-new", True),
    "crash-after-processing": (100, "no-reply", "new", "diverged", "reserved-not-approved",
                               False),
    "reply-lost": (100, "no-reply", "new", "diverged", "reserved-not-approved", False),
}


@pytest.mark.parametrize("point", list(SEED_TABLE), ids=lambda p: p or "happy-path")
def test_seed_table_one_order(point):
    reserved, saw, state, judgement, divergence, invariant_ok = SEED_TABLE[point]
    sim, events = one_order(point)
    [order] = list(sim.iter_orders())

    # The receiver's state: credit reserved for the order or not.
    assert order["credit_reserved"] == reserved
    assert sim.customer()["reserved"] == reserved
    assert sim.customer()["available"] == 1000 - reserved
    # What the sender saw, and the order's state at the sender.
    assert order["sender_saw"] == saw
    assert order["order_state"] == state
    # The engine's judgement.
    assert order["judgement"] == judgement
    assert order["consistent"] is (judgement == "consistent")
    assert order["divergence"] == divergence
    assert sim.summary()["diverged"] == (0 if point is None else 1)
    # The invariant: broken only when credit is held for an order that is not approved.
    inv = sim.invariant()
    assert inv["ok"] is invariant_ok
    assert inv["reserved"] == reserved
    assert inv["approved_total"] == (100 if point is None else 0)
    assert inv["unbacked"] == (0 if invariant_ok else 100)
    assert ("invariant-broken" in types(events)) is (not invariant_ok)
    if not invariant_ok:
        assert by_seq(events, inv["broken_at_seq"])["type"] == "invariant-broken"


@pytest.mark.parametrize("point", SEED_FAILURE_POINTS)
def test_divergence_begins_at_the_failure_event(point):
    sim, events = one_order(point)
    began = sim.order_view(1)["diverged_at_seq"]
    failure = by_seq(events, began)
    if point in ("request-lost", "reply-lost"):
        assert failure["type"] == "message-lost"
        assert failure["reason"] == point and failure["point"] == point
        assert failure["leg"] == ("request" if point == "request-lost" else "reply")
    else:
        assert failure["type"] == "receiver-crashed"
        assert failure["point"] == point
    assert failure["order"] == 1
    [diverged] = [e for e in events if e["type"] == "order-diverged"]
    assert diverged["diverged_at_seq"] == began
    assert diverged["seq"] > began
    assert diverged["divergence"] == SEED_TABLE[point][4]
    # The engine knows at once; the sender only finds out (that it knows nothing) later.
    [timeout] = [e for e in events if e["type"] == "sender-timeout"]
    assert timeout["outcome"] == "unknown" and timeout["t"] == 4.0
    assert diverged["seq"] < timeout["seq"]


def test_happy_path_follows_the_three_steps():
    sim, events = one_order(None, **FIXED)
    assert types(events) == [
        "order-created", "message-sent", "message-delivered", "processing-started",
        "credit-reserved", "message-sent", "message-delivered", "order-state-changed",
        "order-consistent",
    ]
    request, reply = [e for e in events if e["type"] == "message-sent"]
    assert (request["leg"], request["kind"]) == ("request", "OrderCreated")
    assert (reply["leg"], reply["kind"]) == ("reply", "CreditReserved")
    assert reply["sent_at"] == 1.5 and reply["arrives_at"] == 2.5
    changed = events[-2]
    assert (changed["from"], changed["to"], changed["t"]) == ("new", "approved", 2.5)
    assert sim.order_view(1)["diverged_at_seq"] is None


def test_sender_cannot_tell_the_four_failures_apart():
    seen = {point: sender_view(one_order(point)[1]) for point in SEED_FAILURE_POINTS}
    first = seen[SEED_FAILURE_POINTS[0]]
    assert [kind for kind, *_ in first] == ["created", "sent", "sender-timeout"]
    for point in SEED_FAILURE_POINTS[1:]:
        assert seen[point] == first, point
    # ... while the receiver's truth differs: credit held after two of them, not the others.
    held = {p: one_order(p)[0].customer()["reserved"] for p in SEED_FAILURE_POINTS}
    assert held == {"request-lost": 0, "crash-before-processing": 0,
                    "crash-after-processing": 100, "reply-lost": 100}


# --------------------------------------------------------------- insufficient credit

def test_insufficient_credit_cancels_and_reserves_nothing():
    sim, events = one_order(None, credit_limit=50)
    assert "credit-refused" in types(events)
    [reply] = [e for e in events if e["type"] == "message-sent" and e["leg"] == "reply"]
    assert reply["kind"] == "InsufficientCredit"
    order = sim.order_view(1)
    assert order["order_state"] == "cancelled"
    assert order["credit_reserved"] == 0 and sim.customer()["reserved"] == 0
    assert order["sender_saw"] == "reply"
    assert order["consistent"] is True and order["divergence"] is None
    assert sim.invariant()["ok"] is True


def test_insufficient_credit_reply_lost_is_stuck_new():
    sim, events = one_order("reply-lost", credit_limit=50)
    order = sim.order_view(1)
    assert order["order_state"] == "new" and order["credit_reserved"] == 0
    assert order["divergence"] == "stuck-new"
    assert sim.invariant()["ok"] is True  # nothing held: the states parted, no credit lost


def test_credit_exactly_available_is_reserved_then_the_next_order_is_cancelled():
    sim = make(credit_limit=100, **FIXED)
    sim.apply({"cmd": "create-order"})
    sim.advance(0.1)
    sim.apply({"cmd": "create-order"})
    run_to_rest(sim)
    states = [o["order_state"] for o in sim.iter_orders()]
    assert states == ["approved", "cancelled"]
    assert all(o["consistent"] for o in sim.iter_orders())
    assert sim.customer()["available"] == 0


# --------------------------------------------------------------------- switch modes

def test_next_mode_strikes_exactly_one_message_then_switches_off():
    sim = make(**FIXED)
    events = sim.apply({"cmd": "set-failure", "point": "request-lost", "mode": "next"})
    assert events[-1]["type"] == "failure-point-changed"
    assert (events[-1]["mode"], events[-1]["why"]) == ("next", "command")
    for i in range(3):
        events += sim.advance(i * 0.2)
        events += sim.apply({"cmd": "create-order"})
    run_to_rest(sim, events)
    used = [e for e in events if e["type"] == "failure-point-changed" and e["why"] == "used"]
    assert len(used) == 1
    assert (used[0]["point"], used[0]["mode"]) == ("request-lost", "off")
    lost = [e for e in events if e["type"] == "message-lost"]
    assert [e["order"] for e in lost] == [1]
    assert used[0]["seq"] < lost[0]["seq"]
    assert sim.failures_view()["request-lost"]["mode"] == "off"
    assert [o["judgement"] for o in sim.iter_orders()] == ["diverged", "consistent",
                                                           "consistent"]


@pytest.mark.parametrize("point", FAILURE_POINTS)
def test_next_mode_is_consumed_by_one_message_for_every_point(point):
    sim = make(restart_after=0.1, **FIXED)
    sim.apply({"cmd": "set-failure", "point": point, "mode": "next"})
    sim.apply({"cmd": "create-order"})
    sim.advance(3.0)  # first order done (and receiver back up) before the second
    sim.apply({"cmd": "create-order"})
    run_to_rest(sim)
    assert [o["judgement"] for o in sim.iter_orders()] == ["diverged", "consistent"]
    assert sim.failures_view()[point] == {"mode": "off", "probability": 0.0}


def test_on_mode_strikes_every_message_until_switched_off():
    sim = make(failures={"reply-lost": "on"}, credit_limit=10_000, **FIXED)
    for i in range(4):
        sim.advance(i * 0.1)
        sim.apply({"cmd": "create-order"})
    sim.advance(5.0)
    assert sim.summary()["diverged"] == 4
    sim.apply({"cmd": "set-failure", "point": "reply-lost", "mode": "off"})
    sim.apply({"cmd": "create-order"})
    run_to_rest(sim)
    assert [o["judgement"] for o in sim.iter_orders()][-1] == "consistent"
    assert sim.summary()["messages_lost"] == 4


@pytest.mark.parametrize("probability, lost", [(0.0, 0), (1.0, 60)])
def test_probability_zero_never_one_always(probability, lost):
    sim = make(orders=60, failures={"request-lost": {"probability": probability}})
    run_to_rest(sim)
    assert sim.summary()["messages_lost"] == lost
    assert sim.summary()["diverged"] == lost


def test_probability_in_between_strikes_some():
    sim = make(orders=400, credit_limit=10**9,
               failures={"request-lost": {"probability": 0.25}})
    run_to_rest(sim)
    assert 60 <= sim.summary()["messages_lost"] <= 140


# ------------------------------------------------------------------------- crashes

def test_crash_before_processing_takes_the_receiver_down_until_restart():
    sim = make(restart_after=2.0, failures={"crash-before-processing": "next"}, **FIXED)
    events = sim.apply({"cmd": "create-order"})       # arrives at 1.0: crash
    events += sim.advance(0.5)
    events += sim.apply({"cmd": "create-order"})      # arrives at 1.5: receiver down
    events += sim.advance(1.2)
    customer = sim.customer()
    assert customer["up"] is False and customer["restarts_at"] == 3.0
    [crash] = [e for e in events if e["type"] == "receiver-crashed"]
    assert (crash["t"], crash["order"], crash["restarts_at"]) == (1.0, 1, 3.0)
    forgotten = [e for e in events if e["type"] == "message-forgotten"]
    assert [(e["order"], e["point"]) for e in forgotten] == [(1, "crash-before-processing")]
    events += sim.advance(2.6)
    events += sim.apply({"cmd": "create-order"})      # arrives at 3.6: back up
    run_to_rest(sim, events)

    [down] = [e for e in events if e["type"] == "message-lost"]
    assert (down["order"], down["reason"], down["point"]) == (2, "receiver-down", None)
    assert down["t"] == 1.5 == down["arrives_at"] and down["at"] == 1.0
    [restart] = [e for e in events if e["type"] == "receiver-restarted"]
    assert restart["t"] == 3.0
    assert sim.customer()["up"] is True and sim.customer()["restarts_at"] is None
    orders = list(sim.iter_orders())
    assert [o["divergence"] for o in orders] == ["stuck-new", "stuck-new", None]
    assert orders[1]["diverged_at_seq"] == down["seq"]
    assert orders[2]["order_state"] == "approved"
    assert sim.summary()["receiver_crashes"] == 1


def test_crash_forgets_the_messages_it_was_processing():
    cfg = dict(FIXED, processing_time=1.0)
    sim = make(**cfg)
    events = sim.apply({"cmd": "create-order"})       # processing 1.0 .. 2.0
    events += sim.advance(0.5)
    events += sim.apply({"cmd": "create-order"})      # arrives at 1.5
    events += sim.advance(1.2)
    events += sim.apply({"cmd": "set-failure", "point": "crash-before-processing",
                         "mode": "next"})
    run_to_rest(sim, events)

    [crash] = [e for e in events if e["type"] == "receiver-crashed"]
    assert (crash["t"], crash["order"]) == (1.5, 2)
    forgotten = {e["order"]: e for e in events if e["type"] == "message-forgotten"}
    assert set(forgotten) == {1, 2}
    first = sim.order_view(1)
    assert first["credit_reserved"] == 0 and first["divergence"] == "stuck-new"
    assert first["diverged_at_seq"] == forgotten[1]["seq"]
    assert "credit-reserved" not in types(events)  # its processing never finished
    assert sim.summary()["messages_forgotten"] == 2


def test_crash_after_processing_forgets_others_in_progress():
    sim = make(failures={"crash-after-processing": "next"}, **dict(FIXED, processing_time=1.0))
    sim.apply({"cmd": "create-order"})                 # done at 2.0 -> crash
    sim.advance(0.5)
    sim.apply({"cmd": "create-order"})                 # processing 1.5 .. 2.5
    run_to_rest(sim)
    first, second = sim.iter_orders()
    assert first["divergence"] == "reserved-not-approved" and first["credit_reserved"] == 100
    assert second["divergence"] == "stuck-new" and second["credit_reserved"] == 0
    assert sim.invariant()["unbacked"] == 100


def test_a_crash_on_a_metric_sample_forgets_orders_in_progress():
    sim = make(samples=1, sample_interval=0.5, **dict(FIXED, processing_time=2.0))
    sim.apply({"cmd": "create-order"})                 # processing 1.0 .. 3.0
    sim.advance(1.2)
    sim.apply({"cmd": "set-failure", "point": "crash-before-processing", "mode": "next"})
    events = run_to_rest(sim)                           # the sample arrives at 1.5: crash
    [crash] = [e for e in events if e["type"] == "receiver-crashed"]
    assert (crash["t"], crash["order"]) == (1.5, 0)
    assert sim.order_view(1)["divergence"] == "stuck-new"
    assert sim.metrics()["seen_count"] == 0 and sim.metrics()["true_count"] == 1


# -------------------------------------------------------------------------- timeouts

def test_late_reply_after_timeout_is_ignored_and_the_order_diverges():
    sim, events = one_order(None, reply_timeout=1.2, **FIXED)
    [timeout] = [e for e in events if e["type"] == "sender-timeout"]
    assert timeout["t"] == 1.2 and timeout["outcome"] == "unknown"
    [ignored] = [e for e in events if e["type"] == "reply-ignored"]
    assert ignored["t"] == 2.5 and ignored["reason"] == "after-timeout"
    order = sim.order_view(1)
    assert order["order_state"] == "new" and order["sender_saw"] == "no-reply"
    assert order["credit_reserved"] == 100
    assert order["divergence"] == "reserved-not-approved"
    assert order["diverged_at_seq"] == timeout["seq"]
    kinds = [(e["divergence"], e["diverged_at_seq"]) for e in events
             if e["type"] == "order-diverged"]
    # No credit held at the timeout: stuck in new; then the late reservation makes it worse.
    assert kinds == [("stuck-new", timeout["seq"]), ("reserved-not-approved", timeout["seq"])]
    assert "order-state-changed" not in types(events)
    assert sim.summary()["replies_ignored"] == 1
    assert sim.invariant()["ok"] is False


def test_timeout_between_reservation_and_reply():
    sim, events = one_order(None, reply_timeout=2.0, **FIXED)
    [timeout] = [e for e in events if e["type"] == "sender-timeout"]
    diverged = [e for e in events if e["type"] == "order-diverged"]
    assert [(e["divergence"], e["diverged_at_seq"]) for e in diverged] == [
        ("reserved-not-approved", timeout["seq"])]
    assert sim.order_view(1)["order_state"] == "new"


def test_timeout_after_a_reply_changes_nothing():
    sim, events = one_order(None, **FIXED)
    assert "sender-timeout" not in types(events)
    assert sim.summary()["sender_timeouts"] == 0


# ---------------------------------------------------------------- advance and step

def crashy(trace: bool = True) -> Simulation:
    # A crash with many orders in processing: one scheduler entry makes a dozen events.
    return make(trace=trace, orders=8, order_interval=0.01, processing_time=1.0,
                failures={"crash-after-processing": "next"})


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_advance_never_returns_more_than_max_events(limit):
    whole = crashy()
    expected = run_to_rest(whole)
    sim = crashy()
    got: list[dict] = []
    for _ in range(10_000):
        batch = sim.advance(10_000.0, max_events=limit)
        assert len(batch) <= limit
        got += batch
        if not batch and sim.idle:
            break
    assert got == expected
    assert sim.now == 10_000.0


def test_advance_with_a_cap_keeps_the_clock_at_the_last_processed_moment():
    sim = make(**FIXED)
    sim.apply({"cmd": "create-order"})
    batch = sim.advance(100.0, max_events=1)
    assert len(batch) == 1 and batch[0]["type"] == "message-delivered"
    assert sim.now == 1.0
    sim.advance(100.0)
    assert sim.now == 100.0 and sim.idle


def test_advance_moves_the_clock_to_the_target_and_only_processes_what_is_due():
    sim = make(**FIXED)
    sim.apply({"cmd": "create-order"})
    events = sim.advance(1.4)
    assert types(events) == ["message-delivered", "processing-started"]
    assert sim.now == 1.4 and sim.next_time() == 1.5
    assert sim.advance(1.0) == [] and sim.now == 1.4  # time never goes back


def test_step_returns_at_least_one_event_while_not_idle():
    sim = crashy()
    whole = run_to_rest(crashy())
    got = []
    while not sim.idle:
        batch = sim.step()
        assert batch
        assert len({e["t"] for e in batch}) == 1  # one instant per step
        got += batch
    assert got == whole
    assert sim.step() == []


def test_step_raw_processes_one_entry():
    sim = make(**FIXED)
    sim.apply({"cmd": "create-order"})
    before = sim.steps
    sim.step_raw()
    assert sim.steps == before + 1


def test_run_until_stops_at_that_virtual_time():
    sim = make(**FIXED)
    sim.apply({"cmd": "create-order"})
    sim.run(until=2.0)
    assert sim.now == 2.0 and not sim.idle
    assert sim.order_view(1)["sender_saw"] == "waiting"
    assert sim.order_view(1)["judgement"] == "in-flight"


# -------------------------------------------------------------------- event schema

def lossy_events() -> tuple[Simulation, list[dict]]:
    sim = make(orders=120, order_interval=0.2, credit_limit=5000, samples=40,
               restart_after=0.7, failures={
                   "request-lost": {"probability": 0.1},
                   "crash-before-processing": {"probability": 0.05},
                   "crash-after-processing": {"probability": 0.05},
                   "reply-lost": {"probability": 0.1}})
    return sim, run_to_rest(sim)


def test_every_event_has_seq_t_type_in_order():
    sim, events = lossy_events()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert sim.seq == len(events)
    times = [e["t"] for e in events]
    assert times == sorted(times)
    for e in events:
        assert isinstance(e["type"], str) and isinstance(e["t"], float)


def test_message_events_carry_what_a_view_needs_to_animate():
    sim, events = lossy_events()
    sent = {}
    for e in events:
        if e["type"] == "message-sent":
            assert e["sent_at"] == e["t"] < e["arrives_at"]
            assert e["leg"] in ("request", "reply")
            sent[e["msg"]] = e
        elif e["type"] == "message-lost":
            assert 0.0 <= e["at"] <= 1.0
            assert e["sent_at"] <= e["t"] <= e["arrives_at"]
            origin = sent[e["msg"]]
            assert (e["sent_at"], e["arrives_at"]) == (origin["sent_at"], origin["arrives_at"])
            expected = e["sent_at"] + e["at"] * (e["arrives_at"] - e["sent_at"])
            assert e["t"] == pytest.approx(expected)
        elif e["type"] == "message-delivered":
            assert e["t"] == sent[e["msg"]]["arrives_at"]
        elif e["type"] == "processing-started":
            assert e["done_at"] == pytest.approx(e["t"] + sim.config.processing_time)
    reasons = {e["reason"] for e in events if e["type"] == "message-lost"}
    assert reasons == {"request-lost", "reply-lost", "receiver-down"}


def test_snapshot_shows_messages_in_flight_and_work_in_progress():
    sim = make(**FIXED)
    sim.apply({"cmd": "create-order"})
    snap = sim.snapshot()
    assert snap["in_flight"] == [{"msg": 1, "order": 1, "leg": "request",
                                  "kind": "OrderCreated", "sent_at": 0.0, "arrives_at": 1.0,
                                  "attempt": 1}]
    sim.advance(1.2)
    snap = sim.snapshot()
    assert snap["in_flight"] == [] and snap["processing"] == [1]
    assert snap["orders"][0]["judgement"] == "in-flight"
    assert snap["next_time"] == 1.5 and snap["t"] == 1.2 and snap["seq"] == sim.seq
    for key in ("config", "customer", "invariant", "failures", "summary", "metrics"):
        assert key in snap


def test_snapshot_keeps_old_diverged_orders_in_view():
    sim = make(orders=30, order_interval=0.1, failures={"request-lost": "next"})
    run_to_rest(sim)
    ids = [o["id"] for o in sim.snapshot(max_orders=5)["orders"]]
    assert ids == [1, 26, 27, 28, 29, 30]


def test_report_shape():
    sim, _ = one_order("reply-lost")
    report = sim.report()
    for key in ("config", "t", "seq", "summary", "customer", "invariant", "failures",
                "orders"):
        assert key in report
    assert "metrics" not in report
    assert "orders" not in sim.report(include_orders=False)
    summary = report["summary"]
    assert summary["messages_sent"] == 2
    assert summary["messages_delivered"] == 1
    assert summary["messages_lost"] == 1
    assert summary["messages_in_flight"] == 0


def test_trace_off_makes_no_events_but_the_same_report():
    traced, _ = lossy_events()
    quiet = make(trace=False, **{k: v for k, v in traced.config.to_dict().items()})
    quiet.run()
    assert quiet.report() == traced.report()
    assert quiet.apply({"cmd": "create-order"}) == []


def test_next_wire_stop_is_the_midpoint_of_the_first_message_on_its_leg():
    sim = Simulation(Config(request_latency=(1.0, 1.0), reply_latency=(1.0, 1.0)))
    assert sim.next_wire_stop() is None  # nothing on the wire
    sim.apply({"cmd": "create-order"})
    assert sim.next_wire_stop() == pytest.approx(0.5)  # OrderCreated, halfway
    sim.advance(0.5)
    assert sim.next_wire_stop() is None  # at the midpoint: no later one yet
    sim.advance(1.0 + 0.3)  # delivered and processed: the reply is on its leg
    assert sim.next_wire_stop() == pytest.approx(1.3 + 0.5)
    sim.run()
    assert sim.next_wire_stop() is None
