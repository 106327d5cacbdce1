"""The pacing layer: wall time to virtual time, frames, flow control, resume, expiry."""

from __future__ import annotations

import pytest

from engine.errors import CommandError
from server.session import Limits, Session, SessionStore
from server.validation import validate_command

FPS = 30


def cmd(cmd_name: str, **fields) -> dict:
    return validate_command({"cmd": cmd_name, **fields})


class Client:
    """Follows one session the way a browser does: applies batches, checks seqs, acks."""

    def __init__(self, session: Session, ack: bool = True) -> None:
        self.session = session
        self.ack_batches = ack
        self.events: list[dict] = []
        self.batches: list[dict] = []
        self.clocks: list[dict] = []
        self.snapshots: list[dict] = []
        self.last_seq: int | None = None

    def receive(self, messages) -> None:
        for event, payload in messages:
            if event == "snapshot":
                self.snapshots.append(payload)
                self.last_seq = payload["seq"]
                self.events.clear()
                if self.ack_batches:
                    self.session.ack(payload["seq"])
            elif event == "events":
                assert payload["from_seq"] == self.last_seq + 1, "gap or duplicate"
                seqs = [e["seq"] for e in payload["events"]]
                assert seqs == list(range(payload["from_seq"], payload["to_seq"] + 1))
                self.batches.append(payload)
                self.events.extend(payload["events"])
                self.last_seq = payload["to_seq"]
                if self.ack_batches:
                    self.session.ack(payload["to_seq"], payload["run"])
            elif event == "clock":
                self.clocks.append(payload)
            else:
                raise AssertionError(f"unexpected message {event}")

    def run(self, start: float, seconds: float) -> float:
        """Tick the session at 30 Hz from wall time ``start``; returns the end time."""
        frames = round(seconds * FPS)
        for i in range(1, frames + 1):
            self.receive(self.session.tick(start + i / FPS))
        return start + frames / FPS

    def command(self, cmd_name: str, now: float, **fields) -> dict:
        answer, messages = self.session.command(cmd(cmd_name, **fields), now)
        self.receive(messages)
        return answer


def new_client(limits: Limits | None = None, ack: bool = True, now: float = 0.0) -> Client:
    session = Session("token-test", now, limits)
    client = Client(session, ack)
    client.receive([("snapshot", session.snapshot())])
    return client


def types(events) -> list[str]:
    return [e["type"] for e in events]


HAPPY = ["order-created", "message-sent", "message-delivered", "processing-started",
         "credit-reserved", "message-sent", "message-delivered", "order-state-changed",
         "order-consistent"]


# -- pacing -----------------------------------------------------------------------------


def test_fresh_session_is_paused_at_zero_with_a_snapshot():
    client = new_client()
    snap = client.snapshots[0]
    assert snap["run"] == 1 and snap["seq"] == 0 and snap["t"] == 0.0
    assert snap["playing"] is False and snap["scenario"] == "happy-path"
    assert snap["state"]["summary"]["orders"] == 0
    client.run(0.0, 2.0)
    assert client.events == [] and client.batches == []


def test_play_streams_the_happy_path_in_wall_time():
    client = new_client()
    client.command("play", 0.0)
    end = client.run(0.0, 1.0)
    # After one wall second at speed 1 the request (0.8..1.2 s) may or may not have landed.
    assert types(client.events)[:2] == ["order-created", "message-sent"]
    assert client.session.sim.now == pytest.approx(1.0)
    client.run(end, 4.0)
    assert types(client.events) == HAPPY
    # Every event came in a batch of its frame, not one message per event.
    assert len(client.batches) < len(client.events)
    for batch in client.batches:
        assert all(e["t"] <= batch["t"] for e in batch["events"])


def test_speed_maps_wall_seconds_to_virtual_seconds():
    client = new_client()
    client.command("speed", 0.0, speed=2)
    client.command("play", 0.0)
    client.run(0.0, 1.5)
    assert client.session.sim.now == pytest.approx(3.0)
    assert types(client.events) == HAPPY


