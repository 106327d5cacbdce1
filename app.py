"""``python app.py``: the entry point. Patches the standard library for eventlet, reads the
flags, builds the app (server.create_app) and serves it. It decides nothing else: sessions,
pacing and the Socket.IO protocol live in ``server/`` (docs/architecture.md).

Run it: ``python app.py [--host H] [--port P] [--async-mode eventlet|threading]
[--allow-origin ORIGIN ...] [--allow-host NAME ...]``; ``python app.py --help`` lists every
flag and the environment variables that set them. Serving itself is ``server/serve.py``.
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

from engine import __version__  # noqa: E402
from server import create_app, roomstore, serve  # noqa: E402
from server.i18n import CatalogueError  # noqa: E402
from server.lessons import LessonError  # noqa: E402
from server.session import Limits  # noqa: E402

log = logging.getLogger("amo")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit status 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")
_HOST = re.compile(r"\*|(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*)(:[0-9]{1,5})?")


def _port(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1..65535)")
    return int(text)


def _positive(kind: type, zero: bool = False):
    def parse(text: str, what="0 or more" if zero else "a positive number"):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not (value >= 0 if zero else value > 0):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value
    return parse


def _origin(text: str) -> str:
    if not _ORIGIN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an origin like http://example.org:8000 (scheme://host[:port])")
    return text


def _host_name(text: str) -> str:
    if not _HOST.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a host like classroom.example, classroom.example:8000, "
            "[fe80::1] or *")
    return text


# Flags whose value may come from the environment: (flag, variable, check, default, help).
# A value from the environment is checked like the flag's, and an error names its source.
_VALUE_FLAGS = (
    ("--port", "AMO_PORT", _port, "5000", "port (default 5000)"),
    ("--grace", "AMO_GRACE", _positive(float), "30",
     "seconds a session waits for its tab to reconnect (default 30)"),
    ("--max-sessions", "AMO_MAX_SESSIONS", _positive(int), "1000",
     "live sessions at most (default 1000)"),
    ("--session-rate", "AMO_SESSION_RATE", _positive(float), "300",
     "new sessions per minute per client address, in bursts of as many (default 300)"),
    ("--window", "AMO_WINDOW", _positive(int), str(Limits.window),
     f"events a client may leave unacknowledged before its run waits (default "
     f"{Limits.window})"),
    ("--frame-events", "AMO_FRAME_EVENTS", _positive(int), str(Limits.frame_events),
     f"events per session per frame at most (default {Limits.frame_events})"),
    ("--rate", "AMO_RATE", _positive(float), "50",
     "inbound messages per second per connection (default 50)"),
    ("--proxies", "AMO_PROXIES", _positive(int, True), "0", "proxies in front to trust (0)"),
)


def _queue_url(text: str) -> str:
    if not re.fullmatch(r"rediss?://[^\s]+", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Redis URL like redis://127.0.0.1:6379/0")
    return text


def build_parser(environ=os.environ) -> argparse.ArgumentParser:
    env = environ.get
    parser = _Parser(
        prog="python app.py", allow_abbrev=False,  # the async mode is read before parsing
        description="Serve the at-most-once delivery visualizer: open the printed URL.")
    parser.add_argument("--host", default=env("AMO_HOST", "127.0.0.1"),
                        help="address to listen on (env AMO_HOST; default 127.0.0.1: this "
                             "machine only)")
    parser.add_argument("--async-mode", choices=ASYNC_MODES,
                        default=env("AMO_ASYNC_MODE", "eventlet"),
                        help="eventlet (default) or threading (env AMO_ASYNC_MODE)")
    parser.add_argument("--allow-origin", action="append", type=_origin, metavar="ORIGIN",
                        default=[o for o in env("AMO_ALLOW_ORIGINS", "").split(",") if o],
                        help="also accept Socket.IO connections from pages of this origin "
                             "(repeatable; env AMO_ALLOW_ORIGINS, comma-separated). By "
                             "default only the server's own pages may connect")
    parser.add_argument("--allow-host", action="append", type=_host_name, metavar="NAME",
                        default=[h for h in env("AMO_ALLOW_HOSTS", "").split(",") if h],
                        help="also serve requests for this host name, NAME or NAME:PORT "
                             "(repeatable; env AMO_ALLOW_HOSTS, comma-separated; * serves "
                             "any). By default: localhost, 127.0.0.1 and [::1] with the "
                             "port, and any IP address when not bound to loopback")
    for flag, variable, check, default, text in _VALUE_FLAGS:
        parser.add_argument(flag, type=check, default=env(variable, default),
                            help=f"{text}; env {variable}")
    parser.add_argument("--message-queue", type=_queue_url, metavar="URL",
                        default=env("AMO_MESSAGE_QUEUE") or None,
                        help="redis://HOST:PORT[/DB]: rooms span every server process that "
                             "shares this Redis (behind a load balancer with sticky "
                             "sessions: docs/deployment.md); env AMO_MESSAGE_QUEUE. By "
                             "default one process, no external service")
    parser.add_argument("--verbose", action="store_true",
                        help="log every HTTP request and Socket.IO connection")
    return parser


def parse_args(argv: list[str] | None = None, environ=os.environ) -> argparse.Namespace:
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    for flag, _variable, check, _default, _text in _VALUE_FLAGS:
        name = flag[2:].replace("-", "_")
        value = getattr(args, name)
        if isinstance(value, str):  # a default taken from the environment: not yet checked
            try:
                setattr(args, name, check(value))
            except argparse.ArgumentTypeError as error:
                parser.error(f"argument {flag} (from the environment): {error}")
    if args.async_mode not in ASYNC_MODES:
        parser.error(f"argument --async-mode (from the environment): invalid choice: "
                     f"{args.async_mode!r} (choose from {', '.join(ASYNC_MODES)})")
    for flag, values, check in (("--allow-origin", args.allow_origin, _origin),
                                ("--allow-host", args.allow_host, _host_name)):
        for value in values:
            try:
                check(value)
            except argparse.ArgumentTypeError as error:
                parser.error(f"argument {flag} (from the environment): {error}")
    return args


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _fail(message: str, status: int) -> int:
    print(f"python app.py: error: {message}", file=sys.stderr, flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.async_mode == "eventlet":
        patch_eventlet()  # already done at import when run as a script
    serve.configure_logging(log, args.verbose)
    try:  # a malformed catalogue or lesson file (env AMO_LESSONS: another folder) stops it
        app = create_app({
            "AMO_ASYNC_MODE": args.async_mode,
            "AMO_ALLOW_ORIGINS": tuple(args.allow_origin),
            "AMO_BIND": (args.host, args.port),
            "AMO_ALLOW_HOSTS": tuple(args.allow_host),
            "AMO_SESSION_RATE": args.session_rate,
            "AMO_GRACE": args.grace,
            "AMO_MAX_SESSIONS": args.max_sessions,
            "AMO_WINDOW": args.window,
            "AMO_FRAME_EVENTS": args.frame_events,
            "AMO_RATE": args.rate, "AMO_PROXIES": args.proxies,
            "AMO_BURST": 2 * args.rate,
            "AMO_MESSAGE_QUEUE": args.message_queue,
            "AMO_LESSONS": os.environ.get("AMO_LESSONS") or None,
        })
    except (CatalogueError, LessonError) as error:
        return _fail(str(error), 2)
    if args.message_queue:
        problem = roomstore.check_queue(args.message_queue)
        if problem:
            return _fail(f"cannot reach the message queue {args.message_queue}: {problem}", 2)
    print(f"at-most-once visualizer {__version__}: open {_url(args.host, args.port)} "
          f"({args.async_mode} mode; Ctrl+C stops)", flush=True)
    try:
        if args.async_mode == "threading":
            serve.serve_threading(app, args.host, args.port, args.verbose)
        else:
            import eventlet.green.socket
            import eventlet.wsgi

            serve.serve_eventlet(app, args.host, args.port, args.verbose, eventlet)
    except KeyboardInterrupt:
        return 0
    except OSError as error:
        return _fail(f"cannot listen on {args.host}:{args.port}: {error}", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
