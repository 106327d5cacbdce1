"""server.guard: the WSGI middleware in front of the app, called directly with a fake WSGI
app (no server, no sockets)."""

from __future__ import annotations

import io
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.guard import Guard, HostCheck, payload_problem, split_host

PORT = 5000


class FakeApp:
    """Records what reached it; answers 200 with the body it read."""

    def __init__(self, error: Exception | None = None, after_start: bool = False) -> None:
        self.calls: list[dict] = []
        self.error = error
        self.after_start = after_start

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.calls.append({"body": body, "length": environ.get("CONTENT_LENGTH")})
        if self.error is not None and not self.after_start:
            raise self.error
        start_response("200 OK", [("Content-Type", "text/plain")])
        if self.error is not None:
            raise self.error
        return [b"ok:" + body]


def environ(method: str = "GET", path: str = "/", body: bytes | None = None,
            host: str | None = f"127.0.0.1:{PORT}", query: str = "", **headers) -> dict:
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
           "wsgi.input": io.BytesIO(body or b""), "wsgi.url_scheme": "http",
           "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(PORT)}
    if host is not None:
        env["HTTP_HOST"] = host
    if body is not None:
        env["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers.items():
        env[name] = value
    return env


class Call:
    def __init__(self, guard: Guard, env: dict) -> None:
        self.status = None
        self.headers = None
        self.body = b"".join(guard(env, self.start_response))

    def start_response(self, status, headers, exc_info=None):
        self.status = status
        self.headers = dict(headers)

    @property
    def code(self) -> int:
        return int(self.status.split()[0])


def make(app=None, hosts=None, bad=None, max_body: int = 16 * 1024) -> Guard:
    return Guard(app or FakeApp(), hosts or HostCheck("127.0.0.1", PORT),
                 max_body=max_body, on_bad_body=(bad.append if bad is not None else None))


def polling(body: bytes, sid: str = "abc", **kw) -> dict:
    return environ("POST", "/socket.io/", body,
                   query=f"EIO=4&transport=polling&sid={sid}", **kw)


def one_line(body: bytes) -> bool:
    text = body.decode()
    return text.endswith("\n") and text.count("\n") == 1 and "Traceback" not in text


# -- hosts ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", [f"localhost:{PORT}", f"127.0.0.1:{PORT}", f"[::1]:{PORT}",
                                  f"LOCALHOST:{PORT}", "localhost", "127.0.0.1"])
def test_loopback_names_are_served_on_loopback(host):
    app = FakeApp()
    assert Call(make(app), environ(host=host)).code == 200 and app.calls


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{PORT}", "",
                                  f"localhost:{PORT + 1}", f"192.168.1.5:{PORT}",
                                  f"localhost.evil.example:{PORT}", "127.0.0.1:5000:1",
                                  f"::1:{PORT}", None])
def test_other_hosts_are_refused_with_a_one_line_reason(host):
    app = FakeApp()
    call = Call(make(app), environ(host=host, HTTP_ORIGIN="http://evil.example"))
    assert call.code == 403 and not app.calls
    assert one_line(call.body) and b"host" in call.body
    assert call.headers["Content-Type"].startswith("text/plain")


def test_bound_elsewhere_ip_addresses_and_allowed_names_are_served():
    check = HostCheck("0.0.0.0", PORT, ["classroom.example", "proxy.example:8080"])
    assert check(f"192.168.1.5:{PORT}") and check(f"[fe80::1]:{PORT}") and check("10.0.0.1")
    assert check("classroom.example") and check("classroom.example:443")
    assert check("proxy.example:8080") and not check("proxy.example:8081")
    assert check(f"localhost:{PORT}") and not check(f"evil.example:{PORT}")
    assert not check(f"192.168.1.5:{PORT + 1}")
    assert HostCheck("127.0.0.1", PORT, ["*"])("anything.example")
    assert not HostCheck("::1", PORT)(f"10.0.0.1:{PORT}")
    assert "classroom.example" in check.describe()


def test_a_set_of_hosts_works_too():
    guard = make(hosts={"a.example:1"})
    assert Call(guard, environ(host="A.example:1")).code == 200
    assert Call(guard, environ(host="b.example:1")).code == 403


def test_split_host():
    assert split_host("Name:80") == ("name", "80")
    assert split_host("[::1]:80") == ("[::1]", "80")
    assert split_host("[::1]") == ("[::1]", None)
    assert split_host("name") == ("name", None)


# -- origin -----------------------------------------------------------------------------


def test_an_empty_origin_is_refused_and_none_is_allowed():
    app = FakeApp()
    guard = make(app)
    for empty in ("", "  "):
        call = Call(guard, environ(path="/socket.io/", HTTP_ORIGIN=empty))
        assert call.code == 403 and b"Origin" in call.body and one_line(call.body)
    assert not app.calls
    assert Call(guard, environ(path="/socket.io/")).code == 200
    assert Call(guard, environ(path="/socket.io/", HTTP_ORIGIN="http://x.example")).code == 200


# -- polling bodies -------------------------------------------------------------------------

