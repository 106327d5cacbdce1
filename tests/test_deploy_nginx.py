"""The nginx configuration in docs/deployment.md works (issue 13): the block is taken from
the document as written, only its ports and certificate paths changed (a self-signed
certificate for lecture.example.org), and run with Debian's nginx in front of two
``app.py`` processes sharing a real redis-server, flags as the document gives them. Over
TLS: the page loads, the plain-HTTP server redirects to https, long-polling works (it
needs the sticky upstream), the WebSocket upgrade works with the browser's https origin
and no ``--allow-origin``, and a room started through it has an https join link and
streams to a follower who typed its code.

Runs when Debian's nginx and redis-server are installed (``make test`` installs both)."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support import (
    REPO_ROOT,
    RawSocketIO,
    RedisServer,
    ServerProcess,
    free_port,
    redis_available,
)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
NAME = "lecture.example.org"

pytestmark = pytest.mark.skipif(
    not (os.access(NGINX, os.X_OK) and redis_available() and shutil.which("openssl")),
    reason="nginx, redis-server or openssl is not installed (make test installs them)")


def documented_config() -> str:
    text = (REPO_ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```nginx\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "docs/deployment.md should hold one nginx block"
    return blocks[0]


def documented_flags() -> list[str]:
    """The flags the document starts each process with (besides --port)."""
    text = (REPO_ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    line = re.search(r"^python app\.py --port 5001 (.*) &$", text, flags=re.M)
    assert line, "docs/deployment.md should show how the processes start"
    return line.group(1).split()


@pytest.fixture(scope="module")
def deployment():
    folder = Path(tempfile.mkdtemp(prefix="amo-nginx-"))
    folder.chmod(0o777)  # nginx's workers (nobody) write their temporary files here
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={NAME}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    with RedisServer(log_name="redis-nginx") as redis:
        flags = [redis.url if f == "redis://127.0.0.1:6379/0" else f for f in documented_flags()]
        flags += ["--session-rate", "2"]  # two new sessions per address: the limit shows
        a = ServerProcess("eventlet", flags, log_name="nginx-a")
        b = ServerProcess("eventlet", flags, log_name="nginx-b")
        tls, plain = free_port(), free_port()
        block = (documented_config()
                 .replace("127.0.0.1:5001", f"127.0.0.1:{a.port}")
                 .replace("127.0.0.1:5002", f"127.0.0.1:{b.port}")
                 .replace("listen 443 ", f"listen 127.0.0.1:{tls} ")
                 .replace("listen 80;", f"listen 127.0.0.1:{plain};")
                 .replace(f"/etc/letsencrypt/live/{NAME}/fullchain.pem", str(cert))
                 .replace(f"/etc/letsencrypt/live/{NAME}/privkey.pem", str(key)))
        temp = "".join(f"    {kind}_temp_path {folder}/{kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = folder / "nginx.conf"
        conf.write_text(
            f"daemon off;\nmaster_process on;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log warn;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    access_log off;\n{temp}{block}\n}}\n", encoding="utf-8")
        check = subprocess.run([NGINX, "-t", "-p", str(folder), "-c", str(conf)],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"nginx -t refused the documented block:\n{check.stderr}"
        proc = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    https(tls, "GET", "/healthz")
                    break
                except OSError:
                    assert time.monotonic() < deadline, (folder / "error.log").read_text()
                    time.sleep(0.1)
            yield tls, plain
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            a.stop()
            b.stop()
            shutil.rmtree(folder, ignore_errors=True)


def https(port: int, method: str, path: str, body: bytes | None = None,
          headers: dict | None = None, source: str | None = None) -> tuple[int, dict, bytes]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10,
                                       source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers={"Host": NAME, **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def socket_through(port: int) -> RawSocketIO:
    """A Socket.IO client over wss through nginx, as a browser on the https page."""
    return RawSocketIO(f"https://127.0.0.1:{port}", origin=f"https://{NAME}",
                       ws_options={"host": NAME, "sslopt": {"cert_reqs": ssl.CERT_NONE,
                                                            "check_hostname": False}})


def test_the_page_loads_over_tls_and_plain_http_redirects(deployment):
    tls, plain = deployment
    status, _, body = https(tls, "GET", "/")
    assert status == 200 and b"At-most-once" in body
    conn = http.client.HTTPConnection("127.0.0.1", plain, timeout=10)
    conn.request("GET", "/?scenario=reply-lost", headers={"Host": NAME})
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{NAME}/?scenario=reply-lost"
    conn.close()


def polling_join(port: int, source: str | None = None) -> dict:
    """A new session by long-polling, from ``source`` (a loopback address): four requests
    that must all reach the process holding the engine.io session."""
    origin = {"Origin": f"https://{NAME}"}
    status, _, body = https(port, "GET", "/socket.io/?EIO=4&transport=polling",
                            headers=origin, source=source)
    assert status == 200, body
    path = f"/socket.io/?EIO=4&transport=polling&sid={json.loads(body[1:])['sid']}"
    status, _, body = https(port, "POST", path, body=b"40", headers=origin, source=source)
    assert status == 200 and body == b"OK", body
    status, _, body = https(port, "GET", path, headers=origin, source=source)
    assert status == 200 and body.startswith(b"40"), body
    status, _, body = https(port, "POST", path, body=b'421["join",{"session":null}]',
                            headers=origin, source=source)
    assert status == 200 and body == b"OK", body
    status, _, body = https(port, "GET", path, headers=origin, source=source)
    https(port, "POST", path, body=b"1", headers=origin, source=source)  # close
    return json.loads(body.split(b"\x1e")[-1][3:])[0]


def test_long_polling_works_through_the_sticky_upstream(deployment):
    tls, _ = deployment
    answer = polling_join(tls, "127.0.0.2")
    assert answer["ok"] and answer["fresh"], answer


def test_each_student_behind_nginx_has_an_allowance_of_their_own(deployment):
    """nginx appends the student's address to X-Forwarded-For on /socket.io/ and the
    processes trust it (--proxies 1): one student's burst of new sessions leaves the next
    student's alone. (Without the header they would all be nginx's 127.0.0.1.)"""
    tls, _ = deployment
    assert all(polling_join(tls, "127.0.0.5")["ok"] for _ in range(2))
    refused = polling_join(tls, "127.0.0.5")
    assert not refused["ok"] and refused["error"]["field"] == "session", refused
    assert polling_join(tls, "127.0.0.6")["ok"]


def test_websocket_rooms_and_https_links_through_nginx(deployment):
    tls, _ = deployment
    presenter = socket_through(tls)
    follower = socket_through(tls)
    try:
        assert presenter.call("join", {"session": None})["ok"]
        room = presenter.call("room-start")
        assert room["ok"], room
        status, _, link = https(tls, "GET", f"/room/{room['room']}/link")
        assert status == 200, link
        assert json.loads(link)["link"] == f"https://{NAME}/room/{room['room']}", link
        assert presenter.call("command", {"cmd": "scenario", "name": "lossy-network",
                                          "config": {"orders": 1000}})["ok"]
        assert presenter.call("command", {"cmd": "speed", "speed": 8})["ok"]
        assert presenter.call("command", {"cmd": "play"})["ok"]
        found = follower.call("room-code", {"code": room["code"]})
        assert found["ok"] and found["room"] == room["room"], found
        joined = follower.call("room-join", {"room": room["room"]})
        assert joined["ok"], joined
        deadline = time.monotonic() + 10
        while len([n for n, _ in follower.received if n == "events"]) < 3:
            assert time.monotonic() < deadline, follower.received
            follower.read(0.2)
        assert any(n == "snapshot" for n, _ in follower.received)
        assert presenter.call("command", {"cmd": "pause"})["ok"]
    finally:
        presenter.close()
        follower.close()
