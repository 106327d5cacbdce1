"""server/ in-process (factory, hub, handlers): Flask-SocketIO's test client, threading
mode, a hand-driven clock.

The pacing loop is off (AMO_PACER False); a test advances the fake clock and calls
hub.tick() to run one frame, so nothing here depends on wall time.
"""

from __future__ import annotations

import json

import pytest

import server as server_pkg
from server.factory import same_origin_or
from server.hub import Hub
from tests.support import REPO_ROOT


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock):
    return server_pkg.create_app({"TESTING": True, "AMO_ASYNC_MODE": "threading",
                                  "AMO_PACER": False, "AMO_CLOCK": clock, "AMO_GRACE": 30.0})


@pytest.fixture
def hub(app) -> Hub:
    return app.extensions["amo_hub"]


@pytest.fixture
def connect(app):
    clients = []

    def make(**kwargs):
        client = server_pkg.socketio.test_client(app, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        if client.is_connected():
            client.disconnect()


def received(client, name: str | None = None) -> list:
    """Payloads of the events received since the last call (of one name, if given)."""
    items = client.get_received()
    return [(m["name"], m["args"][0]) for m in items if name is None or m["name"] == name]


def join(client, **payload) -> dict:
    answer = client.emit("join", payload, callback=True)
    assert answer["ok"], answer
    return answer


def command(client, cmd: str, **fields) -> dict:
    return client.emit("command", {"cmd": cmd, **fields}, callback=True)


def frames(hub, clock, seconds: float, fps: int = 30) -> None:
    for _ in range(round(seconds * fps)):
        clock.now += 1.0 / fps
        hub.tick()


# -- routes -----------------------------------------------------------------------------


def test_index_and_healthz(app):
    http = app.test_client()
    page = http.get("/")
    assert page.status_code == 200
    if (REPO_ROOT / "templates" / "index.html").is_file():
        assert b"<html" in page.data.lower()
    health = http.get("/healthz")
    assert health.status_code == 200
    data = health.get_json()
    assert data["version"] and data["async_mode"] == "threading"
    assert data["sessions"] == 0


def test_safe_defaults(app):
    server = server_pkg.socketio.server
    assert server.eio.max_http_buffer_size == 16 * 1024
    assert server.eio.cors_allowed_origins is None  # same origin only
    assert len(app.config["SECRET_KEY"]) >= 32
    other = server_pkg.create_app({"AMO_ASYNC_MODE": "threading", "AMO_PACER": False})
    assert other.config["SECRET_KEY"] != app.config["SECRET_KEY"]


def test_allow_origin_keeps_same_origin_and_adds_the_given_ones():
    check = same_origin_or(("http://teacher.example:8000",))
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:5000"}
    assert check("http://teacher.example:8000", environ)
    assert check("http://127.0.0.1:5000", environ)
    assert not check("http://evil.example", environ)
    assert same_origin_or(()) is None


# -- join and the stream ----------------------------------------------------------------


def test_join_answers_with_a_session_then_a_snapshot(connect, hub):
    client = connect()
    answer = join(client, session=None, last_seq=None)
    assert answer["resumed"] is False and answer["fresh"] is True and answer["run"] == 1
    assert {p["name"] for p in answer["presets"]} >= {"happy-path", "reply-lost"}
    assert answer["limits"]["window"] == hub.store.limits.window
    snaps = received(client, "snapshot")
    assert len(snaps) == 1
    snap = snaps[0][1]
    assert snap["session"] == answer["session"] and snap["seq"] == 0
    assert snap["state"]["customer"]["credit_limit"] == 1000
    assert hub.health()["sessions"] == 1


def test_play_streams_batches_with_contiguous_seqs(connect, hub, clock):
    client = connect()
    join(client)
    assert command(client, "speed", speed=4) == {"ok": True, "speed": 4.0}
    assert command(client, "play")["ok"]
    received(client)
    frames(hub, clock, 2.0)
    batches = [p for name, p in received(client) if name == "events"]
    assert batches and batches[0]["from_seq"] == 1
    for before, after in zip(batches, batches[1:]):
        assert after["from_seq"] == before["to_seq"] + 1
    events = [e for b in batches for e in b["events"]]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "order-consistent"
    assert all("server_time" in b for b in batches)


def test_every_command_is_acknowledged(connect, hub, clock):
    client = connect()
    join(client)
    answers = {
        "scenario": command(client, "scenario", name="reply-lost", seed=3),
        "seed": command(client, "seed", seed=4),
        "create-order": command(client, "create-order", amount=50),
        "set-failure": command(client, "set-failure", point="request-lost", probability=0.2),
        "set-credit-limit": command(client, "set-credit-limit", credit_limit=10),
        "play": command(client, "play"),
        "pause": command(client, "pause"),
        "step": command(client, "step"),
        "speed": command(client, "speed", speed=0.5),
        "reset": command(client, "reset"),
    }
    for name, answer in answers.items():
        assert answer["ok"] is True, (name, answer)
    assert answers["create-order"]["order"] == 1
    fail = answers["set-failure"]
    assert {k: fail[k] for k in ("ok", "point", "mode", "probability", "custom")} == {
        "ok": True, "point": "request-lost", "mode": "off", "probability": 0.2, "custom": True}
    names = [name for name, _ in received(client)]
    assert names.count("snapshot") == 4  # join, scenario, seed, reset


def test_errors_name_the_field_and_what_is_allowed(connect):
    client = connect()
    join(client)
    answer = command(client, "set-failure", point="reply-lost", probability=1.5)
    assert answer["ok"] is False
    error = answer["error"]
    assert error["field"] == "probability" and error["value"] == 1.5
    assert "0" in error["allowed"] and "1" in error["allowed"]
    assert "probability" in error["message"]
    assert command(client, "warp")["error"]["field"] == "cmd"
    assert command(client, "speed", speed=1000)["error"]["field"] == "speed"


def test_command_before_join_is_an_error(connect):
    client = connect()
    answer = command(client, "play")
    assert answer["ok"] is False and answer["error"]["field"] == "session"
    answer = client.emit("ack", {"seq": 1}, callback=True)
    assert answer["error"]["field"] == "session"


def test_unknown_events_get_an_error_answer(connect):
    client = connect()
    answer = client.emit("snapshot", {"x": 1}, callback=True)
    assert answer["ok"] is False and answer["error"]["field"] == "event"
    assert "join" in answer["error"]["allowed"]


def test_an_error_without_a_callback_comes_as_an_error_event(connect):
    client = connect()
    join(client)
    received(client)
    client.emit("command", {"cmd": "warp"})
    client.emit("whatever", 1)
    errors = received(client, "error")
    assert [e["error"]["field"] for _, e in errors] == ["cmd", "event"]
    client.emit("command", {"cmd": "pause"})  # fine: nothing is sent back
    assert received(client) == []


def test_oversize_and_extra_arguments_are_refused(connect):
    client = connect()
    join(client)
    answer = command(client, "play", pad="x" * 5000)
    assert answer["error"]["field"] == "payload"
    answer = client.emit("command", {"cmd": "play"}, {"cmd": "pause"}, callback=True)
    assert answer["error"]["field"] == "payload"
    answer = client.emit("command", callback=True)
    assert answer["error"]["field"] == "command"


@pytest.mark.parametrize("raw", [
    '421["command",',  # broken JSON
    '421{"cmd":"play"}',  # not an array
    "421[]",  # no event name
    "421[42]",  # event name not a string
    '421[{"a":1},2]',
    '4511-["command",{"_placeholder":true,"num":0}]',  # binary: not in this protocol
    "47",  # unknown packet type
    "44{}",  # CONNECT_ERROR from a client
    "421" + "[" * 3000 + "]" * 3000,  # nesting deeper than the decoder allows
    "4",  # an empty Socket.IO packet
])
def test_malformed_packets_get_an_error_answer(connect, raw):
    client = connect()
    join(client)
    client.acks = None
    server_pkg.socketio.server._handle_eio_message(client.eio_sid, raw[1:])
    if raw.startswith("421"):
        assert client.acks is not None, raw
        answer = client.acks["args"][0]
        assert answer["ok"] is False and answer["error"]["field"] == "payload"
    assert command(client, "pause")["ok"]  # the connection still works


def test_rate_limit_answers_errors_and_spares_other_clients(connect):
    flooder = connect()
    other = connect()
    join(flooder)
    join(other)
    answers = [command(flooder, "pause") for _ in range(150)]
    ok = sum(1 for a in answers if a["ok"])
    refused = [a["error"] for a in answers if not a["ok"]]
    assert 95 <= ok <= 100  # the burst (the fake clock stands still)
    assert refused and all(e["field"] == "rate" for e in refused)
    assert "per second" in refused[0]["allowed"]
    assert command(other, "pause")["ok"]


def test_acks_cost_less_than_commands(connect):
    client = connect()
    join(client)
    answers = [client.emit("ack", {"seq": 0}, callback=True) for _ in range(400)]
    assert all(a["ok"] for a in answers)


def test_flow_control_window_holds_a_client_that_does_not_ack(app, clock, connect):
    hub = app.extensions["amo_hub"]
    client = connect()
    join(client)
    command(client, "scenario", name="happy-path",
            config={"orders": 100000, "order_interval": 0.001})
    command(client, "speed", speed=50)
    command(client, "play")
    received(client)
    frames(hub, clock, 3.0)
    events = sum(len(p["events"]) for name, p in received(client) if name == "events")
    assert events == hub.store.limits.window
    frames(hub, clock, 1.0)
    assert received(client, "events") == []
    session = hub.store.session_of(client.eio_sid) or next(iter(hub.store.sessions.values()))
    answer = client.emit("ack", {"seq": session.sent, "run": session.run}, callback=True)
    assert answer == {"ok": True, "run": session.run, "acked": session.sent, "unacked": 0,
                      "window": hub.store.limits.window}
    frames(hub, clock, 0.2)
    assert received(client, "events")


# -- resume, takeover, cleanup ----------------------------------------------------------


def test_reconnect_resumes_without_gap_or_duplicate(connect, hub, clock):
    first = connect()
    token = join(first)["session"]
    command(first, "scenario", name="lossy-network")
    first.emit("ack", {"seq": 0})
    command(first, "play")
    received(first)
    frames(hub, clock, 1.0)
    got = [e for name, p in received(first) if name == "events" for e in p["events"]]
    first.emit("ack", {"seq": got[3]["seq"]})
    have = got[5]["seq"]  # the client applied a few more than it acked, then the blip
    first.disconnect()
    clock.now += 10
    second = connect()
    answer = join(second, session=token, last_seq=have)
    assert answer["session"] == token and answer["resumed"] is True
    assert answer["fresh"] is False
    frames(hub, clock, 1.0)
    batches = [p for name, p in received(second) if name == "events"]
    assert batches[0]["from_seq"] == have + 1
    resent = [e for b in batches for e in b["events"]]
    seqs = [e["seq"] for e in resent]
    assert seqs == list(range(have + 1, have + 1 + len(seqs)))
    assert resent[: len(got) - 6] == got[6:]


def test_a_second_tab_with_the_same_token_takes_over(connect):
    first = connect()
    token = join(first)["session"]
    received(first)
    second = connect()
    assert join(second, session=token, last_seq=0)["session"] == token
    detached = received(first, "detached")
    assert detached == [("detached", {"session": token, "reason": "joined-elsewhere"})]
    answer = command(first, "play")
    assert answer["error"]["field"] == "session"


def test_sessions_are_freed_after_grace_and_nothing_is_left(app, connect, hub, clock):
    for _ in range(50):
        client = connect()
        join(client)
        command(client, "play")
        hub.tick()
        client.disconnect()
    assert hub.health()["sessions"] == 50
    assert hub.health()["attached"] == 0
    clock.now += 29
    hub.tick()
    assert hub.health()["sessions"] == 50
    clock.now += 2
    hub.tick()
    health = hub.health()
    assert health["sessions"] == 0 and health["connections"] == 0
    assert hub.store.by_attachment == {}
    rooms = server_pkg.socketio.server.manager.rooms.get("/", {})
    assert not [room for room in rooms if isinstance(room, str) and room.startswith("session:")]


def test_a_disconnect_event_sent_by_the_client_is_not_a_disconnect(connect, hub):
    client = connect()
    join(client)
    client.emit("disconnect", {})
    assert hub.health()["attached"] == 1
    assert command(client, "pause")["ok"]


def test_healthz_is_json(app):
    body = app.test_client().get("/healthz").data
    assert set(json.loads(body)) >= {"version", "async_mode", "sessions"}


# -- hostile input (issue 8) ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["*", "connect", "disconnect", "connect_error"])
def test_events_named_like_handler_slots_get_an_event_error(connect, hub, name):
    client = connect()
    join(client)
    for args in ([], [{}], [{"cmd": "play"}], ["abc"]):
        answer = client.emit(name, *args, callback=True)
        assert answer["ok"] is False and answer["error"]["field"] == "event", (name, answer)
        assert answer["error"]["value"] == name
    assert hub.health()["attached"] == 1
    assert command(client, "pause")["ok"]


def sid_of(client) -> str:
    return server_pkg.socketio.server.manager.sid_from_eio_sid(client.eio_sid, "/")


def test_a_client_behind_on_reading_is_waited_for_then_answered(connect, hub, monkeypatch):
    client = connect()
    join(client)
    backlog = iter([hub.max_backlog + 5, hub.max_backlog, hub.max_backlog - 1])
    monkeypatch.setattr(hub, "backlog", lambda connection: next(backlog, 0))
    assert command(client, "pause")["ok"]  # answered once the client has read
    assert hub.health()["shed"] == 0


def test_a_client_that_does_not_read_is_closed_with_a_reason(app, connect, hub, monkeypatch):
    client = connect()
    join(client)
    received(client)
    shed = []
    monkeypatch.setattr(hub, "shed_after", 0.05)
    monkeypatch.setattr(hub, "backlog", lambda connection: hub.max_backlog)
    monkeypatch.setattr(server_pkg.hub.transport, "shed", lambda server, sid: shed.append(sid))
    assert client.emit("command", {"cmd": "pause"}, callback=True) is None  # no answer
    assert shed == [sid_of(client)] and hub.health()["shed"] == 1
    errors = received(client, "error")
    assert len(errors) == 1 and errors[0][1]["error"]["field"] == "transport"
    assert "read" in errors[0][1]["error"]["allowed"]


def test_new_sessions_are_limited_per_address(clock, connect):
    app = server_pkg.create_app({"TESTING": True, "AMO_ASYNC_MODE": "threading",
                                 "AMO_PACER": False, "AMO_CLOCK": clock,
                                 "AMO_SESSION_RATE": 3})
    hub = app.extensions["amo_hub"]
    clients = [server_pkg.socketio.test_client(app) for _ in range(5)]
    for i, client in enumerate(clients):
        hub.connections[sid_of(client)].address = "10.0.0.9" if i < 4 else "2001:db8::1"
    tokens = [join(client)["session"] for client in clients[:3]]
    answer = clients[3].emit("join", {"session": None}, callback=True)
    assert answer["ok"] is False and answer["error"]["field"] == "session"
    assert "address" in answer["error"]["allowed"]
    assert join(clients[3], session=tokens[0])["fresh"] is False  # resuming is not creating
    assert join(clients[4])["fresh"]  # another address
    clock.now += 20.0  # one more a minute / 3 = every 20 s
    assert join(clients[3], session=None)["fresh"]
    for client in clients:
        client.disconnect()


def test_at_the_cap_the_session_detached_longest_gives_way(clock, connect):
    app = server_pkg.create_app({"TESTING": True, "AMO_ASYNC_MODE": "threading",
                                 "AMO_PACER": False, "AMO_CLOCK": clock,
                                 "AMO_MAX_SESSIONS": 3, "AMO_GRACE": 60.0})
    hub = app.extensions["amo_hub"]
    clients = [server_pkg.socketio.test_client(app) for _ in range(4)]
    tokens = [join(client)["session"] for client in clients[:3]]
    clients[1].disconnect()
    clock.now += 1
    clients[0].disconnect()
    answer = join(clients[3])  # full: the one detached first (tokens[1]) gives way
    assert answer["fresh"] and set(hub.store.sessions) == {tokens[0], tokens[2],
                                                           answer["session"]}
    assert hub.health()["evicted"] == 1
    late = server_pkg.socketio.test_client(app)
    assert join(late)["fresh"]  # tokens[0] gives way now
    last = server_pkg.socketio.test_client(app)
    answer = last.emit("join", {"session": None}, callback=True)  # all attached: full
    assert answer["ok"] is False and "full" in answer["error"]["allowed"]
    for client in (clients[2], clients[3], late, last):
        client.disconnect()


@pytest.mark.parametrize("address, key", [
    ("10.1.2.3", "10.1.2.3"), ("::ffff:10.1.2.3", "10.1.2.3"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"), ("", ""), ("weird", "weird")])
def test_sessions_count_per_ipv4_address_or_ipv6_64(address, key):
    assert server_pkg.hub.address_key(address) == key


def test_werkzeug_lines_about_websocket_leftovers_are_dropped():
    import logging

    from server.transport import QuietWebSocketLeftovers

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("werkzeug", logging.ERROR, __file__, 1, message, None, None)

    quiet = QuietWebSocketLeftovers()
    assert not quiet.filter(record('127.0.0.1 - - code 400, message Bad request syntax '
                                   '("\\x88\\x82\\x12\'x")'))
    assert not quiet.filter(record("code 400, message Bad request version ('\\x81\\x85')"))
    assert quiet.filter(record("code 400, message Bad request syntax ('GET / HTTP/9')"))
    assert quiet.filter(record("something else went wrong"))


def test_http_errors_are_one_plain_line(app):
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    assert response.data == b"404 not found\n"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_a_session_holds_while_its_transport_is_backed_up(connect, hub, monkeypatch):
    client = connect()
    join(client)
    connection = hub.connections[sid_of(client)]
    waiting = {"packets": 0, "bytes": 0}
    monkeypatch.setattr(hub, "backlog", lambda c: waiting["packets"])
    monkeypatch.setattr(server_pkg.hub.transport, "backlog_bytes",
                        lambda server, sid: waiting["bytes"])
    assert hub.can_send(connection)
    waiting.update(packets=hub.max_queued + 1)
    assert not hub.can_send(connection)  # too many packets
    waiting.update(packets=2, bytes=hub.max_queued_bytes + 1)
    assert not hub.can_send(connection)  # a few, but big: a client acking without reading
    waiting.update(bytes=hub.max_queued_bytes)
    assert hub.can_send(connection)
