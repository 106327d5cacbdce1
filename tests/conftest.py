"""Shared fixtures.

Never import app.py or eventlet here (or in tests that use these fixtures): an
eventlet-patched test process hangs Playwright and socket.io clients. Servers run
in their own processes via tests.support.ServerProcess.

Fixtures:
    artifacts_dir          Path of test-artifacts/ at the repo root (created).
    start_server           factory: start_server(mode="eventlet", *extra, **kw) -> ServerProcess;
                           every server it started is stopped after the test.
    start_module_server    same factory, servers live until the end of the module.
    browser                session-wide headless Debian Chromium (Playwright sync API).
    page                   a fresh 1280x720 context + page per test; screenshot saved to
                           test-artifacts/screenshots/ when the test fails.

Tests using start_server*/browser/page are marked `server`/`browser` automatically,
so e.g. `make test PYTEST_ARGS="-m 'not browser'"` skips the browser tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    ServerProcess,
    artifacts_path,
    free_port,
    safe_name,
)

__all__ = ["free_port", "ServerProcess"]

# socket.io / requests clients in tests must reach 127.0.0.1 directly, never through a proxy.
for _var in ("NO_PROXY", "no_proxy"):
    _hosts = [h for h in os.environ.get(_var, "").split(",") if h]
    for _h in ("127.0.0.1", "localhost"):
        if _h not in _hosts:
            _hosts.append(_h)
    os.environ[_var] = ",".join(_hosts)

ServerFactory = Callable[..., ServerProcess]

_SERVER_FIXTURES = {"start_server", "start_module_server"}
_BROWSER_FIXTURES = {"browser", "page"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _SERVER_FIXTURES:
            item.add_marker(pytest.mark.server)
        if names & _BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
            # A real browser on a shared 2-core machine: a test that fails on a slow frame
            # gets one more run (pytest-rerunfailures); the summary lists every rerun, so
            # an intermittent bug still shows (as the `pace` race did).
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    # Make each phase's report reachable from fixtures (item.rep_setup / rep_call / rep_teardown).
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


# -- artifacts ---------------------------------------------------------------


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    return artifacts_path()


# -- servers -----------------------------------------------------------------


def _server_factory(name_prefix: str) -> tuple[ServerFactory, list[ServerProcess]]:
    started: list[ServerProcess] = []

    def start(mode: str = "eventlet", *extra: str, **kwargs) -> ServerProcess:
        kwargs.setdefault("log_name", f"{name_prefix}-{mode}-{len(started) + 1}")
        server = ServerProcess(mode, extra, start=False, **kwargs)
        started.append(server)
        server.start()
        return server

    return start, started


def _stop_all(servers: list[ServerProcess]) -> None:
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def start_server(request: pytest.FixtureRequest) -> Iterator[ServerFactory]:
    """start_server(mode="eventlet", *extra_cli_args, port=None, env=None, ...) -> ServerProcess.

    Log file: test-artifacts/<test name>-<mode>-<n>.log (server.read_log() returns it).
    """
    factory, started = _server_factory(safe_name(request.node.name))
    yield factory
    _stop_all(started)


@pytest.fixture(scope="module")
def start_module_server(request: pytest.FixtureRequest) -> Iterator[ServerFactory]:
    """Like start_server, but the servers are shared by the whole module."""
    factory, started = _server_factory(safe_name(request.module.__name__))
    yield factory
    _stop_all(started)


# -- browser -----------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.fail(
            f"{CHROMIUM_PATH} not found: install Debian's chromium (`make test` does it); "
            "never use `playwright install`"
        )
    from playwright.sync_api import sync_playwright  # lazy: non-browser runs don't need it

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest, artifacts_dir: Path):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed and not page.is_closed():
            shots = artifacts_dir / "screenshots"
            shots.mkdir(exist_ok=True)
            try:
                page.screenshot(path=str(shots / f"{safe_name(request.node.nodeid)}.png"))
            except Exception as e:  # a broken page must not mask the real failure
                print(f"screenshot failed: {e}")
        context.close()
