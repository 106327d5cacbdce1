"""Real servers: ``app.py`` in a subprocess, in both async modes, driven by python-socketio
clients and a bare websocket client (tests.support.RawSocketIO).

The test process never imports app.py or eventlet: the server runs in its own process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
import socketio
import websocket

from engine.presets import preset_config, preset_script
from engine.simulation import Simulation
from tests.support import (
    REPO_ROOT,
    RawSocketIO,
    ServerProcess,
    http_get,
    process_rss_mb,
)

MODES = ("eventlet", "threading")
GRACE = 3.0


@pytest.fixture(scope="module", params=MODES)
def server(request, start_module_server) -> ServerProcess:
    return start_module_server(request.param, "--grace", str(GRACE))


def reference_events(name: str, seed: int = 1, config: dict | None = None) -> list[dict]:
    """The events of a preset run to its end, straight from the engine."""
    sim = Simulation(preset_config(name, {**(config or {}), "seed": seed}))
    events: list[dict] = []
    sim.run_script(preset_script(name), events.append)
    return events


def health(server: ServerProcess) -> dict:
    status, body = http_get(server.url + "/healthz")
    assert status == 200
    return json.loads(body)


class Follower:
    """A python-socketio client that follows its session the way the page does."""

    def __init__(self, url: str, transports: list[str] | None = None) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.cond = threading.Condition()
        self.events: list[dict] = []
        self.snapshots: list[dict] = []
        self.clocks: list[dict] = []
        self.errors: list[dict] = []
        self.detached: list[dict] = []
        self.problems: list[str] = []
        self.batches = 0
        self.last_seq: int | None = None
        self.run: int | None = None
        self.sio.on("snapshot", self._snapshot)
        self.sio.on("events", self._events)
        self.sio.on("clock", lambda p: self._note(self.clocks, p))
        self.sio.on("error", lambda p: self._note(self.errors, p))
        self.sio.on("detached", lambda p: self._note(self.detached, p))
        self.sio.connect(url, transports=transports or ["websocket"], wait_timeout=10)

    def _note(self, bucket: list, payload) -> None:
        with self.cond:
            bucket.append(payload)
            self.cond.notify_all()

    def _snapshot(self, snap: dict) -> None:
        with self.cond:
            self.snapshots.append(snap)
            self.events = []
            self.last_seq = snap["seq"]
            self.run = snap["run"]
            self.cond.notify_all()
        self.sio.emit("ack", {"seq": snap["seq"], "run": snap["run"]})

    def _events(self, batch: dict) -> None:
        with self.cond:
            if batch["run"] != self.run:
                return
            if batch["from_seq"] != self.last_seq + 1:
                self.problems.append(f"batch {batch['from_seq']}..{batch['to_seq']} after "
                                     f"{self.last_seq}")
            seqs = [e["seq"] for e in batch["events"]]
            if seqs != list(range(batch["from_seq"], batch["to_seq"] + 1)):
                self.problems.append("seqs inside a batch are not contiguous")
            self.events.extend(batch["events"])
            self.last_seq = batch["to_seq"]
            self.batches += 1
            self.cond.notify_all()
        self.sio.emit("ack", {"seq": batch["to_seq"], "run": batch["run"]})

    def join(self, **payload) -> dict:
        answer = self.sio.call("join", payload, timeout=10)
        assert answer["ok"], answer
        return answer

    def command(self, cmd: str, **fields) -> dict:
        return self.sio.call("command", {"cmd": cmd, **fields}, timeout=10)

    def wait_for(self, predicate, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                assert left > 0, "timed out waiting"
                self.cond.wait(left)

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def close(self) -> None:
        self.sio.disconnect()


@pytest.fixture
def follower(server):
    made = []

    def make() -> Follower:
        client = Follower(server.url)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# -- serving ----------------------------------------------------------------------------


def test_health_page_and_clean_startup(server):
    data = health(server)
    assert data["async_mode"] == server.mode and data["version"]
    assert isinstance(data["sessions"], int)
    status, page = http_get(server.url + "/")
    assert status == 200 and page
    status, script = http_get(server.url + "/static/vendor/socket.io/socket.io.esm.min.js")
    assert status == 200 and len(script) > 20_000
    log = server.read_log()
    assert f"open http://127.0.0.1:{server.port}/" in log
    assert "deprecated" not in log.lower() and "Traceback" not in log
    assert "RLock" not in log


# -- the stream -------------------------------------------------------------------------


def test_a_scenario_streams_exactly_the_engines_events(server, follower):
    client = follower()
    client.join(session=None)
    client.command("scenario", name="reply-lost")
    client.command("speed", speed=8)
    assert client.command("play")["ok"]
    expected = reference_events("reply-lost")
    client.wait_for(lambda: len(client.events) >= len(expected))
    assert client.events == expected
    assert "sender-timeout" in client.types()
    assert client.batches < len(expected)  # batched per frame
    assert client.problems == []


@pytest.mark.parametrize("transports", [["polling"], ["polling", "websocket"]])
def test_long_polling_and_the_upgrade_to_websocket_stream_too(server, transports):
    client = Follower(server.url, transports)
    try:
        client.join()
        client.command("scenario", name="request-lost")
        client.command("speed", speed=8)
        client.command("play")
        expected = reference_events("request-lost")
        client.wait_for(lambda: len(client.events) >= len(expected))
        assert client.events == expected and client.problems == []
    finally:
        client.close()


def test_every_command_is_acknowledged(server, follower):
    client = follower()
    client.join()
    calls = [
        ("scenario", {"name": "lossy-network", "seed": 5, "config": {"orders": 20}}),
        ("seed", {"seed": 6}),
        ("set-failure", {"point": "crash-after-processing", "mode": "next"}),
        ("set-failure", {"point": "request-lost", "probability": 0.5}),
        ("set-credit-limit", {"credit_limit": 150}),
        ("create-order", {"amount": 120}),
        ("speed", {"speed": 3}),
        ("play", {}), ("pause", {}), ("step", {}), ("step", {}),
        ("reset", {}),
    ]
    for cmd, fields in calls:
        answer = client.command(cmd, **fields)
        assert answer["ok"] is True, (cmd, answer)
    assert client.snapshots[-1]["seed"] == 6 and client.snapshots[-1]["run"] == 4
    assert client.problems == []


def test_errors_name_field_and_allowed(server, follower):
    client = follower()
    client.join()
    answer = client.command("speed", speed=-1)
    assert answer["ok"] is False and answer["error"]["field"] == "speed"
    assert "0.05" in answer["error"]["allowed"]
    answer = client.sio.call("teleport", {"to": "mars"}, timeout=10)
    assert answer["error"]["field"] == "event"
    client.sio.emit("command", {"cmd": "fly"})  # no callback: an error event instead
    client.wait_for(lambda: client.errors)
    assert client.errors[0]["error"]["field"] == "cmd"


# -- reconnect --------------------------------------------------------------------------


def test_reconnect_resumes_from_last_seq_without_gap_or_duplicate(server):
    expected = reference_events("lossy-network")
    first = RawSocketIO(server.url)
    answer = first.call("join", {"session": None})
    token = answer["session"]
    run = first.call("command", {"cmd": "scenario", "name": "lossy-network"})["run"]
    first.call("command", {"cmd": "speed", "speed": 40})
    first.call("command", {"cmd": "play"})
    have: list[dict] = []
    while len(have) < 300:
        assert first.read(10) is not None
        for batch in first.take("events"):
            if batch["run"] == run:
                have.extend(batch["events"])
        if have:
            first.emit("ack", {"seq": have[len(have) // 2]["seq"], "run": run}, answer=False)
    first.abort()  # the lid closes: no goodbye, frames in flight are lost
    time.sleep(0.5)

    second = RawSocketIO(server.url)
    answer = second.call("join", {"session": token, "last_seq": have[-1]["seq"], "run": run})
    assert answer["session"] == token and answer["resumed"] is True
    deadline = time.monotonic() + 30
    while len(have) < len(expected) and time.monotonic() < deadline:
        second.read(5)
        for batch in second.take("events"):
            assert batch["from_seq"] == have[-1]["seq"] + 1, "gap or duplicate"
            have.extend(batch["events"])
            second.emit("ack", {"seq": batch["to_seq"], "run": run}, answer=False)
    second.close()
    assert have == expected


def test_a_second_tab_takes_the_session_over(server, follower):
    first = follower()
    token = first.join()["session"]
    second = follower()
    answer = second.join(session=token, last_seq=first.last_seq)
    assert answer["session"] == token and answer["resumed"] is True
    first.wait_for(lambda: first.detached)
    assert first.detached[0]["session"] == token
    assert first.command("play")["error"]["field"] == "session"
    assert second.command("play")["ok"]


def test_sessions_are_freed_after_the_grace_period(server):
    # The server is shared by this module: count only what this test makes and frees.
    before = health(server)
    clients = []
    for _ in range(20):
        client = RawSocketIO(server.url)
        client.call("join", {"session": None})
        client.call("command", {"cmd": "play"})
        clients.append(client)
    assert health(server)["created"] - before["created"] == 20
    for i, client in enumerate(clients):
        client.close() if i % 2 else client.abort()
    # An aborted socket the server did not see close (a busy machine can miss the FIN) is
    # found by engine.io's ping timeout (25 s + 20 s), then waits out the grace period.
    deadline = time.monotonic() + GRACE + 50
    while (health(server)["expired"] - before["expired"] < 20
           and time.monotonic() < deadline):
        time.sleep(0.25)
    data = health(server)
    assert data["expired"] - before["expired"] >= 20
    assert data["sessions"] <= before["sessions"]
    assert data["attached"] <= before["attached"]
    assert data["connections"] <= before["connections"]


# -- bounded memory, floods, bad input ----------------------------------------------------


def test_a_client_that_stops_reading_does_not_grow_the_server(server, follower):
    pid = server.proc.pid
    slow = RawSocketIO(server.url, rcvbuf=4096)
    slow.call("join", {"session": None})
    slow.call("command", {"cmd": "scenario", "name": "happy-path",
                          "config": {"orders": 1_000_000, "order_interval": 0.0001}})
    slow.call("command", {"cmd": "speed", "speed": 200})
    before = process_rss_mb(pid)
    slow.emit("command", {"cmd": "play"})
    # Meanwhile another tab streams normally.
    other = follower()
    other.join()
    other.command("speed", speed=10)
    started = time.monotonic()
    other.command("play")
    other.wait_for(lambda: "order-consistent" in other.types(), timeout=10)
    assert time.monotonic() - started < 3
    peak = before
    for _ in range(16):  # 8 s of not reading at full speed
        time.sleep(0.5)
        peak = max(peak, process_rss_mb(pid))
    assert peak - before < 50, f"server grew {peak - before:.1f} MB"
    assert health(server)["attached"] >= 1
    slow.abort()


def test_a_flood_gets_error_answers_and_spares_others(server, follower):
    other = follower()
    other.join()
    flood = RawSocketIO(server.url)
    flood.call("join", {"session": None})
    ids = [flood.emit("command", {"cmd": "pause"}) for _ in range(600)]
    deadline = time.monotonic() + 20
    while not all(i in flood.answers for i in ids) and time.monotonic() < deadline:
        flood.read(5)
    answers = [flood.answers[i] for i in ids]
    refused = [a for a in answers if not a["ok"]]
    assert len(refused) >= 400
    assert {a["error"]["field"] for a in refused} == {"rate"}
    assert other.command("pause")["ok"]
    flood.close()


def test_oversize_and_malformed_input(server, follower):
    other = follower()
    other.join()
    client = RawSocketIO(server.url)
    client.call("join", {"session": None})
    # Within the transport limit but above the protocol's: an error answer.
    answer = client.call("command", {"cmd": "play", "pad": "x" * 8000})
    assert answer["ok"] is False and answer["error"]["field"] == "payload"
    # Broken Socket.IO packets with an ack id: error answers, the connection stays.
    for frame in ('427["command",', '428{"cmd":"play"}', "429[7]",
                  '4210' + "[" * 3000 + "]" * 3000):
        client.send_raw(frame)
    deadline = time.monotonic() + 10
    while len(client.answers) < 4 and time.monotonic() < deadline:
        client.read(5)
    assert [client.answers[i]["error"]["field"] for i in (7, 8, 9, 10)] == ["payload"] * 4
    assert client.call("command", {"cmd": "pause"})["ok"]
    # Binary frames are not part of the protocol.
    client.send_raw(b"\x00\x01\x02")
    assert client.call("command", {"cmd": "pause"})["ok"]
    # Above the transport limit (16 KB): the server closes that connection only.
    big = RawSocketIO(server.url)
    big.call("join", {"session": None})
    big.send_raw('42["command",{"cmd":"play","pad":"' + "y" * 20_000 + '"}]')
    closed = False
    deadline = time.monotonic() + 10
    while not closed and time.monotonic() < deadline:
        try:
            closed = big.read(1) == ""
        except Exception:
            closed = True
    assert closed
    # Engine.io garbage: that connection may go, the server stays.
    junk = RawSocketIO(server.url)
    junk.send_raw("x-not-a-packet")
    junk.close()
    assert other.command("pause")["ok"]
    assert client.call("command", {"cmd": "pause"})["ok"]
    assert health(server)["version"]
    assert "Traceback" not in server.read_log()


def test_other_origins_are_refused_by_default(server):
    handshake = server.url + "/socket.io/?EIO=4&transport=polling"
    assert _get_with_origin(handshake, server.url) == 200
    assert _get_with_origin(handshake, "http://evil.example") == 400
    with pytest.raises(websocket.WebSocketBadStatusException):
        RawSocketIO(server.url, origin="http://evil.example").close()


def _get_with_origin(url: str, origin: str) -> int:
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Origin": origin})
    try:
        with opener.open(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("mode", MODES)
def test_allow_origin_flag(start_server, mode):
    server = start_server(mode, "--allow-origin", "http://teacher.example:8000")
    handshake = server.url + "/socket.io/?EIO=4&transport=polling"
    assert _get_with_origin(handshake, "http://teacher.example:8000") == 200
    assert _get_with_origin(handshake, server.url) == 200
    assert _get_with_origin(handshake, "http://evil.example") == 400


# -- the demo script and the command line ---------------------------------------------------


def test_the_demo_client_runs(server):
    result = subprocess.run(
        [sys.executable, "docs/demo_client.py", "--url", server.url, "--speed", "10"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "point=reply-lost, mode=on" in out
    assert "message-lost" in out and "leg=reply" in out
    assert "sender-timeout" in out and "outcome=unknown" in out


def test_a_port_in_use_is_a_one_line_error(server):
    # Not through ServerProcess: the first server would answer its health check.
    result = subprocess.run(
        [sys.executable, "app.py", "--port", str(server.port), "--async-mode", server.mode],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "in use" in result.stderr.lower()
    assert "Traceback" not in result.stderr


def _handshake_extensions(server: ServerProcess, query: str) -> str | None:
    """The Sec-WebSocket-Extensions the server answers a browser-like offer with."""
    import base64
    import os
    import socket

    sock = socket.create_connection((server.host, server.port), timeout=10)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket{query} HTTP/1.1\r\n"
                      f"Host: {server.host}:{server.port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: "
                      "permessage-deflate; client_max_window_bits\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    finally:
        sock.close()
    lines = head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    assert " 101 " in lines[0], lines
    found = [line.split(":", 1)[1].strip() for line in lines[1:]
             if line.lower().startswith("sec-websocket-extensions:")]
    return found[0] if found else None


def test_a_room_followers_socket_is_not_compressed(server):
    """A browser offers permessage-deflate. A session's socket may take it; a room
    follower's (the page asks with follow=1) is never compressed, so one batch is not
    compressed once per follower (bench/README.md, classroom)."""
    assert _handshake_extensions(server, "&follow=1") is None
    if server.mode == "eventlet":  # eventlet 0.41 negotiates it for a session's socket
        assert "permessage-deflate" in (_handshake_extensions(server, "") or "")