def test_a_run_with_nothing_left_to_happen_stops_and_releases_play():
    client = new_client()
    client.command("speed", 0.0, speed=4)
    client.command("play", 0.0)
    client.run(0.0, 1.5)
    # The happy path's last scheduled work is the sender's reply timeout at t = 4 (the
    # reply came first): there the run is over, the clock stops, Play is released.
    assert client.session.over and not client.session.playing
    assert client.session.sim.now == pytest.approx(4.0, abs=4 / FPS + 1e-9)
    last = client.clocks[-1]
    assert last["over"] is True and last["playing"] is False
    stopped_at = client.session.sim.now
    client.run(1.5, 3.0)
    assert client.session.sim.now == stopped_at  # the clock does not count on
    # A new order sets the run that ended by itself going again.
    client.command("create-order", 3.0)
    assert client.session.playing and not client.session.over
    client.run(3.0, 5.0)
    assert types(client.events).count("order-consistent") == 2
    # But a run paused by hand stays paused when an order is sent.
    client.command("pause", 5.0)
    client.command("create-order", 5.0)
    assert not client.session.playing
    # Step at the end says there is nothing left: idle, no event, time stands still.
    answers = [client.command("step", 5.0) for _ in range(30)]
    end = answers.index(next(a for a in answers if a["idle"]))
    assert all(a == {"events": 0, "t": answers[end]["t"], "idle": True}
               for a in answers[end + 1:])


def test_step_stops_each_message_halfway_along_its_leg():
    client = new_client()
    stops = []
    for _ in range(40):
        answer = client.command("step", 0.0)
        client.receive(client.session.tick(0.0))
        wire = client.session.sim.snapshot()["in_flight"]
        stops.append((answer, [m["msg"] for m in wire
                               if m["sent_at"] < answer["t"] < m["arrives_at"]]))
        if answer["idle"]:
            break
    assert stops[-1][0]["idle"] and not any(a["idle"] for a, _ in stops[:-1])
    # Both messages of the happy path (OrderCreated, CreditReserved) were stopped at on
    # their legs by a step that made no event.
    seen_mid_leg = {m for answer, wire in stops if answer["events"] == 0 for m in wire}
    assert seen_mid_leg == {1, 2}
    assert types(client.events) == HAPPY


def test_pause_freezes_virtual_time_and_play_resumes_without_a_jump():
    client = new_client()
    client.command("play", 0.0)
    end = client.run(0.0, 0.5)
    client.command("pause", end)
    t = client.session.sim.now
    end = client.run(end, 10.0)
    assert client.session.sim.now == t
    client.command("play", end)
    client.run(end, 0.5)
    assert client.session.sim.now == pytest.approx(t + 0.5)
    assert [c["playing"] for c in client.clocks[:3]] == [True, False, True]


def test_commands_apply_at_the_current_virtual_time():
    client = new_client()
    client.command("speed", 0.0, speed=10)
    client.command("play", 0.0)
    # Between two frames: the command lands at the virtual time of its wall time.
    answer = client.command("create-order", 1.0 / FPS + 0.01, amount=7)
    assert answer["order"] == 2
    client.run(0.0, 0.2)
    created = [e for e in client.events if e["type"] == "order-created"]
    assert [e["amount"] for e in created] == [100, 7]
    assert created[1]["t"] == pytest.approx((1.0 / FPS + 0.01) * 10)


def test_frame_cap_bounds_each_batch_and_slows_virtual_time():
    limits = Limits(frame_events=300, window=100_000)
    client = new_client(limits)
    client.command("scenario", 0.0, name="happy-path",
                   config={"orders": 100_000, "order_interval": 0.0001})
    client.command("speed", 0.0, speed=50)
    client.command("play", 0.0)
    client.run(0.0, 1.0)
    assert len(client.batches) == FPS
    assert all(len(b["events"]) <= 300 for b in client.batches)
    assert sum(len(b["events"]) for b in client.batches) >= 300 * (FPS - 1)
    assert client.session.held_back and client.batches[-1]["held_back"]
    assert client.session.sim.now < 50.0  # slowed down, events never skipped
    assert any(c["held_back"] for c in client.clocks)


