"""``python app.py``: serve the visualizer page and stream each browser tab's simulation over
Socket.IO (docs/protocol.md).

Thin glue: the app factory, the routes, and Socket.IO handlers that check the rate, validate
the payload (engine.protocol) and hand it to the session (engine.session), which decides
everything about pacing. One background task ticks every session about 30 times a second
and emits each one's batch of events to its room, ``session:<token>``.

Run it: ``python app.py [--host H] [--port P] [--async-mode eventlet|threading]
[--allow-origin ORIGIN ...]``; ``python app.py --help`` lists every flag and the
environment variables that set them.
"""

from __future__ import annotations

import os
import sys
import warnings

ASYNC_MODES = ("eventlet", "threading")
# Eventlet warns at import that it is deprecated; users of this app cannot act on that.
_EVENTLET_WARNING = r"\s*Eventlet is deprecated"


def _requested_async_mode(argv: list[str], environ) -> str:
    """The async mode asked for on the command line or in the environment (unchecked)."""
    mode = environ.get("AMO_ASYNC_MODE") or "eventlet"
    for i, arg in enumerate(argv):
        if arg == "--async-mode" and i + 1 < len(argv):
            mode = argv[i + 1]
        elif arg.startswith("--async-mode="):
            mode = arg.split("=", 1)[1]
    return mode


def patch_eventlet() -> None:
    """Green the standard library for eventlet (once). Call before Flask is imported, or
    eventlet prints warnings about locks it could not green."""
    warnings.filterwarnings("ignore", message=_EVENTLET_WARNING)
    import eventlet

    if not eventlet.patcher.is_monkey_patched("socket"):
        eventlet.monkey_patch()


if __name__ == "__main__" and _requested_async_mode(sys.argv[1:], os.environ) == "eventlet":
    # Only when run as the server, and before anything imports threading or sockets:
    # importing this module (tests, tools) never imports eventlet.
    patch_eventlet()

import argparse  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from flask import Flask, current_app, jsonify, render_template, request  # noqa: E402
from flask_socketio import SocketIO, join_room, leave_room  # noqa: E402
from socketio import packet as sio_packet  # noqa: E402

from engine import __version__, describe_presets  # noqa: E402
from engine.errors import CommandError, EngineError  # noqa: E402
from engine.protocol import (  # noqa: E402
    TokenBucket,
    brief,
    describe,
    error_dict,
    validate_ack,
    validate_command,
    validate_event,
    validate_join,
)
from engine.session import Limits, SessionStore  # noqa: E402

ROOT = Path(__file__).resolve().parent
MAX_HTTP_BUFFER = 16 * 1024  # largest inbound engine.io message: far above any payload
MALFORMED = "\x00malformed"  # event name given to packets that could not be decoded

DEFAULTS = {
    "AMO_ASYNC_MODE": "threading",  # main() picks eventlet unless told otherwise
    "AMO_ALLOW_ORIGINS": (),  # origins allowed besides the page's own
    "AMO_GRACE": 30.0,  # seconds a detached session waits for its client to come back
    "AMO_MAX_SESSIONS": 1000,
    "AMO_FPS": 30.0,  # frames per second of the pacing loop
    "AMO_FRAME_EVENTS": Limits.frame_events,
    "AMO_WINDOW": Limits.window,
    "AMO_RATE": 50.0,  # inbound messages per second per connection
    "AMO_BURST": 100.0,
    "AMO_ACK_COST": 0.2,  # an ack spends a fifth of a token: a client acks every frame
    "AMO_MAX_QUEUED": 16,  # packets waiting for a client before its session holds
    "AMO_DEAF_QUEUED": 1000,  # packets waiting: the client is not reading; stop answering
    "AMO_PACER": True,  # start the pacing loop (in-process tests tick by hand)
    "AMO_CLOCK": time.monotonic,
}

socketio = SocketIO()
log = logging.getLogger("amo")


