"""The WSGI guard in front of the app and its Engine.IO endpoint: what a request must look
like before anything else sees it.

- **Host.** Only the hosts the server serves (``HostCheck``). Bound to loopback: the
  loopback names (``localhost``, ``127.0.0.1``, ``[::1]``) with the server's port (or
  none). Bound elsewhere: also any IP address with the port (no DNS name can rebind to
  an address literal), and the names given with ``--allow-host`` (``*``: any). Anything
  else (a DNS-rebinding page, a typo'd proxy) gets ``403`` and a one-line reason.
- **Origin.** An empty ``Origin:`` header is refused (``403``); an absent one is fine (a
  script). Which origins may connect is engine.io's check (``--allow-origin``).
- **Long-polling POST bodies.** A POST to the Engine.IO endpoint must carry an Engine.IO
  payload a client of this protocol sends (``payload_problem``): UTF-8, at most
  ``max_body`` bytes, 1 to 16 packets split by ``\\x1e``, each a close (``1``), pong
  (``3``), upgrade (``5``) or a message (``4``) holding a Socket.IO packet (type ``0`` to
  ``6``). Anything else is answered at once, ``400`` (``413`` too large, unread, and the
  connection closed; ``411`` without a length), and its session is closed
  (``on_bad_body(sid)``). A POST to a session that is not open gets a plain ``400``.
- **Errors.** Every refusal is one line of plain text. An exception that escapes the app
  is logged in one line and answered ``500 internal server error (logged)`` (on a
  websocket: the connection is dropped). No traceback reaches a client or the log.

Pure WSGI: the guard knows nothing of engine.io; the factory hands it the callbacks
(server.transport does the reaching in).
"""

from __future__ import annotations

import io
import ipaddress
import logging
import re
import sys
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs

log = logging.getLogger("amo")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
MAX_PACKETS = 16  # python-engineio 4.15.1 refuses more in one payload (Payload.max_decode_packets)
EIO_PATH = "/socket.io/"
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._-]*)(?::([0-9]{1,5}))?")


# -- hosts ------------------------------------------------------------------------------------


def split_host(host: str) -> tuple[str, str | None]:
    """``name:port`` or ``[v6]:port`` as (lower-case name, port or None)."""
    host = host.lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", (rest[1:] if rest.startswith(":") else None)
    name, colon, port = host.rpartition(":")
    return (name, port) if colon else (host, None)


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a host name is written as (``[v6]`` bracketed), or None."""
    if name.startswith("["):
        name = name[1:-1]
    elif ":" in name:
        return None  # a bare IPv6 address is not a valid Host
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.1``, ``::1``, ``[::1]``)."""
    host = host.lower().strip()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HostCheck:
    """Which ``Host`` header values a server bound to ``bind_host:port`` serves."""

    def __init__(self, bind_host: str, port: int, allow_hosts: Iterable[str] = ()) -> None:
        self.port = str(port)
        self.loopback_only = is_loopback(bind_host)
        self.any = False
        self.names: set[str] = set(LOOPBACK_NAMES)  # with our port or none
        self.exact: set[tuple[str, str]] = set()  # (name, port)
        self.anyport: set[str] = set()  # allowed names without a port of their own
        for entry in allow_hosts:
            if entry.strip() == "*":
                self.any = True
                continue
            name, port = split_host(entry.strip())
            if port is None:
                self.anyport.add(name)
            else:
                self.exact.add((name, port))

    def __call__(self, host: str | None) -> bool:
        if self.any:
            return True
        if not host or not _HOST.fullmatch(host.lower()):
            return False
        name, port = split_host(host)
        if not name:
            return False
        if name in self.anyport or (name, port) in self.exact:
            return True
        if port not in (None, self.port):
            return False
        if name in self.names:
            return True
        return not self.loopback_only and _address(name) is not None

    def describe(self) -> str:
        served = [f"{name}:{self.port}" for name in LOOPBACK_NAMES]
        if not self.loopback_only:
            served.append(f"any IP address:{self.port}")
        served += sorted(self.anyport) + sorted(f"{n}:{p}" for n, p in self.exact)
        return "*" if self.any else ", ".join(served)


def shown(value: str, limit: int = 60) -> str:
    """A header value for a one-line message: printable ASCII, shortened."""
    text = value.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


# -- polling payloads ---------------------------------------------------------------------------


def payload_problem(body: bytes) -> str | None:
    """What is wrong with a long-polling POST body, or None if it is a payload a client of
    this protocol sends."""
    if not body:
        return "an empty payload"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "a payload that is not UTF-8"
    packets = text.split("\x1e")
    if len(packets) > MAX_PACKETS:
        return f"more than {MAX_PACKETS} packets in one payload"
    for packet in packets:
        if not packet:
            return "an empty packet"
        kind = packet[0]
        if kind == "4":
            if len(packet) < 2 or packet[1] not in "0123456":
                return "a message that is not a Socket.IO packet"
        elif kind not in "135":
            return f"a packet of type {shown(kind, 8)!r} (a client sends 1, 3, 4 or 5)"
    return None