def test_window_stops_a_client_that_does_not_acknowledge():
    limits = Limits(frame_events=500, window=2000, slack=50)
    client = new_client(limits, ack=False)
    client.command("scenario", 0.0, name="happy-path",
                   config={"orders": 100_000, "order_interval": 0.001})
    client.command("speed", 0.0, speed=20)
    client.command("play", 0.0)
    end = client.run(0.0, 3.0)
    assert client.session.unacked == 2000
    assert len(client.events) == 2000
    assert len(client.session.buffer) == 2000
    t = client.session.sim.now
    end = client.run(end, 5.0)
    assert len(client.events) == 2000 and client.session.sim.now == t  # no advance at all
    assert client.session.held_back
    # Commands that make events are refused once the window and its slack are used up...
    for _ in range(25):
        client.command("create-order", end)
    with pytest.raises(CommandError) as err:
        client.command("create-order", end)
    assert err.value.field == "ack" and "acknowledge" in err.value.allowed
    # ...pacing commands are not.
    client.command("speed", end, speed=1)
    # An ack opens the window again; the buffer only keeps what is unacknowledged.
    answer = client.session.ack(client.last_seq)
    assert answer["acked"] == 2000
    assert len(client.session.buffer) == 0
    client.ack_batches = True
    client.run(end, 1.0)
    assert len(client.events) > 2000 + 50


def test_untrusted_ack_is_clamped_to_what_was_sent():
    client = new_client(ack=False)
    client.command("play", 0.0)
    client.run(0.0, 3.0)
    answer = client.session.ack(10**9)
    assert answer["acked"] == client.last_seq
    assert client.session.ack(1)["acked"] == client.last_seq  # never goes back


def test_transport_backlog_holds_the_run_and_sends_nothing():
    client = new_client()
    client.command("play", 0.0)
    session = client.session
    assert session.tick(0.5, can_send=False) == []
    assert session.held_back
    t = session.sim.now
    assert session.tick(1.0, can_send=False) == []
    assert session.sim.now == t
    client.receive(session.tick(1.1))
    assert client.events and not session.held_back


def test_step_walks_the_same_events_one_moment_at_a_time():
    played = new_client()
    played.command("play", 0.0)
    played.run(0.0, 10.0)

    stepped = new_client()
    answers = []
    for _ in range(40):
        answers.append(stepped.command("step", 0.0))
        stepped.receive(stepped.session.tick(0.0))
        if answers[-1]["idle"]:
            break
    assert stepped.events == played.events
    assert answers[0]["events"] == 2  # the preset's order: order-created + message-sent
    assert answers[-1] == {"events": 0, "t": stepped.session.sim.now, "idle": True}
    assert not stepped.session.playing


def test_step_while_playing_pauses():
    client = new_client()
    client.command("play", 0.0)
    client.run(0.0, 0.2)
    client.command("step", 0.2)
    assert client.session.playing is False


# -- runs ------------------------------------------------------------------------------


def test_same_seed_and_commands_give_the_same_events():
    def one() -> list[dict]:
        client = new_client()
        client.command("scenario", 0.0, name="lossy-network", seed=42)
        client.command("play", 0.0)
        end = client.run(0.0, 2.0)
        client.command("set-failure", end, point="reply-lost", mode="next")
        client.command("create-order", end, amount=5)
        client.run(end, 3.0)
        return client.events

    first, second = one(), one()
    assert len(first) > 50 and first == second


def test_scenario_seed_and_reset_start_new_runs_from_a_snapshot():
    client = new_client()
    answer = client.command("scenario", 0.0, name="reply-lost", seed=7,
                            config={"reply_timeout": 2.5})
    assert answer == {"run": 2, "scenario": "reply-lost", "seed": 7}
    snap = client.snapshots[-1]
    assert snap["run"] == 2 and snap["seq"] == 0 and snap["seed"] == 7
    assert snap["state"]["config"]["reply_timeout"] == 2.5
    assert snap["state"]["failures"]["reply-lost"]["mode"] == "on"
    client.command("play", 0.0)
    client.run(0.0, 6.0)
    assert "sender-timeout" in types(client.events)

    client.command("reset", 6.0)
    snap = client.snapshots[-1]
    assert (snap["run"], snap["seq"], snap["playing"]) == (3, 0, False)
    assert snap["state"]["config"]["reply_timeout"] == 2.5  # overrides kept
    client.command("seed", 6.0, seed=9)
    snap = client.snapshots[-1]
    assert (snap["run"], snap["seed"]) == (4, 9)
    assert snap["state"]["config"]["seed"] == 9
    assert snap["state"]["config"]["reply_timeout"] == 2.5


