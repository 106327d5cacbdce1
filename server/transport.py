"""Every workaround that reaches into python-socketio, python-engineio or the WSGI servers,
gathered here so a library upgrade has one file to check.

Each workaround names the library version it was written against; when one of them is
upgraded, re-read that library's code at the place named and drop what it now does itself.
Pinned today (requirements.txt): python-socketio 5.18.1, python-engineio 4.15.1,
Flask-SocketIO 5.7.0, eventlet 0.41.3, Werkzeug 3.1.9, simple-websocket 1.1.0.
"""

from __future__ import annotations

import logging
import socket
import threading

from socketio import packet as sio_packet

log = logging.getLogger("amo")

MALFORMED = "\x00malformed"  # event name given to packets that could not be decoded
RESERVED = "\x00reserved"  # event name given to events named like a handler slot (below)
# Names python-socketio 5.18.1 and Flask-SocketIO 5.7.0 route specially: "*" reaches the
# catch-all handler with its arguments shifted (TypeError or IndexError inside
# Flask-SocketIO's get_environ), "connect" and "disconnect" reach the connection handlers
# and get an empty answer. An event a client sends under one of these names is renamed
# RESERVED (its name kept as the first argument), so the hub refuses it like any unknown
# event.
RESERVED_NAMES = frozenset({"*", "connect", "disconnect", "connect_error"})


class SafePacket(sio_packet.Packet):
    """A Socket.IO packet whose decoding never raises: anything this protocol does not use
    (undecodable JSON, binary attachments, an event that is not [name, ...]) becomes an
    event named MALFORMED, which the hub answers with an error.

    Written against python-socketio 5.18.1 (``socketio/packet.py``): its ``decode`` raises
    on bad input inside the server's receive loop, and the client gets no answer.

    The protocol is JSON only, so outgoing packets skip python-socketio's recursive scan
    for binary values (``uses_binary_events``): on a batch of thousands of events that scan
    cost more than the engine and the JSON encoding together."""

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
        if self.packet_type == sio_packet.EVENT and self.data[0] in RESERVED_NAMES:
            self.data = [RESERVED, self.data[0]]
        return count


class AnswerWatch:
    """Tells, while an inbound event is handled, whether its client asked for an answer
    (sent an ack id), so an error for an event without one can go out as an ``error`` event.

    Written against python-socketio 5.18.1: ``Server._handle_event_internal(server, sid,
    eio_sid, data, namespace, id)`` is the one place that sees the ack id; handlers do not.
    """

    def __init__(self) -> None:
        self._local = threading.local()  # green under eventlet: created after the patch

    def install(self, server) -> None:
        original = server._handle_event_internal
        local = self._local

        def handle(srv, sid, eio_sid, data, namespace, id):
            local.wants_answer = id is not None
            try:
                return original(srv, sid, eio_sid, data, namespace, id)
            finally:
                local.wants_answer = None

        server._handle_event_internal = handle

    def wants_answer(self) -> bool | None:
        """True or False while an event is handled; None outside (e.g. in tests)."""
        return getattr(self._local, "wants_answer", None)


def close_events_outside_namespaces(server) -> None:
    """An event for a namespace the client is not connected to (after it sent ``41``, or
    ``42/other,...``) closes its connection: a protocol violation.

    Written against python-socketio 5.18.1: ``Server._handle_event(eio_sid, namespace, id,
    data)`` drops such an event with a warning, so an event with an ack id would never be
    answered."""
    original = server._handle_event

    def handle(eio_sid, namespace, id, data):
        name = namespace or "/"
        sid = server.manager.sid_from_eio_sid(eio_sid, name)
        if sid is None or not server.manager.is_connected(sid, name):
            log.info("closed engine.io session %s: an event outside a connected namespace",
                     eio_sid)
            close_eio_session(server.eio, eio_sid)
            return None
        return original(eio_sid, namespace, id, data)

    server._handle_event = handle


def tap_queue_emits(server, tap) -> bool:
    """Route every emit that arrives through the message queue from another process via
    ``tap(message, deliver)``, which must call ``deliver(message)`` to hand it to this
    process's sockets (server/rooms.py keeps a room's recent batches so a joiner misses
    none). False if the server has no message queue.

    Written against python-socketio 5.18.1: ``PubSubManager._handle_emit(message)``
    delivers each queued emit (``{"event", "data", "room", "namespace", ...}``).
    """
    manager = server.manager
    deliver = getattr(manager, "_handle_emit", None)
    if deliver is None:  # not a pub/sub manager
        return False
    manager._handle_emit = lambda message: tap(message, deliver)
    return True