class SafePacket(sio_packet.Packet):
    """A Socket.IO packet whose decoding never raises: anything this protocol does not use
    (undecodable JSON, binary attachments, an event that is not [name, ...]) becomes an
    event named MALFORMED, which the catch-all handler answers with an error.

    The protocol is JSON only, so outgoing packets skip python-socketio's recursive scan
    for binary values: on a batch of thousands of events that scan cost more than the
    engine and the JSON encoding together."""

    uses_binary_events = False

    def __init__(self, *args, encoded_packet=None, **kwargs) -> None:
        super().__init__(*args, encoded_packet=encoded_packet, **kwargs)
        if encoded_packet is not None and not encoded_packet:  # decode() is not called
            self._malformed("an empty packet")

    def _malformed(self, problem: str) -> None:
        self.packet_type = sio_packet.EVENT
        self.namespace = None
        self.data = [MALFORMED, problem]
        if not isinstance(getattr(self, "id", None), int):
            self.id = None

    def decode(self, encoded_packet):
        problem = None
        try:
            count = super().decode(encoded_packet)
        except Exception as error:  # ValueError, TypeError, RecursionError: bad input
            count = 0
            problem = f"not a Socket.IO packet ({type(error).__name__})"
        if problem is None:
            kind = self.packet_type
            if count or kind in (sio_packet.BINARY_EVENT, sio_packet.BINARY_ACK):
                problem = "binary packets are not part of this protocol"
            elif kind == sio_packet.EVENT and not (
                    isinstance(self.data, list) and self.data and isinstance(self.data[0], str)):
                problem = "an event is a JSON array [name, payload]"
            elif kind not in (sio_packet.CONNECT, sio_packet.DISCONNECT, sio_packet.EVENT,
                              sio_packet.ACK):
                problem = "unknown packet type"
        if problem is not None:
            self._malformed(problem)
            return 0
        return count


class _QuietWebSocketLeftovers(logging.Filter):
    """Werkzeug reads websocket frames that arrive after a websocket ended (a close frame,
    a frame the server refused) as bad HTTP requests and logs them: noise, not errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("code 400, message Bad" in message and "('\\x" in message)


class _ErrorsWithoutShutdownNoise:
    """wsgi.errors for a websocket: eventlet writes "socket shutdown error: Bad file
    descriptor" there when a client vanished first; everything else passes through."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        if "socket shutdown error" not in text:
            self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)


class _DropBrokenWebSockets:
    """WSGI middleware: a client that sends frames engine.io cannot decode makes engine.io
    raise inside its websocket loop. Drop that one connection quietly (werkzeug treats a
    ConnectionError as a dropped connection) instead of logging a traceback."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("HTTP_UPGRADE", "").lower() == "websocket" and "wsgi.errors" in environ:
            environ["wsgi.errors"] = _ErrorsWithoutShutdownNoise(environ["wsgi.errors"])
        try:
            return self.wsgi_app(environ, start_response)
        except (ConnectionError, StopIteration):
            raise
        except Exception as error:
            if (environ.get("PATH_INFO", "").startswith("/socket.io")
                    and environ.get("HTTP_UPGRADE", "").lower() == "websocket"):
                log.info("dropped a websocket that sent a broken frame: %r", error)
                raise ConnectionError("broken websocket frame") from None
            raise


def same_origin_or(extra: tuple[str, ...]) -> Callable | None:
    """The engine.io origin check: the page's own origin, plus ``extra`` if any."""
    if not extra:
        return None  # engine.io's default: same origin only

    allowed = set(extra)

    def check(origin, environ) -> bool:
        if origin in allowed:
            return True
        own = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        return origin == own

    return check


