"""Serving: the WSGI server ``app.py`` runs the app on, in eventlet or threading mode.

Both modes:

- listen without ``SO_REUSEPORT`` (a second server on a busy port fails with one line,
  ``OSError`` to the caller, instead of silently sharing the port);
- ``TCP_NODELAY`` on the listening socket and on every accepted one: an answer that
  follows a larger message (``join``, ``scenario`` and ``reset`` send a snapshot first)
  would otherwise wait for the client's delayed ACK, about 40 ms (Nagle). Linux copies
  the option from the listening socket to accepted ones (measured on 6.x); setting it
  again per connection costs one system call and does not depend on that;
- SIGINT (Ctrl+C) and SIGTERM stop the server within about a second, whatever the
  clients do: requests in flight get ``STOP_WAIT`` seconds, then the process exits; a
  second signal, or ``HARD_STOP`` seconds without an exit, ends it at once;
- no traceback is ever sent to a client, and HTTP errors are one line of plain text.

This module never imports eventlet (server/ does not; the patch is app.py's job):
``serve_eventlet`` is handed the eventlet package app.py imported after patching.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import sys

from . import transport

STOP_WAIT = 0.5  # seconds requests in flight get when the server stops
HARD_STOP = 1.5  # seconds after a stop signal at which the process exits, whatever runs


def nodelay(sock) -> None:
    """Turn Nagle's algorithm off on ``sock`` (TCP only; anything else is left alone)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):
        pass


def _exit_now(*_args) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # pragma: no cover
            pass
    os._exit(0)


def _stop(signum, frame) -> None:
    """The first SIGINT or SIGTERM: unwind the serving loop (KeyboardInterrupt), and make
    sure the process is gone HARD_STOP seconds later or at the next signal."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(sig, _exit_now)
    signal.setitimer(signal.ITIMER_REAL, HARD_STOP)
    raise KeyboardInterrupt


def install_stop_signals() -> None:
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)


def _address(host: str, port: int) -> tuple[int, tuple]:
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return family, address


class _NoDelayListener:
    """A listening socket whose accepted connections have TCP_NODELAY set."""

    def __init__(self, sock) -> None:
        self._sock = sock

    def accept(self):
        conn, address = self._sock.accept()
        nodelay(conn)
        return conn, address

    def __getattr__(self, name):
        return getattr(self._sock, name)


# Connections one eventlet process serves at once (a greenlet each): a room's followers on
# one process, their presenter and everyone else's sessions (was 1,024: a room of 1,000
# left no room for the rest).
MAX_CONNECTIONS = 4096


def quiet_gc() -> None:
    """Fewer and shorter pauses of Python's cyclic garbage collector while serving: what
    start-up made is frozen out of its scans, and the youngest generation is collected
    every 20,000 net allocations instead of 700. With 1,000 room followers on two
    processes a batch over 200 ms came every 3 to 5 s, and p99 was 202 ms; with this,
    none and 126 ms (bench/README.md, classroom)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def serve_eventlet(app, host: str, port: int, verbose: bool, eventlet) -> None:
    """Serve ``app`` with eventlet's WSGI server until SIGINT or SIGTERM.

    ``eventlet``: the package, with ``eventlet.wsgi`` and ``eventlet.green.socket``
    imported. Written against eventlet 0.41.3: ``eventlet.wsgi.server`` sends tracebacks
    to clients unless ``debug=False``, writes the traceback of a connection the app
    dropped (a broken websocket) to stderr at "info" level (here: the ``amo.wsgi`` logger,
    shown with --verbose only), and at a stop it waits for every request to end
    (``pool.waitall()``: a long-poll lasts 25 s, a hung request forever); the pool here
    waits STOP_WAIT seconds at most."""

    class ImpatientPool(eventlet.GreenPool):
        def waitall(self):
            with eventlet.Timeout(STOP_WAIT, False):
                super().waitall()

    family, address = _address(host, port)
    quiet_gc()
    listener = eventlet.listen(address, family, reuse_port=False)
    nodelay(listener)
    install_stop_signals()
    try:
        eventlet.wsgi.server(_NoDelayListener(listener), app, log_output=verbose,
                             log=logging.getLogger("amo.wsgi"), debug=False,
                             custom_pool=ImpatientPool(MAX_CONNECTIONS))
    except KeyboardInterrupt:
        pass


def serve_threading(app, host: str, port: int, verbose: bool) -> None:
    """Serve ``app`` with Werkzeug's threaded server until SIGINT or SIGTERM.

    Written against Werkzeug 3.1.9: its error pages are HTML (here one plain line); a
    websocket ends with a dropped-connection error after which its handler would read the
    client's next websocket bytes as an HTTP request (here the connection is closed)."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        error_message_format = "%(code)d %(message)s\n"
        error_content_type = "text/plain; charset=utf-8"

        def setup(self) -> None:
            super().setup()
            nodelay(self.connection)

        def connection_dropped(self, error, environ=None) -> None:
            self.close_connection = True

        def log_request(self, *args, **kwargs) -> None:
            if verbose:
                super().log_request(*args, **kwargs)

    family, address = _address(host, port)
    quiet_gc()
    listener = socket.create_server(address, family=family, reuse_port=False)
    nodelay(listener)
    try:
        server = make_server(host, port, app, threaded=True, request_handler=Handler,
                             fd=listener.fileno())
    finally:
        listener.close()  # the server holds its own duplicate
    install_stop_signals()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def configure_logging(log: logging.Logger, verbose: bool) -> None:
    """The entry point's log: one line per record; Werkzeug quiet unless ``verbose``."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("werkzeug").addFilter(transport.QuietWebSocketLeftovers())
    if not verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        import flask.cli

        flask.cli.show_server_banner = lambda *a, **k: None
