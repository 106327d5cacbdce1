"""Checks on the project scaffolding: vendored client, pinned requirements, test helpers."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

from tests.support import REPO_ROOT, free_port

VENDOR = REPO_ROOT / "static" / "vendor" / "socket.io"


def test_vendored_socketio_client_present_with_license_and_version():
    umd = VENDOR / "socket.io.min.js"
    assert umd.is_file()
    assert umd.stat().st_size > 20_000, "socket.io.min.js looks truncated"
    head = umd.read_text(errors="replace")[:400]
    assert "Socket.IO v4.8.4" in head

    esm = VENDOR / "socket.io.esm.min.js"
    assert esm.is_file() and esm.stat().st_size > 20_000
    assert re.search(r"export\s*\{[^}]*\bas io\b", esm.read_text()), "ESM build must export io"

    license_text = (VENDOR / "LICENSE").read_text()
    assert "MIT License" in license_text and "Guillermo Rauch" in license_text

    version = (VENDOR / "VERSION").read_text()
    assert version.splitlines()[0] == "socket.io-client 4.8.4"
    assert re.search(r"^integrity: sha512-[A-Za-z0-9+/]+=*$", version, re.M)


def _requirement_lines(name: str) -> list[str]:
    lines = []
    for raw in (REPO_ROOT / name).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def test_runtime_requirements_are_exactly_pinned():
    lines = _requirement_lines("requirements.txt")
    assert lines
    pin = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[^=\s]+")
    for line in lines:
        assert pin.fullmatch(line), line
    names = {line.split("==")[0].lower().replace("_", "-") for line in lines}
    for required in ("flask", "flask-socketio", "eventlet", "simple-websocket", "python-socketio"):
        assert required in names
    assert "flask-socketio==5.7.0" in {line.lower() for line in lines}
    assert "eventlet==0.41.3" in {line.lower() for line in lines}


def test_dev_requirements_include_runtime_and_are_pinned():
    lines = _requirement_lines("requirements-dev.txt")
    assert "-r requirements.txt" in lines
    pins = [line for line in lines if not line.startswith("-r ")]
    for line in pins:
        assert "==" in line, line
    names = {line.split("==")[0].lower() for line in pins}
    for required in ("pytest", "hypothesis", "playwright", "requests", "websocket-client", "ruff"):
        assert required in names
    assert "playwright==1.65.2" in pins


def test_free_port_is_bindable():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_test_helpers_do_not_import_app_or_eventlet():
    # An eventlet-patched test process hangs Playwright and socket.io clients.
    code = (
        "import sys, tests.support, tests.conftest\n"
        "bad = [m for m in ('eventlet', 'app', 'engine') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, timeout=60)