class Hub:
    """Holds the sessions of one app and connects them to sockets: rate limits, answers,
    the pacing loop. Every session operation happens under one lock, emits included, so
    a resume can never interleave with a frame."""

    def __init__(self, sio: SocketIO, config: dict) -> None:
        self.sio = sio
        self.clock = config["AMO_CLOCK"]
        self.fps = float(config["AMO_FPS"])
        limits = Limits(frame_events=int(config["AMO_FRAME_EVENTS"]),
                        window=int(config["AMO_WINDOW"]))
        self.store = SessionStore(limits, grace=float(config["AMO_GRACE"]),
                                  max_sessions=int(config["AMO_MAX_SESSIONS"]))
        self.rate = float(config["AMO_RATE"])
        self.burst = float(config["AMO_BURST"])
        self.ack_cost = float(config["AMO_ACK_COST"])
        self.max_queued = int(config["AMO_MAX_QUEUED"])
        self.deaf_queued = int(config["AMO_DEAF_QUEUED"])
        self.lock = threading.Lock()  # green under eventlet: created after the patch
        self.local = threading.local()
        self.buckets: dict[str, TokenBucket] = {}
        self.frames = 0
        self.next_expiry = 0.0
        self.stopped = False
        self.task = None

    # ------------------------------------------------------------ transport facts
    def backlog(self, sid: str) -> int:
        """Packets engine.io holds for this client that it has not written yet."""
        server = self.sio.server
        try:
            eio_sid = server.manager.eio_sid_from_sid(sid, "/")
            sock = server.eio.sockets.get(eio_sid) if eio_sid else None
            return sock.queue.qsize() if sock is not None else 0
        except Exception:  # pragma: no cover - transport internals: never fail a frame
            return 0

    def can_send(self, sid: str) -> bool:
        return self.backlog(sid) <= self.max_queued

    def watch_answers(self) -> None:
        """Note, per inbound event, whether the client asked for an answer (an ack id), so
        an error for an event without one goes out as an ``error`` event instead."""
        server = self.sio.server
        original = server._handle_event_internal
        local = self.local

        def handle(srv, sid, eio_sid, data, namespace, id):
            local.wants_answer = id is not None
            try:
                return original(srv, sid, eio_sid, data, namespace, id)
            finally:
                local.wants_answer = None

        server._handle_event_internal = handle

    # ------------------------------------------------------------ connections
    def connected(self, sid: str) -> None:
        self.buckets.setdefault(sid, TokenBucket(self.rate, self.burst, self.clock()))

    def disconnected(self, sid: str) -> None:
        if self.sio.server.manager.is_connected(sid, "/"):
            return  # an event named "disconnect" sent by the client, not a disconnect
        self.buckets.pop(sid, None)
        with self.lock:
            self.store.leave(sid, self.clock())

    # ------------------------------------------------------------ inbound events
    def handle(self, event: object, sid: str, args: tuple):
        """Answer one inbound event: ``{"ok": true, ...}`` or ``{"ok": false, "error"}``."""
        now = self.clock()
        wants = getattr(self.local, "wants_answer", None)
        if self.backlog(sid) >= self.deaf_queued:
            return self.sio.server.not_handled  # not reading: no answer, nothing done
        try:
            bucket = self.buckets.get(sid)
            if bucket is None:
                bucket = self.buckets[sid] = TokenBucket(self.rate, self.burst, now)
            if not bucket.take(now, self.ack_cost if event == "ack" else 1.0):
                raise CommandError("rate", "too many messages", bucket.allowed())
            if event == MALFORMED:
                raise CommandError("payload", args[0] if args else None,
                                   "a Socket.IO event: a JSON array [name, payload object]")
            name = validate_event(event)
            if len(args) > 1:
                raise CommandError("payload", f"{len(args)} arguments",
                                   "one payload object per event")
            payload = args[0] if args else None
            result = getattr(self, "_on_" + name)(sid, payload, now)
            answer = {"ok": True, **result}
        except EngineError as error:
            answer = {"ok": False, "error": error_dict(error)}
        except Exception:  # a bug must not take the connection (or the server) down
            log.exception("error handling %r from %s", brief(event), sid)
            answer = {"ok": False, "error": {
                "field": "server", "value": None, "allowed": "",
                "message": "the server failed to handle this event (logged)"}}
        if wants is False:
            if not answer["ok"]:
                self.sio.emit("error", {"error": answer["error"]}, to=sid)
            return None
        return answer

    def _on_join(self, sid: str, payload: object, now: float) -> dict:
        data = validate_join(payload)
        with self.lock:
            before = self.store.by_sid.get(sid)
            joined = self.store.join(sid, data["session"], data["last_seq"], data["run"], now)
            token = joined.session.token
            room = "session:" + token
            if before is not None and before != token:
                leave_room("session:" + before, sid=sid)
            if joined.detached_sid is not None:
                leave_room(room, sid=joined.detached_sid)
                self.sio.emit("detached", {"session": token, "reason": "joined-elsewhere"},
                              to=joined.detached_sid)
            join_room(room, sid=sid)
            for event, message in joined.messages:
                self._stamp(event, message)
                self.sio.emit(event, message, to=sid)
        return {**joined.answer, "presets": describe_presets(), "limits": self.limits()}

    def _on_command(self, sid: str, payload: object, now: float) -> dict:
        command = validate_command(payload)
        with self.lock:
            session = self.store.session_of(sid)
            if session is None:
                raise CommandError("session", None, "a joined session: send join first")
            result, messages = session.command(command, now)
            for event, message in messages:
                self.sio.emit(event, message, to="session:" + session.token)
        return result

    def _on_ack(self, sid: str, payload: object, now: float) -> dict:
        data = validate_ack(payload)
        with self.lock:
            session = self.store.session_of(sid)
            if session is None:
                raise CommandError("session", None, "a joined session: send join first")
            return session.ack(data["seq"], data["run"])

    def limits(self) -> dict:
        limits = self.store.limits
        return {**describe(), "window": limits.window, "frame_events": limits.frame_events,
                "fps": self.fps, "rate": self.rate, "burst": self.burst,
                "ack_cost": self.ack_cost, "grace": self.store.grace}

    # ------------------------------------------------------------ pacing loop
    @staticmethod
    def _stamp(event: str, message: dict) -> None:
        if event == "events":
            message["server_time"] = time.time()  # wall clock, for latency measurements

    def tick(self) -> None:
        """One frame: every attached session's batch and clock news, then expiry."""
        now = self.clock()
        with self.lock:
            for token, event, message in self.store.tick(now, self.can_send):
                self._stamp(event, message)
                self.sio.emit(event, message, to="session:" + token)
            if now >= self.next_expiry:
                self.store.expire(now)
                self.next_expiry = now + 1.0
            self.frames += 1

    def run(self) -> None:
        period = 1.0 / self.fps
        due = time.monotonic()
        while not self.stopped:
            try:
                self.tick()
            except Exception:  # pragma: no cover - keep pacing the other sessions
                log.exception("frame failed")
            due += period
            delay = due - time.monotonic()
            if delay < 0:  # late (a slow frame): start afresh rather than rush
                due = time.monotonic()
                delay = 0.0
            self.sio.sleep(delay)

    def start(self) -> None:
        if self.task is None:
            self.task = self.sio.start_background_task(self.run)

    def health(self) -> dict:
        with self.lock:
            stats = self.store.stats()
        return {"version": __version__, "async_mode": self.sio.async_mode, **stats,
                "connections": len(self.buckets), "frames": self.frames}


