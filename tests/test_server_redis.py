"""Rooms across server processes through a real Redis (issue 13): a presenter on process
A, followers on process B (eventlet and threading), one redis-server, all on loopback.
The follower on B gets the run rebuilt from the room's record, then A's stream through
Redis; codes, polls and Take it from here work from B; a follower whose process dies
resumes on the other at the right seq, nothing missing, nothing twice.

Runs when Debian's redis-server is installed (``make test`` installs it)."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.support import (
    AckingClient,
    RawSocketIO,
    RedisServer,
    ServerProcess,
    http_get,
    redis_available,
)

pytestmark = pytest.mark.skipif(not redis_available(),
                                reason="redis-server is not installed (make test installs it)")


@pytest.fixture(scope="module")
def redis():
    with RedisServer(log_name="redis-test-server-redis") as server:
        yield server


@pytest.fixture(scope="module")
def two(redis):
    a = ServerProcess("eventlet", ["--message-queue", redis.url], log_name="redis-a")
    b = ServerProcess("threading", ["--message-queue", redis.url], log_name="redis-b")
    yield a, b
    a.stop()
    b.stop()


def ok(answer) -> dict:
    assert isinstance(answer, dict) and answer.get("ok"), answer
    return answer


def events_until(client: RawSocketIO, done, timeout: float = 10.0) -> list:
    """Read until ``done(received)`` holds; returns the received (name, payload) pairs."""
    deadline = time.monotonic() + timeout
    while not done(client.received):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s; got {[n for n, _ in client.received]}")
        client.read(0.2)
    return client.received


def batches(received) -> list:
    return [p for n, p in received if n == "events"]


def contiguous(snapshot_seq: int, got: list) -> list[int]:
    seqs = [e["seq"] for b in got for e in b["events"] if e["seq"] > snapshot_seq]
    assert seqs == sorted(set(seqs)), "a seq twice or out of order"
    return seqs


def test_a_follower_on_another_process_follows_the_presenter(two):
    a, b = two
    presenter = AckingClient(a.url)
    ok(presenter.call("join", {"session": None}))
    ok(presenter.call("command", {"cmd": "set-failure", "point": "reply-lost", "mode": "on"}))
    ok(presenter.call("command", {"cmd": "create-order"}))
    room = ok(presenter.call("room-start"))
    # The record reaches Redis with the presenter's next message; a step makes one.
    ok(presenter.call("command", {"cmd": "step"}))
    time.sleep(0.2)

    follower = RawSocketIO(b.url)
    found = ok(follower.call("room-code", {"code": room["code"]}))
    assert found["room"] == room["room"]
    joined = ok(follower.call("room-join", {"room": room["room"], "follower": "student-b-01"}))
    assert joined["resumed"] is False
    (snap,) = [p for n, p in follower.received if n == "snapshot"]
    follower.received.clear()
    assert snap["session"] is None and snap["room"] == room["room"]
    assert snap["state"]["failures"]["reply-lost"]["mode"] == "on"

    # The follower's snapshot is the presenter's run: the presenter's own history agrees.
    mine = ok(presenter.call("command", {"cmd": "history", "from_seq": 1,
                                         "to_seq": snap["seq"]}))
    theirs = ok(follower.call("command", {"cmd": "history", "from_seq": 1,
                                          "to_seq": snap["seq"]}))
    assert theirs["events"] == mine["events"] and len(mine["events"]) == snap["seq"]
    refused = follower.call("command", {"cmd": "play"})
    assert refused["error"]["field"] == "room"

    ok(presenter.call("command", {"cmd": "speed", "speed": 20}))
    ok(presenter.call("command", {"cmd": "create-order"}))
    ok(presenter.call("command", {"cmd": "play"}))
    got = events_until(follower, lambda r: any(
        e["type"] == "order-diverged" and e["order"] == 2
        for b in batches(r) for e in b["events"]))
    seqs = contiguous(snap["seq"], batches(got))
    assert seqs[0] == snap["seq"] + 1

    # Polls and counts across processes: the answer on B is counted on A.
    control = {"room": room["room"], "control": room["control"]}
    ok(presenter.call("room-poll", {**control, "question": "Q?", "choices": ["a", "b"]}))
    events_until(follower, lambda r: any(n == "room-poll" for n, _ in r))
    ok(follower.call("room-answer", {"choice": 1}))
    revealed = ok(presenter.call("room-reveal", control))
    assert revealed["poll"]["counts"] == [0, 1]
    deadline = time.monotonic() + 5
    while not any(n == "room-status" and p["followers"] == 1 for n, p in presenter.received):
        assert time.monotonic() < deadline, presenter.received
        time.sleep(0.1)

    # Take it from here on B: the room's run as B rebuilt it, a session of B's own.
    ok(presenter.call("command", {"cmd": "pause"}))
    time.sleep(0.3)
    took = ok(follower.call("room-take"))
    assert took["session"] and took["forked_from"]["seq"] > snap["seq"]
    ok(follower.call("command", {"cmd": "create-order"}))
    presenter.close()
    follower.close()


def test_followers_of_a_killed_process_resume_on_the_other(redis):
    a = ServerProcess("eventlet", ["--message-queue", redis.url], log_name="redis-kill-a")
    b = ServerProcess("eventlet", ["--message-queue", redis.url], log_name="redis-kill-b")
    try:
        presenter = AckingClient(a.url)
        ok(presenter.call("join", {"session": None}))
        room = ok(presenter.call("room-start"))
        ok(presenter.call("command", {"cmd": "scenario", "name": "lossy-network",
                                      "config": {"orders": 100_000}}))  # goes on and on
        ok(presenter.call("command", {"cmd": "speed", "speed": 4}))
        ok(presenter.call("command", {"cmd": "play"}))
        time.sleep(0.3)
        follower = RawSocketIO(b.url)
        ok(follower.call("room-join", {"room": room["room"]}))
        (snap,) = [p for n, p in follower.received if n == "snapshot"]
        events_until(follower, lambda r: len(batches(r)) >= 3)
        seen = contiguous(snap["seq"], batches(follower.received))
        last = seen[-1]
        b.stop()  # the follower's process dies mid-lecture
        follower.abort()
        # The presenter goes on meanwhile.
        ok(presenter.call("command", {"cmd": "create-order"}))
        time.sleep(0.3)
        again = RawSocketIO(a.url)
        answer = ok(again.call("room-join", {"room": room["room"], "last_seq": last,
                                             "run": snap["run"]}))
        assert answer["resumed"] is True
        got = events_until(again, lambda r: len(batches(r)) >= 3)
        after = contiguous(last, batches(got))
        assert after[0] == last + 1  # nothing missing, nothing twice
        presenter.close()
        again.close()
    finally:
        a.stop()
        b.stop()


def test_the_presenter_of_a_killed_process_takes_the_room_over_on_the_other(redis):
    """The presenter's process dies mid-lecture: followers elsewhere are told the presenter
    is away; the presenter's page reconnects to the other process, which rebuilds the run
    from the room's record and leads the room from there. Followers on that process go
    on from the rebuilt snapshot; one that was on the dead process resumes at its seq."""
    a = ServerProcess("eventlet", ["--message-queue", redis.url], log_name="redis-adopt-a")
    b = ServerProcess("threading", ["--message-queue", redis.url], log_name="redis-adopt-b")
    try:
        presenter = AckingClient(a.url)
        ok(presenter.call("join", {"session": None}))
        room = ok(presenter.call("room-start"))
        ok(presenter.call("command", {"cmd": "scenario", "name": "lossy-network",
                                      "seed": 5, "config": {"orders": 100_000}}))
        ok(presenter.call("command", {"cmd": "set-failure", "point": "reply-lost",
                                      "mode": "on", "probability": 0.5}))
        ok(presenter.call("command", {"cmd": "speed", "speed": 4}))
        ok(presenter.call("command", {"cmd": "play"}))
        time.sleep(0.5)
        here = RawSocketIO(a.url)  # a follower on the presenter's own process
        ok(here.call("room-join", {"room": room["room"]}))
        there = RawSocketIO(b.url)  # and one on the other
        ok(there.call("room-join", {"room": room["room"]}))
        (snap,) = [p for n, p in here.received if n == "snapshot"]
        events_until(here, lambda r: len(batches(r)) >= 3)
        events_until(there, lambda r: len(batches(r)) >= 3)
        last = contiguous(snap["seq"], batches(here.received))[-1]
        run = snap["run"]

        os.killpg(a.proc.pid, signal.SIGKILL)  # the presenter's process dies
        a.stop()
        presenter.sio.disconnect()
        here.abort()
        there.received.clear()
        # Within the heartbeat's life (5 s) and an upkeep, B's followers hear it.
        events_until(there, lambda r: any(n == "room-presenter" and p["away"]
                                          for n, p in r), timeout=15)

        # The presenter's page reconnects to B: its session is unknown there, its control
        # token (kept by the page) takes the room over.
        back = AckingClient(b.url)
        ok(back.call("join", {"session": None}))
        there.received.clear()
        taken = ok(back.call("room-present", {"room": room["room"],
                                              "control": room["control"]}))
        assert taken["here"] is True and taken["adopted"] is True
        assert taken["code"] == room["code"]
        deadline = time.monotonic() + 5
        while not [p for n, p in back.received if n == "snapshot" and p["run"] == run]:
            assert time.monotonic() < deadline, back.received
            time.sleep(0.05)
        rebuilt = [p for n, p in back.received if n == "snapshot" and p["run"] == run][-1]
        assert rebuilt["scenario"] == "lossy-network" and rebuilt["seed"] == 5
        assert rebuilt["state"]["failures"]["reply-lost"]["probability"] == 0.5
        assert rebuilt["playing"] is True and rebuilt["speed"] == 4
        assert rebuilt["seq"] >= last - 200  # the record trails the stream by a frame or so
        # B's follower gets the rebuilt run, then its stream, and the presenter is back.
        got = events_until(there, lambda r: any(n == "snapshot" for n, _ in r)
                           and len(batches(r)) >= 3)
        (follow_snap,) = [p for n, p in got if n == "snapshot"]
        assert follow_snap["run"] == run and follow_snap["session"] is None
        after = contiguous(follow_snap["seq"], [b_ for b_ in batches(got)
                                                if b_["run"] == run])
        assert after and after[0] == follow_snap["seq"] + 1
        events_until(there, lambda r: any(n == "room-presenter" and not p["away"]
                                          for n, p in r))
        # The presenter leads: a new order reaches the follower; followers still refused.
        order = ok(back.call("command", {"cmd": "create-order"}))["order"]
        events_until(there, lambda r: any(e["type"] == "order-created" and e["order"] == order
                                          for b_ in batches(r) for e in b_["events"]))
        assert there.call("command", {"cmd": "pause"})["error"]["field"] == "room"
        # The follower of the dead process re-joins B with its last seq: no gap.
        again = RawSocketIO(b.url)
        answer = ok(again.call("room-join", {"room": room["room"], "last_seq": last,
                                             "run": run}))
        got = events_until(again, lambda r: len(batches(r)) >= 2)
        if answer["resumed"]:
            seqs = contiguous(last, batches(got))
            assert seqs[0] == last + 1
        else:  # ahead of the rebuilt run's head: a snapshot, then on from it
            (resnap,) = [p for n, p in got if n == "snapshot"]
            assert contiguous(resnap["seq"], batches(got))[0] == resnap["seq"] + 1
        for client in (back, there, again):
            client.close()
    finally:
        a.stop()
        b.stop()


def lecture(url: str) -> tuple[AckingClient, dict]:
    """A presenter on ``url`` leading a room through a run that goes on and on."""
    presenter = AckingClient(url)
    ok(presenter.call("join", {"session": None}))
    room = ok(presenter.call("room-start"))
    ok(presenter.call("command", {"cmd": "scenario", "name": "lossy-network",
                                  "config": {"orders": 100_000}}))
    ok(presenter.call("command", {"cmd": "speed", "speed": 8}))
    ok(presenter.call("command", {"cmd": "play"}))
    return presenter, room


def test_followers_joining_another_process_mid_stream_miss_nothing(two):
    """The record (written in the background) may be a frame behind the stream or ahead
    of it: the joining follower gets its snapshot, the batches heard since, then the
    stream; never a gap."""
    a, b = two
    presenter, room = lecture(a.url)
    try:
        time.sleep(0.3)
        for _ in range(12):
            follower = RawSocketIO(b.url)
            ok(follower.call("room-join", {"room": room["room"]}))
            (snap,) = [p for n, p in follower.received if n == "snapshot"]
            got = events_until(follower, lambda r: len(batches(r)) >= 3)
            seqs = contiguous(snap["seq"], batches(got))
            assert seqs[0] == snap["seq"] + 1, (snap["seq"], batches(got)[0]["from_seq"])
            assert seqs == list(range(seqs[0], seqs[-1] + 1))  # nothing missing
            follower.close()
    finally:
        ok(presenter.call("command", {"cmd": "pause"}))
        presenter.close()


def test_redis_away_the_presenters_process_goes_on_and_the_room_recovers():
    """Redis stops mid-lecture: the presenter's commands are answered and its own
    process's followers get every batch (nothing there waits for Redis); the other
    process's followers stop moving. Redis back (empty): the record is written again, the
    code works again, and the other process's followers re-join and resume."""
    with RedisServer(log_name="redis-restart") as redis:
        a = ServerProcess("eventlet", ["--message-queue", redis.url], log_name="redis-restart-a")
        b = ServerProcess("eventlet", ["--message-queue", redis.url], log_name="redis-restart-b")
        try:
            presenter, room = lecture(a.url)
            here, there = RawSocketIO(a.url), RawSocketIO(b.url)
            for follower in (here, there):
                ok(follower.call("room-join", {"room": room["room"], "follower": "f-" + "x" * 8}))
                events_until(follower, lambda r: len(batches(r)) >= 3)
            mark = len(batches(here.received))
            redis.stop()
            answer = ok(presenter.call("command", {"cmd": "create-order"}))
            got = events_until(here, lambda r: len(batches(r)) >= mark + 30, timeout=20)
            (snap,) = [p for n, p in here.received if n == "snapshot"]
            seqs = contiguous(snap["seq"], batches(got))
            assert seqs == list(range(snap["seq"] + 1, seqs[-1] + 1))
            assert any(e["type"] == "order-created" and e["order"] == answer["order"]
                       for batch in batches(got) for e in batch["events"])

            redis.start()  # the same port, no data
            control = {"room": room["room"], "control": room["control"]}
            deadline = time.monotonic() + 20
            while True:  # the presenter's process writes the room's record again
                found = there.call("room-code", {"code": room["code"]})
                if found.get("ok") and presenter.call("room-poll", {
                        **control, "question": "Q?", "choices": ["a", "b"]}).get("ok"):
                    break
                assert time.monotonic() < deadline, found
                time.sleep(0.3)
            # The follower on B re-joins with its last seq, as the page does after a gap
            # (it stopped moving while Redis was away; what came after is not continuous).
            # B hears the room again once its listener has subscribed again (python-socketio
            # retries after 1, 2, 4 ... s): the first batch it hears shows the gap.
            (snap,) = [p for n, p in there.received if n == "snapshot"]

            def contiguous_until_gap(received) -> tuple[int, bool]:
                last = snap["seq"]
                for batch in batches(received):
                    if batch["from_seq"] > last + 1:
                        return last, True
                    last = max(last, batch["to_seq"])
                return last, False

            events_until(there, lambda r: contiguous_until_gap(r)[1], timeout=30)
            last, _ = contiguous_until_gap(there.received)
            there.received.clear()
            while True:  # "try again in a moment" until the run's record is back
                answer = there.call("room-join", {"room": room["room"], "last_seq": last,
                                                  "run": snap["run"]})
                if answer.get("ok"):
                    break
                assert time.monotonic() < deadline and answer["error"]["field"] == "room", \
                    answer
                time.sleep(0.3)
            got = events_until(there, lambda r: len(batches(r)) >= 5)
            start = 0
            if not answer["resumed"]:
                start = [n for n, _ in got].index("snapshot")
                last = got[start][1]["seq"]
            # Batches heard before the re-join left the room may come first: skipped, as
            # the page skips what does not continue its seq while it re-joins.
            after = [p for n, p in got[start:] if n == "events"]
            while after and after[0]["from_seq"] > last + 1:
                after.pop(0)
            base = last
            seqs = contiguous(base, after)
            assert seqs == list(range(base + 1, seqs[-1] + 1))  # nothing missing, nothing twice
            health = json.loads(http_get(f"{a.url}/healthz")[1])
            assert health["room_record_failures"] >= 1 and health["rooms"] == 1
            presenter.close()
        finally:
            a.stop()
            b.stop()