# -- the middleware ---------------------------------------------------------------------------


def _reply(start_response, status: str, message: str, exc_info=None,
           close: bool = False) -> list[bytes]:
    body = (message + "\n").encode("utf-8")
    headers = [("Content-Type", "text/plain; charset=utf-8"),
               ("Content-Length", str(len(body)))]
    if close:
        headers.append(("Connection", "close"))
    start_response(status, headers, exc_info)
    return [body]


class Guard:
    """WSGI middleware: the host, origin and polling-body checks above, then ``app``.

    ``hosts``: a HostCheck, a set of served ``host:port`` values, or None (any host).
    ``on_bad_body(sid)`` closes the Engine.IO session that sent a bad body;
    ``session_open(sid)`` (optional) tells whether a POST's session is still open.
    """

    def __init__(self, app, hosts=None, *, max_body: int,
                 on_bad_body: Callable[[str], None] | None = None,
                 session_open: Callable[[str], bool] | None = None,
                 eio_path: str = EIO_PATH) -> None:
        self.app = app
        if hosts is not None and not callable(hosts):
            allowed = frozenset(h.lower() for h in hosts)

            def hosts(host: str | None) -> bool:
                return (host or "").lower() in allowed
        self.hosts = hosts
        self.max_body = max_body
        self.on_bad_body = on_bad_body
        self.session_open = session_open
        self.eio_path = eio_path

    def __call__(self, environ, start_response):
        refusal = self.refusal(environ)
        if refusal is None and environ.get("REQUEST_METHOD") == "POST" and \
                environ.get("PATH_INFO", "").startswith(self.eio_path):
            refusal = self.check_post(environ)
        if refusal is not None:
            status, message, close = refusal
            return _reply(start_response, status, message, close=close)
        websocket = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        try:
            return self.app(environ, start_response)
        except (ConnectionError, StopIteration):  # a server's way of dropping a connection
            raise
        except Exception as error:
            where = f"{environ.get('REQUEST_METHOD')} {shown(environ.get('PATH_INFO', ''))}"
            if websocket:
                log.info("dropped a websocket (%s): %s: %s", where, type(error).__name__,
                         shown(str(error), 200))
                raise ConnectionError("dropped a broken websocket") from None
            log.error("error serving %s: %s: %s", where, type(error).__name__,
                      shown(str(error), 200))
            return _reply(start_response, "500 INTERNAL SERVER ERROR",
                          "internal server error (logged)", sys.exc_info(), close=True)

    def refusal(self, environ) -> tuple[str, str, bool] | None:
        """(status, message, close) for a request refused on its headers, or None."""
        if self.hosts is not None:
            host = environ.get("HTTP_HOST")
            if not self.hosts(host):
                if not host:
                    return "403 FORBIDDEN", "forbidden: no host named (Host header)", True
                return ("403 FORBIDDEN", f"forbidden: host {shown(host)!r} is not served "
                        f"here (start the server with --allow-host NAME)", True)
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not origin.strip():
            return ("403 FORBIDDEN", "forbidden: an empty Origin header (send the page's "
                    "origin, or none)", True)
        return None

    def check_post(self, environ) -> tuple[str, str, bool] | None:
        """Check a long-polling POST body; on a bad one, close its session. The body read
        is handed on as the request's input."""
        sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid", [None])[0]
        if sid is not None and self.session_open is not None and not self.session_open(sid):
            return "400 BAD REQUEST", "bad request: unknown or closed session", False
        problem, status = self._read_body(environ)
        if problem is None:
            return None
        if sid is not None and self.on_bad_body is not None:
            try:
                self.on_bad_body(sid)
            except Exception as error:
                log.info("closing session %s: %s: %s", shown(sid), type(error).__name__,
                         shown(str(error), 200))
        log.info("refused a polling body (session %s): %s", shown(sid or "none"), problem)
        text = {"400": "bad request", "411": "length required",
                "413": "payload too large"}[status[:3]]
        return status, f"{text}: {problem}; the session is closed", status[:3] == "413"

    def _read_body(self, environ) -> tuple[str | None, str]:
        length_text = (environ.get("CONTENT_LENGTH") or "").strip()
        if not (length_text.isascii() and length_text.isdigit()):
            return "a body needs a Content-Length", "411 LENGTH REQUIRED"
        length = int(length_text)
        if length > self.max_body:
            return (f"a payload over {self.max_body} bytes ({length})",
                    "413 REQUEST ENTITY TOO LARGE")
        try:
            body = environ["wsgi.input"].read(length) if length else b""
        except (OSError, ValueError):
            body = b""
        if len(body) < length:
            return "the body ended before its Content-Length", "400 BAD REQUEST"
        environ["wsgi.input"] = io.BytesIO(body)
        return payload_problem(body), "400 BAD REQUEST"
