"""Fuzzing every inbound event with hypothesis: the server answers (an error when the
input is bad), never raises, and keeps serving.

Most cases run against an in-process app (threading mode, Flask-SocketIO test client,
hand-driven clock): fast enough for well over 1,000 cases in CI. A smaller share sends
random frames to real servers in both async modes.
"""

from __future__ import annotations

import json
import logging
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import server as server_pkg
from engine.names import FAILURE_POINTS
from engine.presets import PRESETS
from server.validation import COMMAND_NAMES
from tests.support import RawSocketIO, http_get

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.too_slow])

# -- strategies -------------------------------------------------------------------------

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)
numbers = (st.integers(-5, 2**64) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([0, 1, 0.05, 200, 2**53, 2**63 - 1, 2**63]))
config_values = st.fixed_dictionaries({}, optional={
    "orders": st.integers(-1, 2_000_000) | json_values,
    "order_interval": numbers | json_values,
    "reply_timeout": numbers,
    "request_latency": st.lists(numbers, max_size=3) | numbers,
    "credit_limit": numbers,
    "amount": numbers,
    "seed": numbers,
    "samples": st.integers(-1, 2_000_000),
    "failures": st.dictionaries(st.sampled_from(FAILURE_POINTS) | st.text(max_size=8),
                                st.sampled_from(["on", "off", "next", "x"]) | json_values,
                                max_size=4),
    "bogus": json_values,
})
command_payloads = st.fixed_dictionaries(
    {"cmd": st.sampled_from(COMMAND_NAMES) | json_values},
    optional={
        "name": st.sampled_from(list(PRESETS)) | json_values,
        "seed": numbers | json_values,
        "config": config_values | json_values,
        "script": st.booleans() | json_values,
        "amount": numbers | json_values,
        "point": st.sampled_from(FAILURE_POINTS) | json_values,
        "mode": st.sampled_from(["on", "off", "next"]) | json_values,
        "probability": numbers | json_values,
        "credit_limit": numbers | json_values,
        "speed": numbers | json_values,
        "extra": json_values,
    }) | json_values
tokens = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=0,
                 max_size=70)
join_payloads = st.fixed_dictionaries({}, optional={
    "session": st.none() | tokens | json_values,
    "last_seq": st.none() | numbers | json_values,
    "run": st.none() | numbers | json_values,
    "other": json_values,
}) | json_values
ack_payloads = st.fixed_dictionaries({}, optional={
    "seq": numbers | json_values, "run": st.none() | numbers | json_values,
    "x": json_values,
}) | json_values
event_names = st.sampled_from(["join", "command", "ack", "snapshot", "events", "error",
                               "message", "json", "disconnect", "connect", "connect_error",
                               "*"]) | st.text(max_size=20)
raw_frames = (st.text(max_size=200)
              | st.builds(lambda head, body: head + body,
                          st.sampled_from(["42", "421", "4299", "43", "451-", "40", "41",
                                           "44", "4/x,", "2", "3", "6", "1"]),
                          st.text(max_size=150))
              | st.builds(lambda v: "4242" + json.dumps(v), json_values))


# -- in-process -----------------------------------------------------------------------------


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def rig():
    clock = Clock()
    app = server_pkg.create_app({
        "AMO_ASYNC_MODE": "threading", "AMO_PACER": False, "AMO_CLOCK": clock,
        "AMO_RATE": 1e9, "AMO_BURST": 1e9, "AMO_FRAME_EVENTS": 200, "AMO_WINDOW": 1000})
    hub = app.extensions["amo_hub"]
    errors = Errors()
    for name in ("amo", "socketio.server", "engineio.server"):
        logging.getLogger(name).addHandler(errors)
    client = server_pkg.socketio.test_client(app)
    assert client.emit("join", {}, callback=True)["ok"]
    yield app, hub, clock, client, errors
    for name in ("amo", "socketio.server", "engineio.server"):
        logging.getLogger(name).removeHandler(errors)
    client.disconnect()


