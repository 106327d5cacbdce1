# ruff: noqa: F811 (fixtures are parameters named as the imported fixtures)
"""server/rooms.py in-process (issue 13): tokens, codes, the follower's stream, refusal,
polls, Take it from here, resume, the rate limit on codes, the end of a room. Flask-
SocketIO's test client, threading mode, a hand-driven clock (as tests/test_server_hub.py).
"""

from __future__ import annotations

import json

import pytest

import server as server_pkg
from server.roomwire import CODE_ALPHABET

# The hub's fixtures (clock, connect, hub), used by name: pytest finds them here.
from tests.test_server_hub import clock, command, connect, frames, hub, join, received  # noqa: F401


@pytest.fixture
def app(clock):  # the hub's app, with a code rate of 5
    return server_pkg.create_app({"TESTING": True, "AMO_ASYNC_MODE": "threading",
                                  "AMO_PACER": False, "AMO_CLOCK": clock, "AMO_GRACE": 30.0,
                                  "AMO_CODE_RATE": 5})


@pytest.fixture
def rooms(app):
    return app.extensions["amo_rooms"]


def call(client, event: str, payload=None) -> dict:
    return client.emit(event, payload, callback=True)


def ok(answer: dict) -> dict:
    assert answer["ok"], answer
    return answer


def presenter_room(connect):
    presenter = connect()
    joined = join(presenter, session=None)
    room = ok(call(presenter, "room-start"))
    received(presenter)
    return presenter, joined["session"], room


def follow(connect, room: dict, **extra) -> tuple:
    follower = connect()
    answer = ok(call(follower, "room-join", {"room": room["room"], **extra}))
    return follower, answer


def test_a_room_has_an_unguessable_token_a_short_code_and_a_control_token(connect):
    lone = connect()
    refused = call(lone, "room-start")
    assert not refused["ok"] and refused["error"]["field"] == "session"
    _presenter, session, room = presenter_room(connect)
    assert len(room["room"]) >= 32 and len(room["control"]) >= 32  # 192 bits each
    assert len(room["code"]) == 6 and set(room["code"]) <= set(CODE_ALPHABET)
    assert room["link"] == f"/room/{room['room']}" and session not in json.dumps(room)
    assert room["followers"] == 0 and room["idle"] > 0


def test_followers_get_the_presenters_stream_never_its_session_token(connect, hub, clock):
    presenter, session, room = presenter_room(connect)
    follower, answer = follow(connect, room, follower="student-0001")
    assert answer["resumed"] is False and answer["session"] is None
    (snap,) = [p for n, p in received(follower) if n == "snapshot"]
    assert snap["room"] == room["room"] and snap["session"] is None
    ok(command(presenter, "set-failure", point="reply-lost", mode="on"))
    ok(command(presenter, "speed", speed=20))
    ok(command(presenter, "create-order"))
    ok(command(presenter, "play"))
    frames(hub, clock, 1.0)
    mine = [p for n, p in received(presenter) if n == "events"]
    theirs = [p for n, p in received(follower) if n == "events"]
    # The same events in the same order, the presenter's batches sent together: at most
    # one message every FOLLOW_EVERY (0.05 s: every other frame), each contiguous.
    assert theirs and [e for b in theirs for e in b["events"]] == \
        [e for b in mine for e in b["events"]][:sum(len(b["events"]) for b in theirs)]
    assert len(theirs) < len(mine) and len(theirs) <= 1.0 / 0.05 + 1
    for batch in theirs:
        assert [e["seq"] for e in batch["events"]] == \
            list(range(batch["from_seq"], batch["to_seq"] + 1))
    frames(hub, clock, 0.2)  # what was still held goes out within FOLLOW_EVERY
    theirs += [p for n, p in received(follower) if n == "events"]
    mine += [p for n, p in received(presenter) if n == "events"]
    assert theirs[-1]["to_seq"] == mine[-1]["to_seq"]
    seqs = [e["seq"] for b in theirs for e in b["events"]]
    assert seqs == list(range(snap["seq"] + 1, snap["seq"] + 1 + len(seqs)))
    assert any(e["type"] == "order-diverged" for b in theirs for e in b["events"])
    everything = json.dumps(received(follower)) + json.dumps(answer)
    assert session not in everything


