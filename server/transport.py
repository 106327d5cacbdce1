"""Every workaround that reaches into python-socketio, python-engineio or the WSGI servers,
gathered here so a library upgrade has one file to check.

Each workaround names the library version it was written against; when one of them is
upgraded, re-read that library's code at the place named and drop what it now does itself.
Pinned today (requirements.txt): python-socketio 5.18.1, python-engineio 4.15.1,
Flask-SocketIO 5.7.0, eventlet 0.41.3, Werkzeug 3.1.9, simple-websocket 1.1.0.
"""

from __future__ import annotations

import logging
import threading

from socketio import packet as sio_packet

log = logging.getLogger("amo")

MALFORMED = "\x00malformed"  # event name given to packets that could not be decoded


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


def really_disconnected(server, sid: str) -> bool:
    """False when the "disconnect" handler ran for an *event* named "disconnect" that a
    client sent (python-socketio 5.18.1 dispatches it like any event), True for a real
    disconnect."""
    return not server.manager.is_connected(sid, "/")


class QuietWebSocketLeftovers(logging.Filter):
    """Werkzeug 3.1.9 reads websocket frames that arrive after a websocket ended (a close
    frame, a frame the server refused) as bad HTTP requests and logs them: noise, not
    errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("code 400, message Bad" in message and "('\\x" in message)


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
