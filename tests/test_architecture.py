"""The layout of docs/architecture.md, enforced: engine/ is the model only (it imports no
serving, transport, threading, wall-clock or secrets module), server/ never imports app.py,
and app.py stays the entry point only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

# What the model may never import: the serving layer, the web stack, threads, the wall
# clock and token generation (docs/architecture.md).
ENGINE_FORBIDDEN = {"server", "app", "flask", "flask_socketio", "socketio", "engineio",
                    "eventlet", "threading", "time", "secrets", "socket", "asyncio",
                    "werkzeug", "simple_websocket", "subprocess"}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (absolute imports only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


ENGINE_FILES = sorted((REPO_ROOT / "engine").glob("*.py"))
SERVER_FILES = sorted((REPO_ROOT / "server").glob("*.py"))


@pytest.mark.parametrize("path", ENGINE_FILES, ids=[p.name for p in ENGINE_FILES])
def test_engine_imports_nothing_of_serving_threads_or_clock(path):
    bad = imported_modules(path) & ENGINE_FORBIDDEN
    assert not bad, f"engine/{path.name} imports {sorted(bad)}: engine/ is the model only"


@pytest.mark.parametrize("path", SERVER_FILES, ids=[p.name for p in SERVER_FILES])
def test_server_never_imports_the_entry_point_or_eventlet(path):
    bad = imported_modules(path) & {"app", "eventlet"}
    assert not bad, f"server/{path.name} imports {sorted(bad)}: app.py patches and serves"


def test_the_checker_sees_a_forbidden_import(tmp_path):
    # The rule above must be able to fail: a module that imports time is caught, in both
    # import forms.
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nimport time as t\nfrom server.hub import Hub\n")
    assert imported_modules(sample) & ENGINE_FORBIDDEN == {"time", "server"}


def test_engine_knows_no_socket_ids_tokens_or_event_names():
    words = ("sid", "socket", "token", "emit", "join_room", "session:")
    for path in ENGINE_FILES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
        found = {n for n in names if n.lower() in words or n.lower().endswith("_sid")}
        assert not found, f"engine/{path.name} uses {sorted(found)}"


def test_app_py_is_the_entry_point_only():
    source = (REPO_ROOT / "app.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) < 250
    tree = ast.parse(source)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes == ["_Parser"], f"app.py defines {classes}: serving code lives in server/"
