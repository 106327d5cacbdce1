"""The hub: connects sessions to Socket.IO connections, answers inbound events through an
explicit dispatch table, and runs the frame loop that paces every session.

Every session operation happens under one lock, emits included, so a resume can never
interleave with a frame. The session store never sees a socket id: each connection is a
``Connection``, the attachment the store keys sessions by.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable

from engine import __version__, describe_presets
from engine.errors import CommandError, EngineError, brief

from . import transport
from .ratelimit import TokenBucket
from .session import Limits, SessionStore
from .validation import describe, validate_ack, validate_command, validate_join

log = logging.getLogger("amo")

ROOM_PREFIX = "session:"  # a session is addressed by its room, never by one socket id


def room_of(token: str) -> str:
    return ROOM_PREFIX + token


def address_key(address: str) -> str:
    """Whose sessions count together: an IPv4 address, or an IPv6 address's /64 (one host
    has a whole /64 to pick addresses from)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Connection:
    """One Socket.IO connection: the attachment a session is attached to."""

    __slots__ = ("sid", "address", "bucket")

    def __init__(self, sid: str, address: str, bucket: TokenBucket) -> None:
        self.sid = sid
        self.address = address
        self.bucket = bucket

    def __repr__(self) -> str:
        return f"Connection({self.sid!r})"