def backlog(server, sid: str) -> int:
    """Packets engine.io holds for this client that it has not written yet.

    Written against python-engineio 4.15.1: ``Server.sockets[eio_sid].queue`` is the
    per-client outgoing queue (unbounded); python-socketio 5.18.1 maps a Socket.IO sid to
    its engine.io sid with ``manager.eio_sid_from_sid``. Neither is public API.
    """
    try:
        eio_sid = server.manager.eio_sid_from_sid(sid, "/")
        sock = server.eio.sockets.get(eio_sid) if eio_sid else None
        return sock.queue.qsize() if sock is not None else 0
    except Exception:  # pragma: no cover - transport internals: never fail a frame
        return 0


def backlog_bytes(server, sid: str) -> int:
    """Characters of the packets engine.io holds for this client (python-engineio 4.15.1:
    its queue holds ``Packet`` objects whose ``data`` is the encoded Socket.IO packet; the
    queue's ``queue`` attribute is the deque behind it, in both async modes)."""
    try:
        eio_sid = server.manager.eio_sid_from_sid(sid, "/")
        sock = server.eio.sockets.get(eio_sid) if eio_sid else None
        if sock is None:
            return 0
        return sum(len(p.data) for p in list(sock.queue.queue)
                   if p is not None and isinstance(p.data, (str, bytes)))
    except Exception:  # pragma: no cover - transport internals: never fail a frame
        return 0


def really_disconnected(server, sid: str) -> bool:
    """False when the "disconnect" handler ran for an *event* named "disconnect" that a
    client sent (python-socketio 5.18.1 dispatches it like any event), True for a real
    disconnect."""
    return not server.manager.is_connected(sid, "/")


class QuietWebSocketLeftovers(logging.Filter):
    """Werkzeug 3.1.9 reads websocket frames that arrive after a websocket ended (a close
    frame, a frame the server refused) as bad HTTP requests and logs them: noise, not
    errors. http.server quotes the line with ' or " (``Bad request syntax ("\\x88\\x82...")``
    when it holds a '), so any 400 line that shows an escaped byte is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("code 400, message Bad" in message and "\\x" in message)


class _ErrorsWithoutShutdownNoise:
    """wsgi.errors for a websocket: eventlet 0.41.3 writes "socket shutdown error: Bad file
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


class DropBrokenWebSockets:
    """WSGI middleware: a client that sends frames engine.io cannot decode makes
    python-engineio 4.15.1 raise inside its websocket loop. Drop that one connection
    quietly (werkzeug treats a ConnectionError as a dropped connection) instead of logging
    a traceback."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        websocket = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        if websocket and "wsgi.errors" in environ:
            environ["wsgi.errors"] = _ErrorsWithoutShutdownNoise(environ["wsgi.errors"])
        try:
            return self.wsgi_app(environ, start_response)
        except (ConnectionError, StopIteration):
            raise
        except Exception as error:
            if websocket and environ.get("PATH_INFO", "").startswith("/socket.io"):
                log.info("dropped a websocket that sent a broken frame: %r", error)
                raise ConnectionError("broken websocket frame") from None
            raise


class FollowersWithoutDeflate:
    """WSGI middleware: a room follower's WebSocket (the page asks with ``follow=1`` in
    its Socket.IO query) is offered no permessage-deflate. Eventlet 0.41 (and wsproto
    under simple-websocket) compress each message for each socket, so a room's batch was
    compressed once per follower: with 300 followers offering deflate, as browsers do,
    the two servers used 2.5 to 3 times the CPU (bench/README.md, classroom). Removing
    the offer before the handshake is read keeps the sockets plain; sessions' sockets
    (one reader each) keep their compression."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if "HTTP_SEC_WEBSOCKET_EXTENSIONS" in environ \
                and "follow=1" in environ.get("QUERY_STRING", "").split("&"):
            del environ["HTTP_SEC_WEBSOCKET_EXTENSIONS"]
        return self.wsgi_app(environ, start_response)


# -- engine.io sessions: closing without waiting ----------------------------------------------