def test_a_followers_command_is_refused_but_history_is_answered(connect, hub, clock):
    presenter, _session, room = presenter_room(connect)
    ok(command(presenter, "create-order"))
    frames(hub, clock, 0.2)
    follower, _ = follow(connect, room)
    refused = command(follower, "play")
    assert not refused["ok"] and refused["error"]["field"] == "room"
    assert "presenter" in refused["error"]["message"]
    history = ok(command(follower, "history", from_seq=1))
    assert history["events"] and history["events"][0]["seq"] == 1
    bad = command(follower, "history", from_seq=-1)
    assert not bad["ok"] and bad["error"]["field"] == "from_seq"
    assert ok(call(follower, "ack", {"seq": 3, "run": 1}))["follower"] is True


def test_codes_resolve_bad_and_unknown_ones_are_named_and_guessing_is_rate_limited(connect):
    _presenter, _session, room = presenter_room(connect)
    guesser = connect()
    found = ok(call(guesser, "room-code", {"code": room["code"].lower()[:3] + "-"
                                           + room["code"][3:]}))
    assert found["room"] == room["room"]
    bad = call(guesser, "room-code", {"code": "0O1IL!"})
    assert not bad["ok"] and bad["error"]["field"] == "code" and "no 0" in bad["error"]["allowed"]
    unknown = "".join(c for c in CODE_ALPHABET[:6])
    if unknown == room["code"]:
        unknown = CODE_ALPHABET[6:12]
    answer = call(guesser, "room-code", {"code": unknown})
    assert not answer["ok"] and answer["error"]["field"] == "code"
    assert "unknown" in answer["error"]["message"]
    answers = [call(guesser, "room-code", {"code": unknown}) for _ in range(4)]
    limited = answers[-1]
    assert not limited["ok"] and "attempts" in limited["error"]["message"], answers
    other = connect()  # every connection of this test client shares one address
    assert "attempts" in call(other, "room-join", {"code": room["code"]})["error"]["message"]


def test_bad_room_join_payloads_are_named(connect):
    client = connect()
    for payload, field in (({"room": "short"}, "room"), ({}, "room"),
                           ({"room": "A" * 30, "code": "ABCDEF"}, "room"),
                           ({"room": "A" * 30, "last_seq": -1}, "last_seq"),
                           ({"room": "A" * 30, "follower": "x y"}, "follower"),
                           ({"room": "A" * 30, "extra": 1}, "extra"), ("text", "room-join")):
        answer = call(client, "room-join", payload)
        assert not answer["ok"] and answer["error"]["field"] == field, (payload, answer)
    answer = call(client, "room-join", {"room": "A" * 30})
    assert answer["error"]["field"] == "room" and "ended" in answer["error"]["message"]


def test_a_poll_counts_answers_one_each_changeable_until_revealed(connect, rooms):
    presenter, _session, room = presenter_room(connect)
    control = {"room": room["room"], "control": room["control"]}
    followers = [follow(connect, room, follower=f"student-{i:04d}")[0] for i in range(3)]
    wrong = call(presenter, "room-poll", {**control, "control": "B" * 32,
                                          "question": "Q?", "choices": ["a", "b"]})
    assert not wrong["ok"] and wrong["error"]["field"] == "control"
    bad = call(presenter, "room-poll", {**control, "question": "Q?", "choices": ["only"]})
    assert not bad["ok"] and bad["error"]["field"] == "choices"
    poll = ok(call(presenter, "room-poll", {**control, "question": "Which state?",
                                            "choices": ["approved", "unknown", "cancelled"]}))
    assert poll["poll"]["revealed"] is False and "counts" not in poll["poll"]
    for f in followers:
        assert [p for n, p in received(f) if n == "room-poll"][0]["poll"]["id"] == 1
    ok(call(followers[0], "room-answer", {"choice": 0}))
    ok(call(followers[0], "room-answer", {"choice": 1}))  # changed
    ok(call(followers[1], "room-answer", {"choice": 1}))
    ok(call(followers[2], "room-answer", {"choice": 2}))
    out_of_range = call(followers[2], "room-answer", {"choice": 5})
    assert not out_of_range["ok"] and out_of_range["error"]["field"] == "choice"
    rooms.upkeep()
    status = [p for n, p in received(presenter) if n == "room-status"][-1]
    assert status["followers"] == 3 and status["answered"] == 3
    revealed = ok(call(presenter, "room-reveal", control))
    assert revealed["poll"]["counts"] == [0, 2, 1]
    late = call(followers[0], "room-answer", {"choice": 0})
    assert not late["ok"] and late["error"]["field"] == "poll"
    assert [p for n, p in received(followers[1]) if n == "room-poll"][-1]["poll"]["counts"] \
        == [0, 2, 1]