def hub() -> Hub:
    return current_app.extensions["amo_hub"]


def create_app(config: dict | None = None) -> Flask:
    """The Flask app with its Socket.IO endpoint. ``config`` keys: Flask's, plus the
    ``AMO_*`` keys of DEFAULTS."""
    app = Flask(__name__, root_path=str(ROOT))
    app.config.update(DEFAULTS)
    app.config["SECRET_KEY"] = os.environ.get("AMO_SECRET_KEY") or secrets.token_hex(32)
    if config:
        app.config.update(config)
    socketio.init_app(
        app,
        async_mode=app.config["AMO_ASYNC_MODE"],
        cors_allowed_origins=same_origin_or(tuple(app.config["AMO_ALLOW_ORIGINS"])),
        max_http_buffer_size=MAX_HTTP_BUFFER,
        async_handlers=False,  # one connection's events are handled in order, inline
        serializer=SafePacket,
    )
    app.wsgi_app = _DropBrokenWebSockets(app.wsgi_app)
    the_hub = Hub(socketio, app.config)
    the_hub.watch_answers()
    app.extensions["amo_hub"] = the_hub

    # A client acks every batch: up to 30 a second per tab. The ack handler needs no Flask
    # request context, so it is registered on the Socket.IO server itself, which saves
    # most of the cost of an ack (Flask-SocketIO builds a request context per event).
    def on_ack(sid, *args):
        return the_hub.handle("ack", sid, args)

    socketio.server.on("ack", on_ack)

    @app.get("/")
    def index():
        if (ROOT / "templates" / "index.html").is_file():
            return render_template("index.html")
        return ("at-most-once visualizer: the page is not built yet; the Socket.IO "
                "endpoint is up (docs/protocol.md)\n", 200, {"Content-Type": "text/plain"})

    @app.get("/healthz")
    def healthz():
        return jsonify(the_hub.health())

    if app.config["AMO_PACER"]:
        the_hub.start()
    return app


# ---------------------------------------------------------------- Socket.IO handlers


@socketio.on("connect")
def on_connect(auth=None):
    hub().connected(request.sid)


@socketio.on("disconnect")
def on_disconnect(*reason):
    hub().disconnected(request.sid)


@socketio.on("join")
def on_join(*args):
    return hub().handle("join", request.sid, args)


@socketio.on("command")
def on_command(*args):
    return hub().handle("command", request.sid, args)


@socketio.on("*")
def on_other(event, *args):
    return hub().handle(event, request.sid, args)


# ---------------------------------------------------------------- command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1..65535)") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1..65535)")
    return value


def _positive(kind: type):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
        return value
    return parse


def _origin(text: str) -> str:
    if not _ORIGIN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an origin like http://example.org:8000 (scheme://host[:port])")
    return text