def eio_session_open(eio, sid: str) -> bool:
    """True if engine.io has an open session ``sid`` (python-engineio 4.15.1:
    ``Server.sockets``; a closed socket stays there until its next request or the service
    task removes it, and a POST to it raises KeyError inside ``handle_request``: HTTP 500)."""
    sock = eio.sockets.get(sid)
    return sock is not None and not sock.closed and not sock.closing


ABORT_AFTER = 3.0  # seconds a closed websocket has to deliver what is queued, then TCP goes


def close_eio_session(eio, sid: str, abort_after: float = ABORT_AFTER) -> None:
    """Close engine.io session ``sid`` now, without waiting for its client.

    python-engineio 4.15.1 closes with ``Socket.close(wait=True)`` (``Server.disconnect``,
    and ``handle_request`` on a bad POST): that waits until a GET has drained the
    session's queue, i.e. forever for a polling client that does not poll, and the request
    that closes it never gets its answer (a greenlet or thread left behind). Here: the
    disconnect handlers run, a CLOSE packet is queued (a pending GET gets it; a websocket's
    writer sends what is queued, the CLOSE, and a close frame), and the session is
    forgotten at once (its next request gets a plain 400). A websocket whose client does
    not read that within ``abort_after`` seconds has its TCP connection shut down.
    """
    sock = eio.sockets.get(sid)
    if sock is None:
        return
    try:
        sock.close(wait=False, abort=False)
    except Exception as error:  # pragma: no cover - already closing: nothing to undo
        log.info("closing engine.io session %s: %r", sid, error)
    eio.sockets.pop(sid, None)
    guard = getattr(eio, "_amo_websockets", None)
    if guard is not None and sid in guard.raw:
        def abort_later() -> None:
            eio.sleep(abort_after)
            guard.abort(sid)

        eio.start_background_task(abort_later)


def shed(server, sid: str) -> None:
    """Close Socket.IO connection ``sid`` (its engine.io session and, ABORT_AFTER seconds
    later at most, its TCP connection) without waiting for the client to read."""
    try:
        eio_sid = server.manager.eio_sid_from_sid(sid, "/")
    except Exception:  # pragma: no cover - already gone
        return
    if eio_sid:
        close_eio_session(server.eio, eio_sid)


# -- websocket frames ---------------------------------------------------------------------------

_WEBSOCKET_TYPES = "12345"  # CLOSE, PING ("2probe" while upgrading), PONG, MESSAGE, UPGRADE


def websocket_frame_problem(data, limit: int) -> str | None:
    """Why a websocket message is not an engine.io packet a client may send, or None.

    Text frames must start with a packet type a client sends (1 to 5); binary frames are
    passed on (Socket.IO answers them). python-engineio 4.15.1 ignores types 0, 6 to 9
    and raises on anything else (``int("z")``, an empty frame, bad base64 after ``b``)."""
    if isinstance(data, (bytes, bytearray)):
        return "a binary message over the size limit" if len(data) > limit else None
    if not isinstance(data, str) or not data:
        return "an empty frame"
    if len(data) > limit:
        return "a message over the size limit"
    if data[0] not in _WEBSOCKET_TYPES:
        return f"not an engine.io packet (type {data[0]!r})"
    return None


class _PacketsOnly:
    """The websocket engine.io's handler reads from: a frame that is not a packet closes the
    connection (close code 1002, protocol error) and reads as "closed by the client"."""

    def __init__(self, ws, limit: int) -> None:
        self._ws = ws
        self._limit = limit

    def __getattr__(self, name):
        return getattr(self._ws, name)

    def wait(self):
        data = self._ws.wait()
        if data is None:
            return None
        problem = websocket_frame_problem(data, self._limit)
        if problem is None:
            return data
        log.info("closed a websocket that sent %s", problem)
        code = 1009 if "size" in problem else 1002
        inner = getattr(self._ws, "ws", None)  # threading: simple_websocket.Server
        try:
            if inner is not None:
                if inner.connected:
                    inner.close(reason=code, message=problem[:100])
            else:  # eventlet: RFC6455WebSocket
                self._ws.close(close_data=(code, problem[:100]))
        except Exception:  # pragma: no cover - the client went first
            pass
        return None


def _raw_socket(ws):
    inner = getattr(ws, "ws", None)
    if inner is not None:
        return getattr(inner, "sock", None)  # simple-websocket 1.1.0
    return getattr(ws, "socket", None)  # eventlet 0.41.3 RFC6455WebSocket


