"""The history of a run (engine/history.py): checkpoints, and any earlier moment rebuilt
from them exactly as a replay from t = 0 gives it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import History, Simulation, preset_config
from tests.test_engine_properties import COMMAND, configs

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# A session's way of driving the engine: step, advance (capped or not), apply a command.
OPS = st.lists(st.one_of(
    st.tuples(st.just("step")),
    st.tuples(st.just("advance"), st.floats(0.0, 3.0), st.none() | st.integers(1, 4)),
    st.tuples(st.just("apply"), COMMAND),
), max_size=30)


def follow(config, ops, every: int = 3, keep_orders=True) -> tuple[Simulation, History]:
    """Drive a run as a session does, with a history noting every call."""
    sim = Simulation(config, keep_orders=keep_orders)
    history = History(sim, every=every)
    for op in ops:
        if op[0] == "step":
            sim.step()
        elif op[0] == "advance":
            sim.advance(sim.now + op[1], max_events=op[2])
        else:
            sim.apply(op[1])
        history.note(sim)
    return sim, history


def replayed(config, log, **until) -> dict:
    sim, _ = Simulation.replay(config, log, **until)
    return sim.snapshot()


# -- checkpoint / restore --------------------------------------------------------------


def test_a_restored_checkpoint_is_the_run_and_goes_on_like_it():
    config = preset_config("lossy-network", {"orders": 60})
    sim = Simulation(config)
    sim.advance(7.5)
    sim.apply({"cmd": "set-failure", "point": "reply-lost", "mode": "next"})
    state = sim.checkpoint()
    assert isinstance(state, bytes) and len(state) < 20_000
    copy = Simulation.restore(config, state, sim.command_log + [{"t": 99, "step": 9,
                                                                 "cmd": {}}])
    assert copy.snapshot() == sim.snapshot() and copy.report() == sim.report()
    assert copy.command_log == sim.command_log and copy.command_log is not sim.command_log
    # Both go on the same way, and neither touches the other.
    assert copy.advance(30.0) == sim.advance(30.0)
    assert copy.apply({"cmd": "create-order"}) == sim.apply({"cmd": "create-order"})
    copy.run()
    assert copy.seq > sim.seq


def test_checkpoints_of_a_streaming_run_keep_dropped_orders_dropped():
    config = preset_config("lossy-network", {"orders": 9000, "order_interval": 0.01})
    sim = Simulation(config, keep_orders=50)
    history = History(sim, every=2000)
    while not sim.idle:
        sim.advance(sim.now + 0.7, max_events=1500)
        history.note(sim)
    assert sim._base > 0 and len(history.checkpoints) > 5
    plain = History(Simulation(config, keep_orders=50), every=10**9)
    plain.log.extend(sim.command_log)
    for seq in (1, 4999, 37_000, sim.seq - 3, sim.seq):
        assert history.state_at(seq=seq).snapshot() == plain.state_at(seq=seq).snapshot()
    for t in (0.0, 12.345, 80.0):
        assert history.state_at(t=t).snapshot() == plain.state_at(t=t).snapshot()


def test_a_history_starts_with_its_run():
    sim = Simulation(preset_config("happy-path"))
    sim.apply({"cmd": "create-order"})
    with pytest.raises(ValueError):
        History(sim)
    with pytest.raises(ValueError):
        History(Simulation(), every=0)
    with pytest.raises(ValueError):
        History(Simulation()).state_at()


# -- moments -----------------------------------------------------------------------------


def test_seek_by_seq_and_by_time_equals_replay():
    config = preset_config("four-failures")
    sim = Simulation(config)
    history = History(sim, every=5)
    from engine import preset_script
    for at, command in preset_script("four-failures"):
        sim.advance(at)
        history.note(sim)
        sim.apply(command)
        history.note(sim)
    sim.advance(40.0)
    history.note(sim)
    log = sim.command_log
    assert len(history.checkpoints) > 5
    for seq in range(0, sim.seq + 1):
        assert history.state_at(seq=seq).snapshot() == replayed(config, log, until_seq=seq)
    for t in (0.0, 0.4, 1.0, 6.99, 7.0, 7.5, 13.2, 21.0, 39.9):
        assert history.state_at(t=t).snapshot() == replayed(config, log, until=t)


def test_between_events_messages_are_on_the_wire_at_their_places():
    config = preset_config("happy-path")
    sim = Simulation(config)
    history = History(sim, every=1)
    sim.apply({"cmd": "create-order"})
    sim.advance(10.0)
    history.note(sim)
    at = history.state_at(t=0.5).snapshot()
    assert at["t"] == 0.5 and at["seq"] == 2
    (message,) = at["in_flight"]
    assert message["sent_at"] == 0.0 < 0.5 < message["arrives_at"]


def test_events_are_rebuilt_contiguous_and_equal_to_the_stream():
    config = preset_config("lossy-network")
    sim = Simulation(config)
    history = History(sim, every=100)
    stream: list[dict] = []
    while not sim.idle:
        stream += sim.advance(sim.now + 0.9, max_events=37)
        history.note(sim)
    stream += sim.advance(sim.now)
    assert len(stream) == sim.seq > 1000
    got: list[dict] = []
    start = 1
    while start <= sim.seq:
        page = history.events(start, sim.seq, limit=450)
        assert page and page[0]["seq"] == start
        got += page
        start = page[-1]["seq"] + 1
    assert got == stream
    assert history.events(5, 4) == []
    assert history.events(0, 3) == stream[:3]
    assert history.events(10, 12) == stream[9:12]


def test_previous_moment_mirrors_step():
    config = preset_config("happy-path")
    sim = Simulation(config)
    history = History(sim, every=2)
    moments = [sim.snapshot()]
    sim.apply({"cmd": "create-order"})  # the scripted order, at t = 0
    history.note(sim)
    moments.append(sim.snapshot())
    while not sim.idle:  # as a session steps: stop halfway along a leg first
        wire, due = sim.next_wire_stop(), sim.next_time()
        if wire is not None and wire < due:
            sim.advance(wire)
        else:
            sim.step()
        history.note(sim)
        moments.append(sim.snapshot())
    assert len(moments) >= 7
    seq, t = sim.seq, sim.now
    back = []
    while (moment := history.previous_moment(seq, t)) is not None:
        back.append(moment.snapshot())
        seq, t = moment.seq, moment.now
    assert back == moments[-2::-1]


def test_previous_moment_at_the_start_is_none_and_just_after_it_the_start():
    sim = Simulation(preset_config("lossy-network"))
    history = History(sim)
    assert history.previous_moment(0, 0.0) is None
    sim.advance(0.1)  # nothing happened yet
    history.note(sim)
    assert sim.seq == 0
    assert history.previous_moment(0, 0.1).snapshot() == Simulation(sim.config).snapshot()


def test_branch_shares_the_checkpoints_up_to_the_moment():
    config = preset_config("lossy-network")
    sim = Simulation(config)
    history = History(sim, every=50)
    for _ in range(50):
        sim.advance(sim.now + 1.0)
        history.note(sim)
    moment = history.state_at(t=25.0)
    fork = history.branch(moment)
    assert 1 < len(fork.checkpoints) < len(history.checkpoints)
    assert all(c.t <= 25.0 for c in fork.checkpoints)
    moment.apply({"cmd": "set-failure", "point": "request-lost", "mode": "on"})
    for _ in range(10):
        moment.advance(moment.now + 1.0)
        fork.note(moment)
    for seq in (3, 200, moment.seq - 1, moment.seq):
        assert fork.state_at(seq=seq).snapshot() == replayed(config, moment.command_log,
                                                             until_seq=seq)
    assert fork.state_at(t=26.0).snapshot() == replayed(config, moment.command_log, until=26.0)
    # The original is untouched.
    assert history.state_at(t=26.0).snapshot() == replayed(config, sim.command_log, until=26.0)


def test_over_budget_every_other_checkpoint_goes_and_they_come_half_as_often():
    config = preset_config("lossy-network", {"orders": 2000})
    sim = Simulation(config)
    history = History(sim, every=200, budget=60_000)
    while not sim.idle:
        sim.advance(sim.now + 1.0)
        history.note(sim)
    assert history.every > 200
    assert history.bytes <= 60_000 + max(len(c.state) for c in history.checkpoints) * 2
    for seq in (1, 5000, sim.seq // 2, sim.seq):
        assert history.state_at(seq=seq).snapshot() == replayed(config, sim.command_log,
                                                                until_seq=seq)


# -- properties --------------------------------------------------------------------------


@SETTINGS
@given(configs(), OPS, st.integers(1, 9), st.data())
def test_seek_equals_replay_for_any_run_and_any_order_of_seeks(config, ops, every, data):
    sim, history = follow(config, ops, every)
    log = sim.command_log
    seqs = data.draw(st.lists(st.integers(0, sim.seq), max_size=8), label="seqs")
    times = data.draw(st.lists(st.floats(0.0, sim.now), max_size=4), label="times")
    expected: dict = {}
    for seq in seqs:  # in any order, back and forth, repeated
        got = history.state_at(seq=seq).snapshot()
        want = expected.setdefault(("seq", seq), replayed(config, log, until_seq=seq))
        assert got == want
    for t in times:
        if t >= sim.now:
            continue  # the head's own clock may stand between its last steps
        got = history.state_at(t=t).snapshot()
        assert got == expected.setdefault(("t", t), replayed(config, log, until=t))
    # Seeking again, in reverse, gives the same answers.
    for key in reversed(list(expected)):
        kind, value = key
        again = history.state_at(**{kind: value}).snapshot()
        assert again == expected[key]


@SETTINGS
@given(configs(orders=st.integers(0, 8)), OPS, st.integers(1, 9))
def test_events_rebuilt_from_checkpoints_equal_the_replay(config, ops, every):
    sim, history = follow(config, ops, every)
    _, events = Simulation.replay(config, sim.command_log, until_seq=sim.seq)
    events = [e for e in events if e["seq"] <= sim.seq]
    assert history.events(1, sim.seq, limit=10**6) == events