def test_take_it_from_here_forks_without_touching_the_room(connect, hub, clock):
    presenter, session, room = presenter_room(connect)
    ok(command(presenter, "set-failure", point="request-lost", mode="on"))
    ok(command(presenter, "create-order"))
    frames(hub, clock, 0.5)
    follower, _ = follow(connect, room)
    received(follower)
    before = hub.store.sessions[session]
    run, seq = before.run, before.sim.seq
    took = ok(call(follower, "room-take"))
    assert took["session"] != session and took["forked_from"]["seq"] == seq
    (snap,) = [p for n, p in received(follower) if n == "snapshot"]
    assert snap["session"] == took["session"] and snap["seq"] == seq
    assert snap["state"]["failures"]["request-lost"]["mode"] == "on"
    ok(command(follower, "create-order"))  # its own run now
    assert before.run == run and before.sim.seq == seq  # the room's run is as it was
    ok(command(presenter, "create-order"))
    frames(hub, clock, 0.2)
    assert not [p for n, p in received(follower) if n == "events"
                and p["run"] == run and p["from_seq"] > seq]


def test_a_follower_resumes_at_its_seq(connect, hub, clock):
    presenter, _session, room = presenter_room(connect)
    follower, _ = follow(connect, room)
    (snap,) = [p for n, p in received(follower) if n == "snapshot"]
    ok(command(presenter, "speed", speed=20))
    ok(command(presenter, "create-order"))
    ok(command(presenter, "play"))
    frames(hub, clock, 0.3)
    batches = [p for n, p in received(follower) if n == "events"]
    last = batches[0]["to_seq"]
    frames(hub, clock, 0.5)
    again = connect()
    answer = ok(call(again, "room-join", {"room": room["room"], "last_seq": last,
                                          "run": snap["run"]}))
    assert answer["resumed"] is True
    (batch,) = [p for n, p in received(again) if n == "events"]
    assert batch["from_seq"] == last + 1


def test_a_room_ends_with_its_presenter_or_when_ended(connect, hub, clock, rooms):
    presenter, _session, room = presenter_room(connect)
    follower, _ = follow(connect, room)
    presenter.disconnect()
    rooms.upkeep()
    assert [p for n, p in received(follower) if n == "room-presenter"][-1]["away"] is True
    clock.now += 31
    hub.tick()  # the session's grace runs out
    rooms.upkeep()
    assert [p for n, p in received(follower) if n == "room-ended"][0]["reason"] \
        == "presenter-gone"
    answer = call(connect(), "room-join", {"room": room["room"]})
    assert answer["error"]["field"] == "room"
    presenter2, _s, room2 = presenter_room(connect)
    wrong = call(presenter2, "room-end", {"room": room2["room"], "control": room["control"]})
    assert not wrong["ok"] and wrong["error"]["field"] == "control"
    ok(call(presenter2, "room-end", {"room": room2["room"], "control": room2["control"]}))
    assert [p for n, p in received(presenter2) if n == "room-ended"][0]["reason"] == "ended"


def test_an_idle_room_ends(connect, rooms):
    _presenter, _session, room = presenter_room(connect)
    follower, _ = follow(connect, room)
    rooms.owned[room["room"]].active -= rooms.idle + 1
    rooms.upkeep()
    assert [p for n, p in received(follower) if n == "room-ended"][0]["reason"] == "idle"


def test_the_join_page_and_its_qr_code(connect, app):
    _presenter, _session, room = presenter_room(connect)
    web = app.test_client()
    assert web.get(f"/room/{room['room']}").status_code == 200
    svg = web.get(f"/room/{room['room']}/qr.svg")
    assert svg.status_code == 200 and svg.content_type == "image/svg+xml"
    assert b"<svg" in svg.data
    link = web.get(f"/room/{room['room']}/link").get_json()["link"]
    assert link.endswith(f"/room/{room['room']}")
    assert web.get("/room/" + "A" * 30 + "/qr.svg").status_code == 404
    assert b"not a room token" in web.get("/room/bad/qr.svg").data
