"""What the browser benchmarks (``ui``, ``lanes``, ``diagram``) share: Debian's Chromium
headless with a real ``app.py`` server, and a rAF frame counter."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support import CHROMIUM_ARGS, CHROMIUM_PATH, ServerProcess

# Counts rAF callbacks per wall second for `seconds` seconds; resolves to the list.
COUNT_FRAMES = """(seconds) => new Promise((resolve) => {
  const per = [];
  let n = 0, last = performance.now();
  function tick(now) {
    n++;
    if (now - last >= 1000) { per.push(n * 1000 / (now - last)); n = 0; last = now; }
    if (per.length < seconds) requestAnimationFrame(tick); else resolve(per);
  }
  requestAnimationFrame(tick);
})"""


@contextmanager
def browser_and_server(mode: str, log_name: str) -> Iterator[tuple[object, ServerProcess]]:
    """A real server (``app.py --async-mode mode``) and headless Chromium, both stopped
    at the end."""
    from playwright.sync_api import sync_playwright  # lazy: `python -m bench engine` needs none

    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    server = ServerProcess(mode, log_name=log_name)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS,
                                         headless=True)
            try:
                yield browser, server
            finally:
                browser.close()
    finally:
        server.stop()