def test_scenario_without_its_script_does_only_what_is_commanded():
    client = new_client()
    client.command("scenario", 0.0, name="happy-path", script=False)
    assert client.snapshots[-1]["script"] is False
    client.command("play", 0.0)
    end = client.run(0.0, 6.0)
    assert client.events == []
    client.command("set-failure", end, point="reply-lost", mode="on")
    client.command("create-order", end, amount=250)
    client.run(end, 6.0)
    assert "message-lost" in types(client.events)
    assert [e["amount"] for e in client.events if e["type"] == "order-created"] == [250]
    client.command("reset", end + 6)
    assert client.snapshots[-1]["script"] is False


def test_seed_inside_config_overrides_sets_the_seed():
    client = new_client()
    client.command("scenario", 0.0, name="happy-path", config={"seed": 11})
    assert client.snapshots[-1]["seed"] == 11
    client.command("scenario", 0.0, name="happy-path", seed=12, config={"seed": 11})
    assert client.snapshots[-1]["seed"] == 12


def test_engine_command_answers():
    client = new_client()
    assert client.command("create-order", 0.0)["order"] == 1
    assert client.command("create-order", 0.0, amount=3)["order"] == 2
    fail = client.command("set-failure", 0.0, point="request-lost", probability=0.5)
    # The setting now, and the run is custom from here on (the page says "Custom run").
    assert {k: fail[k] for k in ("point", "mode", "probability", "custom")} == {
        "point": "request-lost", "mode": "off", "probability": 0.5, "custom": True}
    assert client.command("set-credit-limit", 0.0, credit_limit=5)["credit_limit"] == 5
    client.receive(client.session.tick(0.0))
    assert types(client.events) == ["order-created", "message-sent", "order-created",
                                     "message-sent", "failure-point-changed",
                                     "credit-limit-changed"]


def test_engine_commands_are_checked_once_by_the_engine_and_logged_normalized():
    client = new_client()
    with pytest.raises(CommandError) as err:
        client.command("set-failure", 0.0, point="nowhere", mode="on")
    assert err.value.field == "point" and "reply-lost" in err.value.allowed
    with pytest.raises(CommandError) as err:
        client.command("create-order", 0.0, amount=0)
    assert err.value.field == "amount"
    assert client.session.sim.command_log == []  # nothing applied, nothing logged
    client.command("create-order", 0.0, amount=5.0)
    client.command("set-failure", 0.0, point="request-lost", probability=1)
    assert [entry["cmd"] for entry in client.session.sim.command_log] == [
        {"cmd": "create-order", "amount": 5},
        {"cmd": "set-failure", "point": "request-lost", "probability": 1.0}]


def test_commands_per_run_are_capped():
    client = new_client(Limits(commands_per_run=3))
    for _ in range(3):
        client.command("create-order", 0.0)
    with pytest.raises(CommandError) as err:
        client.command("create-order", 0.0)
    assert err.value.field == "cmd" and "reset" in err.value.allowed
    client.command("reset", 0.0)
    client.command("create-order", 0.0)


def test_stale_acks_of_an_old_run_are_ignored():
    client = new_client(ack=False)
    session = client.session
    client.command("play", 0.0)
    client.run(0.0, 5.0)
    old_last = client.last_seq
    assert old_last == 9
    client.command("reset", 5.0)
    client.command("play", 5.0)
    client.run(5.0, 1.5)  # the new run has sent a few events
    sent = session.sent
    assert 0 < sent < old_last
    # An ack of the old run still on its way, without a run number: ignored.
    assert session.ack(old_last)["stale"] is True
    assert session.acked == 0
    # An ack naming the old run: ignored.
    assert session.ack(old_last, run=1)["stale"] is True
    # The client acknowledges the new snapshot: from then on plain acks count.
    assert "stale" not in session.ack(0)
    assert session.ack(sent)["acked"] == sent