class WebSocketGuard:
    """Installs itself as engine.io's websocket class (python-engineio 4.15.1:
    ``Server._async["websocket"]``, called as ``cls(handler, server)(environ,
    start_response)``, ``handler`` being the bound ``Socket._websocket_handler``):

    - frames that are not packets close the connection at once (engine.io ignores
      ``7`` and ``9hello``; ``zzz`` or an empty frame raised inside its loop, and in
      threading mode left the TCP connection open and silent for about a minute);
    - in threading mode every close is a closing handshake followed by closing the TCP
      connection (see ClosingSimpleWebSocketWSGI);
    - it knows the TCP socket of each websocket session, so a client that stopped reading
      can be shed (``abort``).
    """

    def __init__(self) -> None:
        self.raw: dict[str, socket.socket] = {}

    def install(self, eio) -> None:
        original = eio._async["websocket"]
        if original is not None and original.__name__ == "SimpleWebSocketWSGI":
            original = ClosingSimpleWebSocketWSGI
        if original is None:  # pragma: no cover - no websocket support in this mode
            return
        guard = self

        def factory(handler, server):
            def guarded(ws):
                sid = getattr(getattr(handler, "__self__", None), "sid", None)
                raw = _raw_socket(ws)
                if sid is not None and raw is not None:
                    guard.raw[sid] = raw
                try:
                    return handler(_PacketsOnly(ws, server.max_http_buffer_size))
                finally:
                    if sid is not None:
                        guard.raw.pop(sid, None)

            return original(guarded, server)

        eio._async = {**eio._async, "websocket": factory}
        eio._amo_websockets = self

    def abort(self, sid: str) -> None:
        """Shut the TCP connection of websocket session ``sid`` down (if it has one): a
        writer blocked on a client that does not read gets an error and ends."""
        raw = self.raw.pop(sid, None)
        if raw is not None:
            try:
                raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _simple_websocket_wsgi():
    from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

    return SimpleWebSocketWSGI


class ClosingSimpleWebSocketWSGI:
    """python-engineio 4.15.1's SimpleWebSocketWSGI (threading mode), with a closing
    handshake and a closed TCP connection at the end of every websocket.

    simple-websocket 1.1.0 answers a client's close frame from its reader thread *after*
    it has woken engine.io's handler, which ends the request; Werkzeug 3.1.9 then drains and
    closes the socket first, so most clean closes got no close frame, and the bytes the
    client sent next were logged as ``Bad request syntax``. Here the websocket works on a
    duplicate of the socket; when engine.io's handler returns, the server's close frame is
    sent (if not yet), the reader thread is given a second to complete the handshake, and
    the TCP connection is shut down before Werkzeug sees it again.
    """

    __name__ = "ClosingSimpleWebSocketWSGI"

    def __init__(self, handler, server, **kwargs) -> None:
        self.app = handler
        self.server_args = kwargs
        self.ws = None

    def __call__(self, environ, start_response):
        import simple_websocket

        original = environ.get("werkzeug.socket")
        if original is None:  # not Werkzeug: the library's own class
            return _simple_websocket_wsgi()(self.app, None, **self.server_args)(
                environ, start_response)
        environ = dict(environ, **{"werkzeug.socket": original.dup()})
        self.ws = simple_websocket.Server(environ, **self.server_args)
        try:
            self.app(self)
        finally:
            ws = self.ws
            try:
                if ws.connected:
                    ws.close()
            except Exception:  # pragma: no cover - the client went first
                pass
            ws.thread.join(1.0)
            try:
                original.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise ConnectionError("websocket closed")  # Werkzeug: a dropped connection

    def close(self) -> None:
        # engine.io's writer and reader may both close (simple-websocket 1.1.0 checks
        # ``connected`` and sends without a lock: the second close raises in wsproto).
        try:
            if self.ws.connected:
                self.ws.close()
        except Exception:
            pass

    def send(self, message) -> None:
        import simple_websocket

        try:
            return self.ws.send(message)
        except (simple_websocket.ConnectionClosed, OSError):
            raise OSError() from None

    def wait(self):
        import simple_websocket

        try:
            return self.ws.receive()
        except simple_websocket.ConnectionClosed:
            return None
