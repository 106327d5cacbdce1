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