def test_snapshot_in_flight_is_bounded():
    limits = Limits(snapshot_in_flight=5)
    client = new_client(limits)
    for _ in range(12):
        client.command("create-order", 0.0)
    snap = client.session.snapshot()
    assert len(snap["state"]["in_flight"]) == 5
    assert snap["in_flight_omitted"] == 7
    assert [m["msg"] for m in snap["state"]["in_flight"]] == [8, 9, 10, 11, 12]


def test_events_made_before_a_snapshot_are_not_sent_after_it():
    limits = Limits(frame_events=1, window=1000)
    client = new_client(limits)
    session = client.session
    client.command("play", 0.0)
    client.run(0.0, 0.1)
    # A crash or a capped advance can leave events in the engine; a snapshot shows them.
    session.sim.create_order(1)  # events the session has not collected yet
    client.receive([("snapshot", session.snapshot())])
    client.run(0.1, 8.0)
    seqs = [e["seq"] for e in client.events]
    assert seqs == list(range(client.snapshots[-1]["seq"] + 1, client.last_seq + 1))


# -- clock ------------------------------------------------------------------------------


def test_clock_is_sent_on_pacing_changes_and_every_second_while_quiet():
    client = new_client()
    # A long reply timeout keeps the run going (quiet) after the reply, until t = 20.
    client.command("scenario", 0.0, name="happy-path", config={"reply_timeout": 20})
    client.command("play", 0.0)
    client.command("pause", 0.0)
    client.receive(client.session.tick(0.01))
    assert [c["playing"] for c in client.clocks] == [False]  # news are merged per frame
    client.command("play", 0.01)
    client.run(0.01, 10.0)  # the happy path ends near t = 3: quiet afterwards
    quiet = [c for c in client.clocks if c["t"] > 4.0]
    assert 5 <= len(quiet) <= 7


# -- resume -----------------------------------------------------------------------------


def test_resume_sends_exactly_what_the_client_missed():
    limits = Limits(window=5000)
    store = SessionStore(limits)
    joined = store.join("sid-1", None, None, None, 0.0)
    session = joined.session
    client = Client(session, ack=False)
    client.receive(joined.messages)
    client.command("scenario", 0.0, name="lossy-network")
    client.session.ack(0)
    client.command("play", 0.0)
    client.run(0.0, 2.0)
    session.ack(client.events[10]["seq"])
    # The network drops: some frames are sent to nobody.
    have = client.last_seq
    lost = []
    for i in range(1, 16):
        for event, payload in session.tick(2.0 + i / FPS):
            if event == "events":
                lost.extend(payload["events"])
    assert lost
    store.leave("sid-1", 2.5)
    t = session.sim.now
    assert store.tick(30.0) == []  # detached: frozen
    assert session.sim.now == t
    joined = store.join("sid-2", session.token, have, session.run, 12.0)
    assert joined.session is session and joined.answer["resumed"] is True
    assert joined.answer["fresh"] is False
    client.receive(joined.messages)
    assert client.events[-len(lost):] == lost
    client.ack_batches = True
    client.run(12.0, 1.0)
    assert session.sim.now == pytest.approx(t + 1.0)


def test_resume_from_a_seq_no_longer_buffered_gets_a_snapshot():
    store = SessionStore()
    joined = store.join("a", None, None, None, 0.0)
    session = joined.session
    client = Client(session)
    client.receive(joined.messages)
    client.command("play", 0.0)
    client.run(0.0, 4.0)  # everything acknowledged: the buffer is empty
    store.leave("a", 4.0)
    joined = store.join("b", session.token, 2, None, 5.0)
    assert joined.answer["resumed"] is False
    assert [m[0] for m in joined.messages] == ["snapshot"]
    assert joined.messages[0][1]["seq"] == session.sim.seq
    # A last_seq of another run: snapshot too.
    joined = store.join("c", session.token, session.sim.seq, session.run + 1, 5.0)
    assert joined.answer["resumed"] is False


