"""Test helpers shared by the test modules (imported by conftest.py).

Deliberately imports nothing from the project and never imports eventlet: the
server under test always runs in its own process (see ServerProcess), so the
test process stays unpatched and Playwright / socket.io clients work normally.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Talk to 127.0.0.1 directly even if the environment sets an HTTP proxy.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_log_counter = itertools.count(1)


def artifacts_path() -> Path:
    """Create (if needed) and return test-artifacts/ at the repo root."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET url without any proxy; returns (status, body). HTTP errors are returned, not raised."""
    try:
        with _NO_PROXY_OPENER.open(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def safe_name(text: str) -> str:
    """A filesystem-safe version of text (e.g. a pytest node id)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:150] or "x"


class ServerStartError(RuntimeError):
    pass


class ServerProcess:
    """Runs ``python app.py --host 127.0.0.1 --port PORT --async-mode MODE *extra`` from the
    repo root, waits for ``GET /healthz`` to answer 200, and stops it on request.

    stdout and stderr both go to ``log_path`` (under test-artifacts/); restarts append
    to the same file after a ``--- restart ---`` line. Use as a context manager or
    call stop() yourself (the start_server fixtures do that for you).
    """

    def __init__(
        self,
        mode: str = "eventlet",
        extra: Sequence[str] = (),
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        script: str | os.PathLike[str] = "app.py",
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 20.0,
        log_name: str | None = None,
        start: bool = True,
    ) -> None:
        self.mode = mode
        self.extra = [str(a) for a in extra]
        self.host = host
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.script = str(script)
        self.env_overrides = dict(env or {})
        self.startup_timeout = startup_timeout
        name = log_name or f"server-{mode}-{os.getpid()}-{next(_log_counter)}"
        self.log_path = artifacts_path() / f"{safe_name(name)}.log"
        self.log_path.write_text("")
        self.proc: subprocess.Popen[bytes] | None = None
        if start:
            self.start()

    # -- properties -------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            self.script,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--async-mode",
            self.mode,
            *self.extra,
        ]

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def read_log(self) -> str:
        """Everything the server printed so far (stdout and stderr interleaved)."""
        return self.log_path.read_text(errors="replace")

    # -- lifecycle --------------------------------------------------------

    def start(self) -> ServerProcess:
        if self.is_running():
            raise RuntimeError("server already running")
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            try:
                self._spawn_and_wait()
                return self
            except ServerStartError as e:
                # The port picked by free_port() may have been taken in the meantime.
                if attempt + 1 < attempts and "in use" in str(e).lower():
                    self.port = free_port()
                    continue
                raise
        raise AssertionError("unreachable")

    def _spawn_and_wait(self) -> None:
        env = dict(os.environ)
        env.update(self.env_overrides)
        env["PYTHONUNBUFFERED"] = "1"
        log_start = self.log_path.stat().st_size
        with open(self.log_path, "ab") as log:
            if log_start:
                log.write(b"\n--- restart ---\n")
            log.write(f"$ {' '.join(self.command)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() also reaches any children
            )
        deadline = time.monotonic() + self.startup_timeout
        health = f"{self.url}/healthz"
        while True:
            code = self.proc.poll()
            if code is not None:
                output = self.log_path.read_text(errors="replace")[log_start:]
                self.proc = None
                raise ServerStartError(
                    f"server exited with code {code} before {health} answered 200.\n"
                    f"command: {self.command}\nlog ({self.log_path}):\n{output[-4000:]}"
                )
            try:
                status, _ = http_get(health, timeout=1.0)
                if status == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                output = self.log_path.read_text(errors="replace")[log_start:]
                self.stop()
                raise ServerStartError(
                    f"{health} did not answer 200 within {self.startup_timeout:.0f} s.\n"
                    f"command: {self.command}\nlog ({self.log_path}):\n{output[-4000:]}"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit code (None: not running)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            self._signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=timeout)
        # Reap stragglers left in the group (e.g. a reloader child).
        self._signal_group(proc, signal.SIGKILL)
        return proc.returncode

    def restart(self) -> ServerProcess:
        """Stop and start again on the same port (clients can reconnect to the same url)."""
        self.stop()
        self._fixed_port = True
        return self.start()

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self) -> ServerProcess:
        if not self.is_running():
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<ServerProcess {self.mode} {self.url} {state}>"


# -- a bare Socket.IO client ---------------------------------------------------------------


class RawSocketIO:
    """A bare Socket.IO v5 client on one websocket (websocket-client, no threads).

    It sends exactly the frames it is told to and reads only when asked, so a test can
    play a client that stops reading, floods, or sends malformed frames. ``call`` sends an
    event with an ack id and returns the answer; events that arrive meanwhile are kept in
    ``received`` as ``(name, payload)``.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, rcvbuf: int | None = None,
                 origin: str | None = None, headers: dict | None = None,
                 ws_options: dict | None = None) -> None:
        import websocket  # websocket-client: lazy, only the tests that use it need it

        self._timeout_error = websocket.WebSocketTimeoutException
        ws_url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        options: dict = {"timeout": timeout}
        if rcvbuf:
            options["sockopt"] = [(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)]
        if origin:
            options["origin"] = origin
        if headers:
            options["header"] = [f"{name}: {value}" for name, value in headers.items()]
        options.update(ws_options or {})  # e.g. host=, sslopt= (through a TLS proxy)
        self.ws = websocket.create_connection(ws_url, **options)
        self.received: list[tuple[str, object]] = []
        self.answers: dict[int, object] = {}
        self._ids = itertools.count(1)
        opening = self.ws.recv()
        if not opening.startswith("0"):
            raise RuntimeError(f"unexpected engine.io opening {opening[:80]!r}")
        self.ws.send("40")
        while True:
            frame = self.ws.recv()
            if frame.startswith("40"):
                break
            self._take(frame)

    def send_raw(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            self.ws.send_binary(frame)
        else:
            self.ws.send(frame)

    def emit(self, event: str, payload: object = None, *, answer: bool = True) -> int | None:
        import json

        ack_id = next(self._ids) if answer else None
        body = json.dumps([event] if payload is None else [event, payload],
                          separators=(",", ":"))
        self.ws.send(f"42{'' if ack_id is None else ack_id}{body}")
        return ack_id

    def read(self, timeout: float | None = None) -> str | None:
        """Read one frame (answering pings); None on timeout."""
        if timeout is not None:
            self.ws.settimeout(timeout)
        try:
            frame = self.ws.recv()
        except self._timeout_error:
            return None
        self._take(frame)
        return frame

    def _take(self, frame: str) -> None:
        import json

        if frame == "2":
            self.ws.send("3")
        elif frame.startswith("42"):
            data = json.loads(frame[2:])
            self.received.append((data[0], data[1] if len(data) > 1 else None))
        elif frame.startswith("43"):
            digits = 2
            while digits < len(frame) and frame[digits].isdigit():
                digits += 1
            data = json.loads(frame[digits:])
            self.answers[int(frame[2:digits])] = data[0] if data else None

    def call(self, event: str, payload: object = None, timeout: float = 10.0) -> object:
        ack_id = self.emit(event, payload)
        deadline = time.monotonic() + timeout
        while ack_id not in self.answers:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer to {event} within {timeout} s")
            self.read(left)
        return self.answers.pop(ack_id)

    def take(self, name: str) -> list:
        """The payloads received so far of events called ``name`` (removed from received)."""
        mine = [payload for event, payload in self.received if event == name]
        self.received = [(e, p) for e, p in self.received if e != name]
        return mine

    def close(self) -> None:
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass

    def abort(self) -> None:
        """Drop the TCP connection without a goodbye (a network blip, a closed laptop)."""
        try:
            self.ws.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.ws.sock.close()


def process_rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


# -- other servers, fast streams (bench/server.py) -----------------------------------------


class CommandProcess(ServerProcess):
    """A ServerProcess for another command than app.py: ``python *argv`` from the repo root,
    with ``{host}`` and ``{port}`` in ``argv`` filled in. The command must answer
    ``GET /healthz`` with 200 once it is ready; the rest (log, stop, restart) is as for
    ServerProcess. Example: ``CommandProcess(["-m", "bench.server", "--serve-bare",
    "{port}"], log_name="bench-bare")``."""

    def __init__(self, argv: Sequence[str], **options) -> None:
        self.argv = [str(a) for a in argv]
        options.setdefault("mode", "command")
        super().__init__(**options)

    @property
    def command(self) -> list[str]:
        return [sys.executable, *(a.format(host=self.host, port=self.port) for a in self.argv)]


def server_health(url: str, timeout: float = 5.0) -> dict:
    """The JSON of ``GET url/healthz`` (raises unless it answers 200)."""
    import json

    status, body = http_get(url + "/healthz", timeout=timeout)
    if status != 200:
        raise RuntimeError(f"{url}/healthz answered {status}")
    return json.loads(body)


class StreamingSocketIO(RawSocketIO):
    """A RawSocketIO that keeps up with a fast event stream, as a page does.

    UTF-8 validation of incoming frames is off (websocket-client does it in Python, a
    browser's native decoder costs no script time); ``next_event`` hands each event back
    instead of keeping it in ``received``; ``ack`` acknowledges a batch; ``command`` raises
    unless the server accepted it.
    """

    def __init__(self, url: str, **options) -> None:
        super().__init__(url, **options)
        # What create_connection(skip_utf8_validation=True) sets (websocket-client 1.9):
        # RawSocketIO opens the socket itself, so the flag is set on its two readers.
        self.ws.frame_buffer.skip_utf8_validation = True
        self.ws.cont_frame.skip_utf8_validation = True

    def next_event(self, timeout: float | None = None) -> tuple[str, object] | None:
        """Read one frame: an event as ``(name, payload)``, not kept; None for any other
        frame (pings are answered, acks kept in ``answers``) or on timeout."""
        frame = self.read(timeout)
        if frame is None or not frame.startswith("42"):
            return None
        return self.received.pop()

    def ack(self, batch: dict) -> None:
        self.ws.send(f'42["ack",{{"seq":{batch["to_seq"]},"run":{batch["run"]}}}]')

    def command(self, **payload) -> dict:
        answer = self.call("command", payload)
        if not isinstance(answer, dict) or not answer.get("ok"):
            raise RuntimeError(f"command {payload.get('cmd')!r} refused: {answer!r}")
        return answer


# -- Redis (rooms across server processes: tests/test_server_redis.py, bench/classroom.py) --

REDIS_SERVER_PATH = "/usr/bin/redis-server"


def redis_available() -> bool:
    """Debian's redis-server is installed (``make test`` installs it, like chromium)."""
    return os.access(REDIS_SERVER_PATH, os.X_OK)


class RedisServer:
    """A throwaway ``redis-server`` on a free loopback port: no persistence, no config file,
    its log under test-artifacts/. ``url`` is what ``app.py --message-queue`` takes.
    ``restart()`` keeps the port (servers reconnect to the same URL)."""

    def __init__(self, *, port: int | None = None, log_name: str | None = None,
                 start: bool = True, startup_timeout: float = 10.0) -> None:
        self.port = port if port is not None else free_port()
        name = log_name or f"redis-{os.getpid()}-{next(_log_counter)}"
        self.log_path = artifacts_path() / f"{safe_name(name)}.log"
        self.log_path.write_text("")
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        if start:
            self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self, timeout: float = 1.0) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> RedisServer:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [REDIS_SERVER_PATH, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"redis-server did not answer PING on port "
                                       f"{self.port}; log: {self.log_path}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def restart(self) -> RedisServer:
        self.stop()
        return self.start()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AckingClient:
    """A python-socketio client that acknowledges every snapshot and batch as it comes (as
    a page does), so the session it joins never waits for it; every other event is kept in
    ``received`` as ``(name, payload)``. ``call`` raises nothing: it returns the answer."""

    def __init__(self, url: str, **options) -> None:
        import socketio  # python-socketio[client]: lazy, only the tests that use it need it

        self.sio = socketio.Client(reconnection=False, **options)
        self.received: list[tuple[str, object]] = []
        self.batches: list[dict] = []
        self.sio.on("snapshot", self._snapshot)
        self.sio.on("events", self._events)
        self.sio.on("*", lambda event, *args: self.received.append(
            (event, args[0] if args else None)))
        self.sio.connect(url, transports=["websocket"], wait_timeout=10)

    def _snapshot(self, snap: dict) -> None:
        self.received.append(("snapshot", snap))
        self._ack(snap["seq"], snap["run"])

    def _events(self, batch: dict) -> None:
        self.batches.append(batch)
        self._ack(batch["to_seq"], batch["run"])

    def _ack(self, seq: int, run: int) -> None:
        try:
            self.sio.emit("ack", {"seq": seq, "run": run})
        except Exception:  # disconnected meanwhile: nothing to acknowledge to
            pass

    def call(self, event: str, payload: object = None, timeout: float = 10.0):
        return self.sio.call(event, payload, timeout=timeout)

    def close(self) -> None:
        self.sio.disconnect()