def test_a_poll_open_when_redis_loses_its_data_is_asked_again():
    """Redis restarted without its data while a poll is open: the presenter's process
    writes the room back with the poll (same id) and asks it again; the followers' pages
    answer again what they had answered (simulated here), so the reveal counts them."""
    with RedisServer(log_name="redis-poll") as redis:
        a = ServerProcess("threading", ["--message-queue", redis.url], log_name="redis-poll-a")
        try:
            presenter, room = lecture(a.url)
            control = {"room": room["room"], "control": room["control"]}
            follower = RawSocketIO(a.url)
            ok(follower.call("room-join", {"room": room["room"], "follower": "student-poll"}))
            asked = ok(presenter.call("room-poll", {**control, "question": "Who knows?",
                                                    "choices": ["sender", "nobody"]}))["poll"]
            ok(follower.call("room-answer", {"choice": 1}))
            redis.stop()
            redis.start()  # the same port, no data
            follower.received.clear()
            again = events_until(follower, lambda r: any(
                n == "room-poll" for n, _ in r), timeout=20)
            (poll,) = [p["poll"] for n, p in again if n == "room-poll"]
            assert poll["id"] == asked["id"] and poll["question"] == "Who knows?"
            assert poll["revealed"] is False
            ok(follower.call("room-answer", {"choice": 1}))  # as room.js does
            revealed = ok(presenter.call("room-reveal", control))["poll"]
            assert revealed["id"] == asked["id"] and revealed["counts"] == [0, 1]
            presenter.close()
            follower.close()
        finally:
            a.stop()