class Hub:
    """Holds the sessions of one app and connects them to sockets: rate limits, answers,
    the pacing loop."""

    def __init__(self, sio, config: dict) -> None:
        self.sio = sio
        self.clock: Callable[[], float] = config["AMO_CLOCK"]
        self.fps = float(config["AMO_FPS"])
        limits = Limits(frame_events=int(config["AMO_FRAME_EVENTS"]),
                        window=int(config["AMO_WINDOW"]))
        session_rate = config.get("AMO_SESSION_RATE")  # new sessions per minute per address
        self.store = SessionStore(
            limits, grace=float(config["AMO_GRACE"]),
            max_sessions=int(config["AMO_MAX_SESSIONS"]),
            creation_rate=float(session_rate) / 60.0 if session_rate else None,
            creation_burst=float(session_rate) if session_rate else 0.0)
        self.rate = float(config["AMO_RATE"])
        self.burst = float(config["AMO_BURST"])
        self.ack_cost = float(config["AMO_ACK_COST"])
        self.max_queued = int(config["AMO_MAX_QUEUED"])
        self.max_queued_bytes = int(config["AMO_MAX_QUEUED_BYTES"])
        self.max_backlog = int(config["AMO_MAX_BACKLOG"])
        self.shed_after = float(config["AMO_SHED_AFTER"])
        self.shed = 0  # connections closed because their client did not read
        self.lock = threading.Lock()  # green under eventlet: created after the patch
        self.answers = transport.AnswerWatch()
        self.connections: dict[str, Connection] = {}
        # The inbound events a client may send, and who answers each (docs/protocol.md).
        self.dispatch: dict[str, Callable[[Connection, object, float], dict]] = {
            "join": self.on_join,
            "command": self.on_command,
            "ack": self.on_ack,
        }
        # Rooms (server/rooms.py): every message a session is sent is also handed to
        # ``mirror(token, event, message)`` (the lock is held); ``gone`` hear of closed
        # connections; ``health_extra`` add to /healthz.
        self.mirror: Callable[[str, str, dict], None] | None = None
        # Called at the end of each frame with the hub's lock held (rooms.py: followers'
        # batches held back to be sent together go out when due).
        self.after_frame: Callable[[float], None] | None = None
        self.gone: list[Callable[[Connection], None]] = []
        self.health_extra: list[Callable[[], dict]] = []
        self.frames = 0
        self.next_expiry = 0.0
        self.stopped = False
        self.task = None

    def install(self) -> None:
        """Hook into the Socket.IO server (after ``init_app``)."""
        self.answers.install(self.sio.server)
        transport.close_events_outside_namespaces(self.sio.server)

    # ------------------------------------------------------------ transport facts
    def backlog(self, connection: Connection) -> int:
        return transport.backlog(self.sio.server, connection.sid)

    def can_send(self, connection: Connection) -> bool:
        """The client's transport has room for another frame: at most ``max_queued``
        packets and ``max_queued_bytes`` characters wait for it."""
        waiting = self.backlog(connection)
        if waiting > self.max_queued:
            return False
        return waiting == 0 or transport.backlog_bytes(
            self.sio.server, connection.sid) <= self.max_queued_bytes

    def reader_keeps_up(self, connection: Connection) -> bool:
        """Wait (reading nothing more from this client) while ``max_backlog`` packets or
        more wait for it; False if that lasts ``shed_after`` seconds: it does not read.

        Answers are never dropped: a client that sends faster than it reads is slowed
        down to the pace at which it reads (TCP pushes back on its sends meanwhile)."""
        if self.backlog(connection) < self.max_backlog:
            return True
        deadline = time.monotonic() + self.shed_after
        pause = 0.0
        while time.monotonic() < deadline:
            self.sio.sleep(pause)  # lets the writer run (a green thread under eventlet)
            if self.backlog(connection) < self.max_backlog:
                return True
            pause = min(0.05, pause + 0.002)
        return False

    def shed_connection(self, connection: Connection) -> None:
        """Close the connection of a client that does not read, with the reason as an
        ``error`` event (the last thing queued for it)."""
        waiting = self.backlog(connection)
        error = CommandError(
            "transport", f"{waiting} messages unread",
            f"a client that reads what it is sent: at most {self.max_backlog} messages "
            f"waiting for {self.shed_after:g} s; the connection is closed")
        log.info("closed connection %s: it did not read (%d messages waiting)",
                 connection.sid, waiting)
        try:
            self.emit("error", {"error": error.as_dict()}, to=connection.sid)
        except Exception:  # pragma: no cover - already going
            pass
        self.shed += 1
        transport.shed(self.sio.server, connection.sid)

    def emit(self, event: str, message: dict, to: str) -> None:
        """To sockets of this process (a session's, or one socket): with a message queue
        (Redis) nothing here waits for it; rooms publish to other processes themselves."""
        self.sio.emit(event, message, to=to, ignore_queue=True)

    # ------------------------------------------------------------ connections
    def connection(self, sid: str, address: str = "") -> Connection:
        found = self.connections.get(sid)
        if found is None:
            found = self.connections[sid] = Connection(
                sid, address, TokenBucket(self.rate, self.burst, self.clock()))
        return found

    def connected(self, sid: str, address: str) -> None:
        self.connection(sid, address)

    def disconnected(self, sid: str) -> None:
        if not transport.really_disconnected(self.sio.server, sid):
            return  # an event named "disconnect" sent by the client, not a disconnect
        found = self.connections.pop(sid, None)
        if found is not None:
            with self.lock:
                self.store.leave(found, self.clock())
            for hook in self.gone:
                hook(found)

    # ------------------------------------------------------------ inbound events
    def handle(self, event: object, sid: str, args: tuple):
        """Answer one inbound event: ``{"ok": true, ...}`` or ``{"ok": false, "error"}``."""
        wants = self.answers.wants_answer()
        connection = self.connection(sid)
        if not self.reader_keeps_up(connection):
            self.shed_connection(connection)  # closed, with the reason
            return self.sio.server.not_handled  # no answer to a connection that is gone
        now = self.clock()
        try:
            bucket = connection.bucket
            if not bucket.take(now, self.ack_cost if event == "ack" else 1.0):
                raise CommandError("rate", "too many messages", bucket.allowed())
            if event == transport.MALFORMED:
                raise CommandError("payload", args[0] if args else None,
                                   "a Socket.IO event: a JSON array [name, payload object]")
            if event == transport.RESERVED:  # "*", "connect", "disconnect" sent as events
                event, args = (args[0] if args else None), ()
            name = self._event_name(event)
            if len(args) > 1:
                raise CommandError("payload", f"{len(args)} arguments",
                                   "one payload object per event")
            payload = args[0] if args else None
            answer = {"ok": True, **self.dispatch[name](connection, payload, now)}
        except EngineError as error:
            answer = {"ok": False, "error": error.as_dict()}
        except Exception:  # a bug must not take the connection (or the server) down
            log.exception("error handling %r from %s", brief(event), sid)
            answer = {"ok": False, "error": {
                "field": "server", "value": None, "allowed": "",
                "message": "the server failed to handle this event (logged)"}}
        if wants is False:
            if not answer["ok"]:
                self.emit("error", {"error": answer["error"]}, to=sid)
            return None
        return answer

    def _event_name(self, event: object) -> str:
        """A known inbound event: one of the dispatch table's (rooms add theirs)."""
        if isinstance(event, str) and event in self.dispatch:
            return event
        raise CommandError("event", event, "one of " + ", ".join(self.dispatch))

    def _enter(self, sid: str, room: str) -> None:
        self.sio.server.enter_room(sid, room, namespace="/")

    def _leave(self, sid: str, room: str) -> None:
        self.sio.server.leave_room(sid, room, namespace="/")

    def on_join(self, connection: Connection, payload: object, now: float) -> dict:
        data = validate_join(payload)
        sid = connection.sid
        with self.lock:
            before = self.store.session_of(connection)
            joined = self.store.join(connection, data["session"], data["last_seq"],
                                     data["run"], now, creator=address_key(connection.address))
            token = joined.session.token
            room = room_of(token)
            if before is not None and before.token != token:
                self._leave(sid, room_of(before.token))
            if joined.detached is not None:
                self._leave(joined.detached.sid, room)
                self.emit("detached", {"session": token, "reason": "joined-elsewhere"},
                          to=joined.detached.sid)
            self._enter(sid, room)
            for event, message in joined.messages:
                self._stamp(event, message)
                self.emit(event, message, to=sid)
                if event == "snapshot" and self.mirror is not None:
                    self.mirror(token, event, message)  # a snapshot restarts the stream
        return {**joined.answer, "presets": describe_presets(), "limits": self.limits()}

    def _joined(self, connection: Connection):
        """The session ``connection`` follows (the lock is held); refused before a join."""
        session = self.store.session_of(connection)
        if session is None:
            raise CommandError("session", None, "a joined session: send join first")
        return session

    def on_command(self, connection: Connection, payload: object, now: float) -> dict:
        command = validate_command(payload)
        with self.lock:
            session = self._joined(connection)
            result, messages = session.command(command, now)
            for event, message in messages:
                self.emit(event, message, to=room_of(session.token))
                if self.mirror is not None:
                    self.mirror(session.token, event, message)
        return result

    def on_ack(self, connection: Connection, payload: object, now: float) -> dict:
        data = validate_ack(payload)
        with self.lock:
            return self._joined(connection).ack(data["seq"], data["run"])

    def limits(self) -> dict:
        limits = self.store.limits
        return {**describe(), "window": limits.window, "frame_events": limits.frame_events,
                "fps": self.fps, "rate": self.rate, "burst": self.burst,
                "ack_cost": self.ack_cost, "grace": self.store.grace}

    # ------------------------------------------------------------ frame loop
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
                self.emit(event, message, to=room_of(token))
                if self.mirror is not None:
                    self.mirror(token, event, message)
            if self.after_frame is not None:
                self.after_frame(now)
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
                "evicted": self.store.evicted, "connections": len(self.connections),
                "frames": self.frames, "shed": self.shed,
                **{k: v for extra in self.health_extra for k, v in extra().items()}}