def build_parser(environ=os.environ) -> argparse.ArgumentParser:
    env = environ.get
    parser = _Parser(
        prog="python app.py", allow_abbrev=False,  # the async mode is read before parsing
        description="Serve the at-most-once delivery visualizer: open the printed URL.")
    parser.add_argument("--host", default=env("AMO_HOST", "127.0.0.1"),
                        help="address to listen on (env AMO_HOST; default 127.0.0.1: this "
                             "machine only)")
    parser.add_argument("--port", type=_port, default=env("AMO_PORT", "5000"),
                        help="port (env AMO_PORT; default 5000)")
    parser.add_argument("--async-mode", choices=ASYNC_MODES,
                        default=env("AMO_ASYNC_MODE", "eventlet"),
                        help="eventlet (default) or threading (env AMO_ASYNC_MODE)")
    parser.add_argument("--allow-origin", action="append", type=_origin, metavar="ORIGIN",
                        default=[o for o in env("AMO_ALLOW_ORIGINS", "").split(",") if o],
                        help="also accept Socket.IO connections from pages of this origin "
                             "(repeatable; env AMO_ALLOW_ORIGINS, comma-separated). By "
                             "default only the server's own pages may connect")
    parser.add_argument("--grace", type=_positive(float), default=env("AMO_GRACE", "30"),
                        help="seconds a session waits for its tab to reconnect (default 30)")
    parser.add_argument("--max-sessions", type=_positive(int),
                        default=env("AMO_MAX_SESSIONS", "1000"),
                        help="live sessions at most (default 1000)")
    parser.add_argument("--window", type=_positive(int),
                        default=env("AMO_WINDOW", str(Limits.window)),
                        help="events a client may leave unacknowledged before its run "
                             f"waits (default {Limits.window})")
    parser.add_argument("--frame-events", type=_positive(int),
                        default=env("AMO_FRAME_EVENTS", str(Limits.frame_events)),
                        help=f"events per session per frame at most (default "
                             f"{Limits.frame_events})")
    parser.add_argument("--rate", type=_positive(float), default=env("AMO_RATE", "50"),
                        help="inbound messages per second per connection (default 50)")
    parser.add_argument("--verbose", action="store_true",
                        help="log every HTTP request and Socket.IO connection")
    return parser


def parse_args(argv: list[str] | None = None, environ=os.environ) -> argparse.Namespace:
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    # Defaults taken from the environment are strings: check them like flags.
    for name, check in (("port", _port), ("grace", _positive(float)),
                        ("max_sessions", _positive(int)), ("window", _positive(int)),
                        ("frame_events", _positive(int)), ("rate", _positive(float))):
        value = getattr(args, name)
        if isinstance(value, str):
            try:
                setattr(args, name, check(value))
            except argparse.ArgumentTypeError as error:
                parser.error(f"argument --{name.replace('_', '-')} (from the environment): "
                             f"{error}")
    if args.async_mode not in ASYNC_MODES:
        parser.error(f"argument --async-mode (from the environment): invalid choice: "
                     f"{args.async_mode!r} (choose from {', '.join(ASYNC_MODES)})")
    for origin in args.allow_origin:
        try:
            _origin(origin)
        except argparse.ArgumentTypeError as error:
            parser.error(f"argument --allow-origin (from the environment): {error}")
    return args


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _serve_eventlet(app: Flask, host: str, port: int, verbose: bool) -> None:
    """What socketio.run does for eventlet, without SO_REUSEPORT: a second server on a
    busy port must fail, not silently share the port with the first."""
    import eventlet
    import eventlet.wsgi
    from eventlet.green import socket as green_socket

    family, _, _, _, address = green_socket.getaddrinfo(host, port,
                                                        type=green_socket.SOCK_STREAM)[0]
    listener = eventlet.listen(address, family, reuse_port=False)
    eventlet.wsgi.server(listener, app, log_output=verbose)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.async_mode == "eventlet":
        patch_eventlet()  # already done at import when run as a script
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO if args.verbose else logging.WARNING)
    logging.getLogger("werkzeug").addFilter(_QuietWebSocketLeftovers())
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        import flask.cli

        flask.cli.show_server_banner = lambda *a, **k: None
    app = create_app({
        "AMO_ASYNC_MODE": args.async_mode,
        "AMO_ALLOW_ORIGINS": tuple(args.allow_origin),
        "AMO_GRACE": args.grace,
        "AMO_MAX_SESSIONS": args.max_sessions,
        "AMO_WINDOW": args.window,
        "AMO_FRAME_EVENTS": args.frame_events,
        "AMO_RATE": args.rate,
        "AMO_BURST": 2 * args.rate,
    })
    print(f"at-most-once visualizer {__version__}: open {_url(args.host, args.port)} "
          f"({args.async_mode} mode; Ctrl+C stops)", flush=True)
    try:
        if args.async_mode == "threading":
            socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True,
                         log_output=args.verbose)
        else:
            _serve_eventlet(app, args.host, args.port, args.verbose)
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        print(f"python app.py: error: cannot listen on {args.host}:{args.port}: {error}",
              file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