GOOD = [b"40", b"3", b"1", b'42["join",{}]', b'421["command",{"cmd":"play"}]',
        b'40\x1e42["ack",{"seq":1}]', "42[\"x\",\"é€😀\"]".encode(), b"3probe", b"5",
        b"\x1e".join([b"3"] * 16)]
BAD = [b"zzzz", b"\x00\xff", b"\xff\xfe\xfd", b"\x1e\x1e", b"9hello", b"7", b"40\x1e9x",
       b"", b"4", b"4z", b"49", b"0", b"2", b"6", b"bAAAA", b"42\x1e", b"\x1e".join([b"3"] * 17),
       b"d=40", "é".encode("latin-1"), b"\xed\xa0\x80"]


@pytest.mark.parametrize("body", GOOD)
def test_a_good_body_reaches_the_app_unchanged(body):
    app, bad = FakeApp(), []
    call = Call(make(app, bad=bad), polling(body))
    assert call.code == 200 and call.body == b"ok:" + body
    assert app.calls == [{"body": body, "length": str(len(body))}] and bad == []


@pytest.mark.parametrize("body", BAD)
def test_a_malformed_body_is_400_and_closes_the_session(body):
    app, bad = FakeApp(), []
    call = Call(make(app, bad=bad), polling(body, sid="s1"))
    assert call.code == 400 and one_line(call.body) and call.body.startswith(b"bad request")
    assert bad == ["s1"] and app.calls == []
    assert payload_problem(body) is not None


def test_an_oversize_body_is_413_unread():
    app, bad = FakeApp(), []
    env = polling(b"4" + b"x" * 20_000, sid="s2")
    call = Call(make(app, bad=bad, max_body=16 * 1024), env)
    assert call.code == 413 and one_line(call.body) and call.headers["Connection"] == "close"
    assert bad == ["s2"] and app.calls == [] and env["wsgi.input"].tell() == 0


def test_a_body_without_length_or_cut_short_is_refused():
    bad = []
    env = polling(b"40", sid="s3")
    del env["CONTENT_LENGTH"]
    assert Call(make(bad=bad), env).code == 411
    env = polling(b"40", sid="s4")
    env["CONTENT_LENGTH"] = "10"
    call = Call(make(bad=bad), env)
    assert call.code == 400 and b"ended" in call.body
    env = polling(b"40", sid="s5")
    env["CONTENT_LENGTH"] = "-1"
    assert Call(make(bad=bad), env).code == 411
    assert bad == ["s3", "s4", "s5"]


def test_a_malformed_body_without_sid_is_refused_without_callback():
    bad = []
    env = environ("POST", "/socket.io/", b"zzz", query="EIO=4&transport=polling")
    assert Call(make(bad=bad), env).code == 400 and bad == []


def test_other_posts_and_gets_are_not_checked():
    app = FakeApp()
    guard = make(app)
    assert Call(guard, environ("POST", "/elsewhere", b"zzz")).code == 200
    assert Call(guard, environ("GET", "/socket.io/", query="EIO=4&transport=polling")).code \
        == 200
    assert len(app.calls) == 2


def test_a_failing_callback_still_answers_400(caplog):
    def boom(sid):
        raise RuntimeError("no such session")

    guard = Guard(FakeApp(), HostCheck("127.0.0.1", PORT), max_body=1024, on_bad_body=boom)
    with caplog.at_level(logging.INFO, logger="amo"):
        assert Call(guard, polling(b"7")).code == 400
    assert "Traceback" not in caplog.text and "no such session" in caplog.text


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=80) | st.text(max_size=40).map(str.encode))
def test_fuzz_bodies_are_passed_on_or_refused_in_one_line(body):
    app, bad = FakeApp(), []
    call = Call(make(app, bad=bad), polling(body))
    if call.code == 200:
        assert app.calls[0]["body"] == body and not bad
        text = body.decode()
        assert all(p and p[0] in "1345" for p in text.split("\x1e"))
    else:
        assert call.code == 400 and one_line(call.body) and bad == ["abc"] and not app.calls


# -- errors below the guard ---------------------------------------------------------------------


@pytest.mark.parametrize("after_start", [False, True])
def test_an_exception_below_becomes_a_plain_500_and_one_log_line(caplog, after_start):
    app = FakeApp(error=TypeError("unhashable type: 'dict'"), after_start=after_start)
    with caplog.at_level(logging.INFO, logger="amo"):
        call = Call(make(app), environ(path="/healthz"))
    assert call.code == 500 and call.body == b"internal server error (logged)\n"
    records = [r for r in caplog.records if r.name == "amo"]
    assert len(records) == 1 and "\n" not in records[0].getMessage()
    assert "TypeError" in records[0].getMessage() and "Traceback" not in caplog.text
    assert records[0].exc_info is None


def test_a_dropped_connection_passes_through():
    with pytest.raises(ConnectionError):
        Call(make(FakeApp(error=ConnectionError("gone"))), environ())


def test_an_exception_on_a_websocket_drops_the_connection(caplog):
    app = FakeApp(error=ValueError("bad frame"))
    with caplog.at_level(logging.INFO, logger="amo"), pytest.raises(ConnectionError):
        Call(make(app), environ(path="/socket.io/", HTTP_UPGRADE="websocket"))
    assert "ValueError" in caplog.text and "Traceback" not in caplog.text