def check_answer(answer) -> None:
    assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), answer
    json.dumps(answer, allow_nan=False)  # any browser can parse it
    if not answer["ok"]:
        error = answer["error"]
        assert set(error) == {"field", "value", "allowed", "message"}
        assert isinstance(error["field"], str) and error["field"]
        assert isinstance(error["message"], str) and len(error["message"]) < 1000


def still_serving(rig) -> None:
    app, hub, clock, client, errors = rig
    clock.now += 0.05
    hub.tick()
    client.get_received()
    assert errors.records == [], [r.getMessage() for r in errors.records]
    for session in hub.store.sessions.values():
        assert session.acked <= session.sent <= session.sim.seq
        seqs = [e["seq"] for e in session.buffer]
        assert seqs == list(range(session.acked + 1, session.acked + 1 + len(seqs)))
    answer = client.emit("command", {"cmd": "pause"}, callback=True)
    if not answer["ok"]:  # a fuzzed join may have left the session: rejoin
        assert answer["error"]["field"] == "session"
        assert client.emit("join", {}, callback=True)["ok"]


@settings(FUZZ, max_examples=500)
@given(payload=command_payloads)
def test_fuzz_command(rig, payload):
    client = rig[3]
    check_answer(client.emit("command", payload, callback=True))
    still_serving(rig)


@settings(FUZZ, max_examples=200)
@given(payload=join_payloads)
def test_fuzz_join(rig, payload):
    client = rig[3]
    check_answer(client.emit("join", payload, callback=True))
    still_serving(rig)


@settings(FUZZ, max_examples=200)
@given(payload=ack_payloads)
def test_fuzz_ack(rig, payload):
    client = rig[3]
    check_answer(client.emit("ack", payload, callback=True))
    still_serving(rig)


@settings(FUZZ, max_examples=150)
@given(name=event_names, args=st.lists(json_values, max_size=3))
def test_fuzz_event_names_and_arguments(rig, name, args):
    client = rig[3]
    answer = client.emit(name, *args, callback=True)
    check_answer(answer)  # every name, "*", "connect" and "disconnect" included
    still_serving(rig)


@settings(FUZZ, max_examples=250)
@given(frame=raw_frames)
def test_fuzz_raw_socketio_frames(rig, frame):
    app, hub, clock, client, errors = rig
    client.acks = None
    server_pkg.socketio.server._handle_eio_message(client.eio_sid, frame)
    if client.acks is not None and client.acks["args"]:
        check_answer(client.acks["args"][0])
    manager = server_pkg.socketio.server.manager
    sid = manager.sid_from_eio_sid(client.eio_sid, "/")
    # A DISCONNECT frame ends the connection; a second CONNECT on a connected namespace is
    # refused with CONNECT_ERROR (python-socketio 5.18.1), which the test client reads as
    # "not connected" although the server keeps the connection: start afresh either way.
    if sid is None or not manager.is_connected(sid, "/") or not client.is_connected():
        client.connected["/"] = False
        client.connect()
        assert client.emit("join", {}, callback=True)["ok"]
    still_serving(rig)


# -- real servers ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["eventlet", "threading"])
def real(request, start_module_server):
    # Every example makes two sessions from 127.0.0.1: no per-address limit here.
    return start_module_server(request.param, "--rate", "100000", "--session-rate", "100000")


@settings(FUZZ, max_examples=60)
@given(frames=st.lists(raw_frames | st.builds(
    lambda p: "42" + json.dumps(["command", p]), command_payloads), min_size=1, max_size=5))
def test_fuzz_real_server_frames(real, frames):
    client = RawSocketIO(real.url, timeout=10)
    try:
        client.call("join", {"session": None})
        for frame in frames:
            client.send_raw(frame)
    except Exception:
        pass  # the server may close a connection that sent garbage: that is fine
    finally:
        client.close()
    status, body = http_get(real.url + "/healthz")
    assert status == 200
    probe = RawSocketIO(real.url, timeout=10)
    try:
        assert probe.call("join", {"session": None})["ok"]
        assert probe.call("command", {"cmd": "play"})["ok"]
    finally:
        probe.close()


def test_real_servers_logged_no_tracebacks(real):
    assert "Traceback" not in real.read_log()