def test_resume_right_after_a_new_run_needs_the_run_number():
    store = SessionStore()
    joined = store.join("a", None, None, None, 0.0)
    session = joined.session
    client = Client(session)
    client.receive(joined.messages)
    client.command("speed", 0.0, speed=50)
    client.command("play", 0.0)
    client.run(0.0, 1.0)
    old_last = client.last_seq
    # Reset; the snapshot and the new run's first events go out, then the line drops
    # before the client saw any of it.
    session.command(cmd("reset"), 1.0)
    session.command(cmd("speed", speed=50), 1.0)
    session.command(cmd("play"), 1.0)
    for i in range(1, 30):
        session.tick(1.0 + i / FPS)
    assert session.sent >= old_last
    store.leave("a", 2.0)
    # The client's last_seq belongs to the old run: without a run number, a snapshot.
    joined = store.join("b", session.token, old_last, None, 3.0)
    assert joined.answer["resumed"] is False
    assert joined.messages[0][0] == "snapshot"


def test_resume_with_nothing_missed_sends_a_clock():
    store = SessionStore()
    joined = store.join("a", None, None, None, 0.0)
    session = joined.session
    joined = store.join("b", session.token, 0, 1, 1.0)
    assert joined.answer["resumed"] is True
    assert [m[0] for m in joined.messages] == ["clock"]


# -- store ------------------------------------------------------------------------------


def test_unknown_token_gets_a_new_session_with_a_new_token():
    store = SessionStore()
    joined = store.join("a", "no-such-token", 5, 1, 0.0)
    assert joined.answer["fresh"] is True and joined.answer["resumed"] is False
    assert joined.answer["session"] != "no-such-token"
    assert joined.messages[0][0] == "snapshot"


def test_a_second_socket_takes_the_session_over():
    store = SessionStore()
    first = store.join("a", None, None, None, 0.0)
    token = first.session.token
    second = store.join("b", token, 0, None, 1.0)
    assert second.session is first.session and second.detached == "a"
    assert store.session_of("a") is None and store.session_of("b") is first.session
    store.leave("a", 2.0)  # the old socket going away does not detach the new one
    assert first.session.attachment == "b"


def test_joining_another_session_detaches_the_first():
    store = SessionStore(grace=10.0)
    first = store.join("a", None, None, None, 0.0).session
    second = store.join("a", None, None, None, 1.0).session
    assert first is not second and first.attachment is None and second.attachment == "a"
    assert store.expire(11.0) == [first.token]


def test_sessions_are_freed_after_the_grace_period_and_nothing_leaks():
    store = SessionStore(grace=30.0)
    for i in range(1000):
        sid = f"sid-{i}"
        joined = store.join(sid, None, None, None, float(i))
        joined.session.command(cmd("play"), float(i))
        store.tick(float(i) + 0.5)
        store.leave(sid, float(i) + 1)
    assert store.expire(1000.0) != []
    assert len(store) == 30
    assert store.expire(2000.0)
    assert len(store) == 0 and store.by_attachment == {}
    assert store.stats() == {"sessions": 0, "attached": 0, "created": 1000, "expired": 1000}


def test_a_session_back_within_grace_is_kept():
    store = SessionStore(grace=30.0)
    session = store.join("a", None, None, None, 0.0).session
    store.leave("a", 1.0)
    assert store.expire(30.0) == []
    store.join("b", session.token, 0, None, 30.5)
    assert store.expire(1000.0) == []
    assert len(store) == 1


def test_server_full_is_an_error_naming_the_limit():
    store = SessionStore(max_sessions=2, grace=5.0)
    store.join("a", None, None, None, 0.0)
    store.join("b", None, None, None, 0.0)
    with pytest.raises(CommandError) as err:
        store.join("c", None, None, None, 1.0)
    assert err.value.field == "session" and "full" in err.value.allowed
    store.leave("a", 1.0)
    store.join("c", None, None, None, 7.0)  # the expired one made room
    assert len(store) == 2


def test_store_tick_sends_per_session_and_skips_backed_up_sockets():
    store = SessionStore()
    one = store.join("a", None, None, None, 0.0).session
    two = store.join("b", None, None, None, 0.0).session
    one.command(cmd("play"), 0.0)
    two.command(cmd("play"), 0.0)
    out = store.tick(0.5, can_send=lambda sid: sid != "b")
    tokens = {token for token, _, _ in out}
    assert tokens == {one.token}
    assert two.held_back
