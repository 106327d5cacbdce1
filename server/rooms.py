"""Rooms (issue 13, docs/rooms.md): a presenter leads, a room of browsers follows.

A room follows one session, the presenter's: every message the hub sends that session
(snapshots, event batches, clocks) also goes to the room's followers, in the Socket.IO
room ``follow:<room token>``; with a message queue (Redis) that room spans every server
process. Followers are read-only: their commands are refused (``field: "room"``), but
``history`` is answered from the room's run, and ``room-take`` (Take it from here) makes
the moment shown a session of their own (an ``import`` of the room's run, then a
``fork``: the engine is deterministic, a config and a command log are the run).

Where a follower's snapshot comes from: the presenter's session when it lives in this
process; otherwise a *replica*, the run rebuilt here from the room's record in the
store (config + command log + seq, written by the presenter's process at every message)
and kept up to date on each join. Resume (``last_seq``) sends the missed events from the
recent batches or from the run's history, then the stream goes on.

Rooms are addressed by an unguessable token (192 bits) that the join link carries; a
short code maps to it. Guessing codes (and room tokens) is rate limited per address.
The presenter proves itself with a control token (its hash is stored), kept by the
presenter's page. A room ends when the presenter ends it, when the presenter's session
is freed (away longer than the grace period), or after ``idle`` seconds without a
presenter command.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from engine import History, Simulation
from engine.errors import CommandError
from engine.history import MAX_HISTORY_EVENTS
from engine.runfile import dump_run, load_run

from . import transport
from .hub import address_key, room_of
from .ratelimit import TokenBucket
from .roomstore import MemoryRoomStore, Publisher, RecordWriter
from .roomwire import (
    CODE_ALPHABET,
    CODE_LENGTH,
    control,
    validate_answer,
    validate_code,
    validate_empty,
    validate_poll,
    validate_room_join,
    validate_state,
)
from .session import KEEP_RECENT_ORDERS
from .validation import validate_ack, validate_command

log = logging.getLogger("amo")

FOLLOW = "follow:"  # the followers of a room
PRESENT = "present:"  # the presenter's sockets of a room
RECENT_BATCHES = 90  # batches kept per room for resume (3 s at 30 frames a second)
BEAT = 1.0  # seconds between two rounds of room upkeep
# A room's followers get the presenter's batches together, at most one message every
# FOLLOW_EVERY seconds (the presenter's page gets one a frame): every cost of a room's
# fan-out (in each server, in Redis, in each follower) is per message, and a follower's
# page animates from its own clock between messages. The latency a follower sees grows
# by at most this much (bench/README.md, classroom). create_app's AMO_FOLLOW_EVERY sets
# it; 0: every frame.
FOLLOW_EVERY = 0.05
MISSING_FOR = 15.0  # seconds a followed room may be missing from the store before it ends
HOST_TTL = 5.0  # a process's heartbeat in the shared store lives this long (written each BEAT)
CLAIM_TTL = 10.0  # one process at a time takes over a room whose presenter's process died
NOT_OPEN = ("an open room: this one has ended or never existed; ask the presenter for "
            "the current link or code")
FOLLOWER_REFUSED = ("nothing: you follow a room, only its presenter controls the run; "
                    "Take it from here (room-take) makes it a run of your own")
# Snapshot fields that are the moment's or the transport's, not the run's (a replica
# makes them itself); the others are copied from the presenter's latest snapshot.
MOMENT_FIELDS = ("session", "state", "seq", "t", "view", "in_flight_omitted", "room")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass
class Owned:
    """A room whose presenter's session lives in this process."""

    token: str
    code: str
    session: str  # the presenter's session token (never sent to followers)
    active: float  # wall time of the presenter's latest command
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))
    log_run: int = 0  # the run whose command log the store holds
    logged: int = 0  # entries of it written
    status: dict | None = None  # the last room-status sent to the presenter
    away: bool | None = None  # presenter away (said to the followers)
    touched: float = 0.0
    control: str = ""  # the control token's hash, to write the record again
    snapshot: dict | None = None  # the run's fields of the latest snapshot (for replicas)
    state: dict | None = None  # the room state the presenter published (written again too)
    poll: dict | None = None  # the room's poll (written again too; its answers are not)
    held: dict | None = None  # the followers' next batch: this frame's and the last ones'
    sent_at: float = 0.0  # when the followers were last sent a batch (the hub's clock)


@dataclass
class Heard:
    """A room's stream as this process heard it through the message queue (the presenter
    is elsewhere): the run, the last seq, the recent batches (a joining follower's
    catch-up between the record's seq and the stream)."""

    run: int | None
    seq: int | None
    at: float
    batches: deque = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))


@dataclass
class Follow:
    room: str
    who: str  # the follower's id (one answer per poll each)


class Replica:
    """The room's run rebuilt in this process from its record (another process holds the
    presenter's session)."""

    def __init__(self, run: int, config_dict: dict, scenario: str | None,
                 checkpoint_every: int) -> None:
        config, _log, _scenario = load_run(dump_run_dict(config_dict, scenario))
        self.run = run
        self.config_dict = config_dict
        self.sim = Simulation(config, keep_orders=KEEP_RECENT_ORDERS)
        self.history = History(self.sim, every=checkpoint_every)
        self.applied = 0  # command log entries applied

    def advance(self, entries: list[dict], head: int) -> None:
        """Apply the log and run the scheduler up to the head's seq, as
        ``Simulation.replay`` does. The record's log and seq are written together, so
        every entry was applied by the presenter at or before that seq."""
        sim = self.sim
        history = self.history
        for entry in entries[self.applied:]:
            while sim.steps < entry["step"] and sim.next_time() is not None:
                sim.step_raw()
                history.note(sim)
            if entry["t"] > sim.now:
                sim.now = entry["t"]
            sim.apply(entry["cmd"])
            self.applied += 1
            history.note(sim)
        while sim.seq < head and sim.next_time() is not None:
            sim.step_raw()
            history.note(sim)


def dump_run_dict(config_dict: dict, scenario: str | None, entries: list | None = None) -> dict:
    from engine.runfile import FORMAT, VERSION

    return {"format": FORMAT, "version": VERSION, "scenario": scenario,
            "config": config_dict, "command_log": entries or []}


class Rooms:
    """The rooms of one server process, hooked into its hub."""

    def __init__(self, hub, store=None, idle: float = 3 * 3600.0,
                 code_rate: float = 10.0, code_burst: float = 10.0) -> None:
        self.hub = hub
        self.sio = hub.sio
        self.store = store if store is not None else MemoryRoomStore()
        self.idle = float(idle)
        self.code_rate = code_rate / 60.0  # per second per address
        self.code_burst = code_burst
        self.host = secrets.token_hex(6)
        self.owned: dict[str, Owned] = {}
        self.by_session: dict[str, str] = {}
        self.follows: dict[str, Follow] = {}
        self.presenters: dict[str, str] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.replicas: dict[str, Replica] = {}
        self.reported: dict[str, int] = {}  # followers here per room, as last written
        self.lock = threading.Lock()  # the replicas (rebuilt outside the hub's lock)
        self.heard: dict[str, Heard] = {}  # rooms led elsewhere, as heard through Redis
        self.tap_lock = threading.Lock()  # hearing a room's message vs a follower joining
        self.publisher = Publisher(self.sio)  # broadcasts: here at once, Redis after
        self.writer = RecordWriter(self.store)  # records: off the frame path
        self.task = None
        self.stopped = False
        self.ended = 0
        # Rooms followed here whose leading process seems dead: [since, said to followers].
        self.orphans: dict[str, list] = {}
        self.follow_every = FOLLOW_EVERY
        self.missing: dict[str, float] = {}  # rooms followed here not in the store: since

    # ------------------------------------------------------------ wiring
    def install(self) -> None:
        hub = self.hub
        self.session_command = hub.dispatch["command"]
        self.session_ack = hub.dispatch["ack"]
        hub.dispatch.update({
            "command": self.on_command, "ack": self.on_ack,
            "room-start": self.on_start, "room-present": self.on_present,
            "room-end": self.on_end, "room-poll": self.on_poll, "room-reveal": self.on_reveal,
            "room-state": self.on_state, "room-code": self.on_code, "room-join": self.on_join,
            "room-answer": self.on_answer, "room-take": self.on_take,
        })
        hub.mirror = self.mirror
        hub.after_frame = self.release_due
        hub.gone.append(self.gone)
        if self.store.shared:
            self._tap()

    def _tap(self) -> None:
        """Hear every room broadcast that comes through the message queue from another
        process (``transport.tap_queue_emits``). A room's recent batches are kept, and
        hearing and delivering happen under ``tap_lock``, so a follower joining here gets
        its snapshot, the batches since the record's seq, then the stream: no gap."""

        def handle(message: dict, deliver) -> None:
            room = message.get("room")
            if not (isinstance(room, str) and room.startswith(FOLLOW)):
                deliver(message)
                return
            with self.tap_lock:
                self._hear(room[len(FOLLOW):], message)
                deliver(message)

        transport.tap_queue_emits(self.sio.server, handle)

    def _hear(self, token: str, message: dict) -> None:
        data = message.get("data")
        payload = data[0] if isinstance(data, list) and data else None
        if not isinstance(payload, dict):
            return
        event = message.get("event")
        heard = self.heard.get(token)
        now = time.time()
        if event == "snapshot":
            view = payload.get("view")
            live = not isinstance(view, dict) or view.get("live", True)
            self.heard[token] = Heard(payload.get("run"), payload.get("seq") if live else None,
                                      now)
        elif event == "events":
            if heard is None or heard.run != payload.get("run"):
                heard = self.heard[token] = Heard(payload.get("run"), None, now)
            heard.batches.append(payload)
            heard.seq, heard.at = payload.get("to_seq"), now

    def _heard_after(self, token: str, run: int, base: int) -> list:
        """The events after ``base`` heard here, if they continue from it (tap_lock held)."""
        heard = self.heard.get(token)
        if heard is None or heard.run != run or heard.seq is None or heard.seq <= base:
            return []
        events = [e for b in heard.batches if b.get("run") == run for e in b["events"]
                  if e["seq"] > base]
        return events if events and events[0]["seq"] == base + 1 else []

    def start(self) -> None:
        if self.task is None:
            self._beat()
            self.task = self.sio.start_background_task(self.run)
            if self.store.shared:
                self.sio.start_background_task(self.writer.run)
                self.sio.start_background_task(self.publisher.run)

    def run(self) -> None:
        while not self.stopped:
            self.sio.sleep(BEAT)
            try:
                self.upkeep()
            except Exception:  # pragma: no cover - e.g. Redis restarting: try again
                log.exception("room upkeep failed")

    def _beat(self) -> None:
        """This process is alive (the shared store's heartbeat key, HOST_TTL seconds)."""
        if self.store.shared:
            try:
                self.store.beat(self.host, HOST_TTL)
            except Exception:  # Redis away: the next beat tries again
                log.warning("heartbeat not written (message queue unavailable)")

    # ------------------------------------------------------------ helpers
    def _emit(self, event: str, payload: dict, to: str) -> None:
        self.publisher.emit(event, payload, to)

    def _charge(self, connection, now: float, what: str) -> None:
        """One attempt at a code (or an unknown room token) from this address."""
        key = address_key(connection.address)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(self.code_rate, self.code_burst, now)
        if not bucket.take(now):
            wait = (1.0 - bucket.tokens) / self.code_rate
            raise CommandError(what, None, (
                f"at most {self.code_burst:g} attempts at a room code from one address, then "
                f"one every {1 / self.code_rate:g} s: try again in {max(wait, 0.1):.0f} s"))

    def _meta(self, token: str, connection=None, now: float = 0.0) -> dict:
        meta = self.store.meta(token)
        if meta is None:
            if connection is not None:
                self._charge(connection, now, "room")
            raise CommandError("room", token, NOT_OPEN)
        return meta

    def _check_control(self, data: dict) -> dict:
        meta = self._meta(data["room"])
        if not hmac.compare_digest(digest(data["control"]), str(meta.get("control", ""))):
            raise CommandError("control", "(not shown)", "the control token of this room "
                                                       "(only its presenter's page has it)")
        return meta

    def _info(self, owned: Owned, meta: dict | None = None) -> dict:
        meta = meta if meta is not None else self.store.meta(owned.token) or {}
        return {"room": owned.token, "code": owned.code, "link": f"/room/{owned.token}",
                "qr": f"/room/{owned.token}/qr.svg", "idle": self.idle,
                "followers": self.store.followers(owned.token),
                "poll": self._public_poll(meta.get("poll")), "state": meta.get("state")}

    @staticmethod
    def _public_poll(poll: dict | None) -> dict | None:
        if not poll:
            return None
        shown = {k: poll[k] for k in ("id", "question", "choices", "revealed")}
        if poll.get("revealed"):
            shown["counts"] = poll.get("counts")
        return shown

    def _session(self, owned: Owned):
        return self.hub.store.sessions.get(owned.session)

    # ------------------------------------------------------------ the presenter
    def on_start(self, connection, payload: object, now: float) -> dict:
        validate_empty("room-start", payload)
        with self.hub.lock:
            session = self.hub._joined(connection)
            token = self.by_session.get(session.token)
            if token is not None:  # this session leads a room already: the same room
                owned = self.owned[token]
                self._present(connection, token)
        if token is not None:
            meta = self.store.meta(token)
            control_token = None
        else:  # the store is written outside the hub's lock (Redis may be slow)
            token = secrets.token_urlsafe(24)  # 192 bits
            control_token = secrets.token_urlsafe(24)
            meta = {"control": digest(control_token), "created": time.time(),
                    "owner": self.host, "poll": None, "state": None}
            for _ in range(20):
                code = new_code()
                if self.store.create(token, code, {**meta, "code": code}):
                    break
            else:
                raise CommandError("room", None, "a free code: too many rooms, try again")
            meta["code"] = code
            owned = Owned(token, code, session.token, time.time(), control=meta["control"])
            with self.hub.lock:
                if self.hub.store.session_of(connection) is not session \
                        or session.token in self.by_session:
                    self.writer.end(token)
                    raise CommandError("room", None, "one room per session: this socket's "
                                                     "session changed or started one meanwhile")
                self.owned[token] = owned
                self.by_session[session.token] = token
                self._record(owned, session, full=True)
                self._present(connection, token)
        info = self._info(owned, meta)
        if control_token is None:
            info["control"] = None  # the page that started it keeps it
            info["again"] = True
        else:
            info["control"] = control_token
        return info

    def _present(self, connection, token: str) -> None:
        self.presenters[connection.sid] = token
        self.hub._enter(connection.sid, PRESENT + token)

    def on_present(self, connection, payload: object, now: float) -> dict:
        data = control("room-present", payload)
        meta = self._check_control(data)
        with self.hub.lock:
            owned = self.owned.get(data["room"])
            self._present(connection, data["room"])
        if owned is None and self._orphaned(meta):
            owned = self._adopt(connection, data["room"], now)
            if owned is not None:
                return {**self._info(owned), "here": True, "adopted": True}
        if owned is None:
            return {"room": data["room"], "code": meta.get("code"),
                    "link": f"/room/{data['room']}", "qr": f"/room/{data['room']}/qr.svg",
                    "idle": self.idle, "followers": self.store.followers(data["room"]),
                    "poll": self._public_poll(meta.get("poll")), "state": meta.get("state"),
                    "here": False}
        return {**self._info(owned, meta), "here": True}

    def _orphaned(self, meta: dict) -> bool:
        """The room's presenter's process is gone: its heartbeat has expired."""
        owner = meta.get("owner")
        return (self.store.shared and owner != self.host and "config" in meta
                and not self.store.alive(str(owner)))

    def _adopt(self, connection, token: str, now: float) -> Owned | None:
        """The presenter came back to this process after its own died: the room's run is
        rebuilt here from the record (config + command log up to its seq; the engine is
        deterministic) and becomes the presenter's session's run, under the room's run
        number, with the record's pacing; this process leads the room from now on. The
        followers (everywhere) get the rebuilt run's snapshot; those that were on the dead
        process re-join with their last seq and resume. What the dead process made after
        its last record was written (a frame or so) is made again, the same, unless a
        command of the presenter's was lost with it. None: another process is taking the
        room over (or the record has no run yet)."""
        if not self.store.claim(token, self.host, CLAIM_TTL):
            return None
        record = self.store.read(token)
        if record is None:
            return None
        meta, entries = record
        if "run" not in meta or "config" not in meta or not self._orphaned(meta):
            return None
        seen = meta.get("snapshot") or {}
        replica = Replica(meta["run"], meta["config"], meta.get("scenario"),
                          self.hub.store.limits.checkpoint_every)
        replica.advance(entries, int(meta.get("seq", 0)))
        sim = replica.sim
        t = float(meta.get("t", sim.now))
        upcoming = sim.next_time()
        if t > sim.now and (upcoming is None or upcoming > t):
            sim.now = t  # the clock between two events, as the presenter's was
        with self.hub.lock:
            session = self.hub._joined(connection)
            if session.token in self.by_session or token in self.owned:
                raise CommandError("room", token, "one room per session: this session "
                                                  "leads another room")
            session.adopt(now, sim, replica.history, run=int(meta["run"]),
                          scenario=meta.get("scenario"),
                          use_script=bool(meta.get("use_script", seen.get("script", True))),
                          script_pos=int(meta.get("script_pos", 0)),
                          speed=float(meta.get("speed", 1.0)),
                          playing=bool(meta.get("playing", False)),
                          custom=bool(meta.get("custom", False)))
            owned = Owned(token, meta.get("code", ""), session.token, time.time(),
                          control=str(meta.get("control", "")), snapshot=dict(seen),
                          state=meta.get("state"), poll=meta.get("poll"))
            self.owned[token] = owned
            self.by_session[session.token] = token
            self.replicas.pop(token, None)
            self.orphans.pop(token, None)
            snapshot = session.snapshot()
            self.hub.emit("snapshot", snapshot, to=room_of(session.token))
            self.mirror(session.token, "snapshot", snapshot)  # followers; the record, owned
        with self.tap_lock:
            self.heard.pop(token, None)
        log.warning("room %s: taken over from process %s (its heartbeat expired)",
                    token[:6], str(meta.get("owner"))[:6])
        return owned

    def _adopt_waiting(self) -> None:
        """A presenter's page that reconnected here before its old process's heartbeat
        expired got ``here: false``: once the heartbeat is gone, this process takes the
        room over for that page and tells it (``room-adopted``)."""
        if not self.store.shared:
            return
        for sid, token in list(self.presenters.items()):
            if token in self.owned:
                continue
            meta = self.store.meta(token)
            connection = self.hub.connections.get(sid)
            if meta is None or connection is None or not self._orphaned(meta):
                continue
            try:
                owned = self._adopt(connection, token, self.hub.clock())
            except CommandError:  # the page has no session here (yet), or leads another
                continue
            if owned is not None:
                self.hub.emit("room-adopted", {**self._info(owned), "here": True,
                                               "adopted": True}, to=sid)

    def on_end(self, connection, payload: object, now: float) -> dict:
        data = control("room-end", payload)
        self._check_control(data)
        with self.hub.lock:
            self.end(data["room"], "ended")
        return {"room": data["room"], "ended": True}

    def end(self, token: str, reason: str) -> None:
        """End a room (the hub's lock is held): everyone in it hears, the record goes."""
        owned = self.owned.pop(token, None)
        if owned is not None:
            self.by_session.pop(owned.session, None)
        message = {"room": token, "reason": reason}
        self._emit("room-ended", message, FOLLOW + token)
        self._emit("room-ended", message, PRESENT + token)
        self.writer.end(token)  # after any record still waiting
        self.ended += 1

    def on_poll(self, connection, payload: object, now: float) -> dict:
        data = validate_poll(payload)
        meta = self._check_control(data)
        previous = meta.get("poll") or {}
        poll = {"id": int(previous.get("id", 0)) + 1, "question": data["question"],
                "choices": data["choices"], "revealed": False}
        self.store.update(data["room"], {"poll": poll})
        self._keep_poll(data["room"], poll)
        self._activity(data["room"])
        message = {"room": data["room"], "poll": self._public_poll(poll)}
        self._emit("room-poll", message, FOLLOW + data["room"])
        self._emit("room-poll", message, PRESENT + data["room"])
        return {"poll": self._public_poll(poll)}

    def on_reveal(self, connection, payload: object, now: float) -> dict:
        data = control("room-reveal", payload)
        meta = self._check_control(data)
        poll = meta.get("poll")
        if not poll:
            raise CommandError("poll", None, "an open poll: ask a question first (room-poll)")
        poll = {**poll, "revealed": True,
                "counts": self.store.tally(data["room"], poll["id"], len(poll["choices"]))}
        self.store.update(data["room"], {"poll": poll})
        self._keep_poll(data["room"], poll)
        message = {"room": data["room"], "poll": self._public_poll(poll)}
        self._emit("room-poll", message, FOLLOW + data["room"])
        self._emit("room-poll", message, PRESENT + data["room"])
        return {"poll": self._public_poll(poll)}

    def _keep_poll(self, token: str, poll: dict) -> None:
        """The presenter's process keeps the poll too: a store that lost its data (Redis
        restarted without it) gets it back with the record (``_restore``)."""
        owned = self.owned.get(token)
        if owned is not None:
            owned.poll = poll

    def on_state(self, connection, payload: object, now: float) -> dict:
        data = validate_state(payload)
        self._check_control(data)
        self.store.update(data["room"], {"state": data["state"]})
        owned = self.owned.get(data["room"])
        if owned is not None:
            owned.state = data["state"]
        self._emit("room-state", {"room": data["room"], "state": data["state"]},
                   FOLLOW + data["room"])
        return {"state": data["state"]}

    def _activity(self, token: str) -> None:
        owned = self.owned.get(token)
        if owned is not None:
            owned.active = time.time()

    # ------------------------------------------------------------ the followers
    def on_code(self, connection, payload: object, now: float) -> dict:
        self._charge(connection, now, "code")
        data = validate_code(payload)
        token = self.store.resolve(data["code"])
        if token is None or self.store.meta(token) is None:
            raise CommandError("code", data["code"], "the code of an open room: this code is "
                                                     "unknown, or its room has ended; check it "
                                                     "with the presenter")
        return {"room": token, "link": f"/room/{token}"}

    def on_join(self, connection, payload: object, now: float) -> dict:
        data = validate_room_join(payload)
        token = data["room"]
        if data["code"] is not None:
            self._charge(connection, now, "code")
            token = self.store.resolve(data["code"])
            if token is None:
                raise CommandError("code", data["code"], "the code of an open room: this code "
                                                         "is unknown, or its room has ended")
        meta = self._meta(token, connection, now)
        sid = connection.sid
        follower = Follow(token, data["follower"] or sid)
        with self.hub.lock:
            owned = self.owned.get(token)
            session = self._session(owned) if owned is not None else None
            self._leave_before_join(connection, now)
            if session is not None:  # one hold of the hub's lock: the stream goes on after
                self._release(owned)  # what is held goes to the others first: no overlap
                answer, messages = self._local_join(owned, session, data)
                self.follows[sid] = follower
                self._send_join(sid, token, messages)
        if session is None:
            answer, messages, base = self._replica_join(token, data)
            with self.hub.lock:
                self.follows[sid] = follower
            # The stream comes through Redis: what was heard since the record's seq, then
            # the stream itself (hearing waits meanwhile): no gap (docs/rooms.md).
            with self.tap_lock:
                if base is not None:
                    caught = self._heard_after(token, answer["run"], base)
                    if caught:
                        messages.append(("events", self._catch_up(token, caught)))
                self._send_join(sid, token, messages)
        return {"room": token, "code": meta.get("code"), "session": None,
                "fresh": False, **answer, "presets": self._presets(),
                "limits": self.hub.limits(), "poll": self._public_poll(meta.get("poll")),
                "state": meta.get("state"), "follower": data["follower"] or sid}

    def _leave_before_join(self, connection, now: float) -> None:
        """A joining socket leaves its session or the room it follows (even this one: a
        re-join after a gap gets the stream again from where it stands)."""
        sid = connection.sid
        before = self.hub.store.session_of(connection)
        if before is not None:  # a connection leads a session or follows a room
            self.hub.store.leave(connection, now)
            self.hub._leave(sid, room_of(before.token))
        old = self.follows.pop(sid, None)
        if old is not None:
            self.hub._leave(sid, FOLLOW + old.room)

    def _send_join(self, sid: str, token: str, messages: list) -> None:
        for event, message in messages:
            if event == "events":
                message["server_time"] = time.time()
            self.hub.emit(event, message, to=sid)
        self.hub._enter(sid, FOLLOW + token)

    def _catch_up(self, token: str, events: list) -> dict:
        """One batch of heard events, with the pacing of the latest batch heard."""
        latest = self.heard[token].batches[-1]
        return {**{k: v for k, v in latest.items() if k not in ("events", "server_time")},
                "from_seq": events[0]["seq"], "to_seq": events[-1]["seq"], "events": events}

    @staticmethod
    def _presets():
        from engine import describe_presets

        return describe_presets()

    def _follower_snapshot(self, owned: Owned, session) -> dict:
        """The presenter's snapshot, without touching the presenter's delivery state."""
        outbox, buffer = session.outbox, session.buffer
        kept = (session.sent, session.acked, session.floor)
        session.outbox, session.buffer = list(outbox), deque(buffer)
        try:
            snap = session.snapshot()
        finally:
            session.outbox, session.buffer = outbox, buffer
            session.sent, session.acked, session.floor = kept
        return {**snap, "session": None, "room": owned.token}

    def _local_join(self, owned: Owned, session, data: dict) -> tuple[dict, list]:
        last, run = data["last_seq"], data["run"]
        if session.view is None and last is not None and run == session.run \
                and last <= session.sent:
            events = self._recent_after(owned, session.run, last)
            if events is None and session.sent - last <= MAX_HISTORY_EVENTS:
                events = session.history.events(last + 1, session.sent) \
                    if last < session.sent else []
            if events is not None:
                messages = []
                if events:
                    messages.append(("events", session._batch(events)))
                messages.append(("clock", session.clock()))
                return {"resumed": True, "run": session.run}, messages
        return ({"resumed": False, "run": session.run},
                [("snapshot", self._follower_snapshot(owned, session))])

    @staticmethod
    def _recent_after(owned: Owned, run: int, last: int) -> list | None:
        """The events after ``last`` from the room's recent batches, or None if they do
        not reach back that far."""
        batches = [b for b in owned.recent if b["run"] == run]
        if not batches or batches[0]["from_seq"] > last + 1:
            return None
        return [e for b in batches for e in b["events"] if e["seq"] > last]

    def _replica_join(self, token: str, data: dict) -> tuple[dict, list, int | None]:
        """The room's run rebuilt here: a snapshot (or the missed events) up to the
        record's seq, and that seq (None: the presenter shows a moment in the past), from
        which the stream heard here goes on."""
        record = self.store.read(token)
        if record is None:
            raise CommandError("room", token, NOT_OPEN)
        meta, entries = record
        if "run" not in meta or "config" not in meta:
            raise CommandError("room", token, "a room whose presenter has started a run: "
                                              "try again in a moment")
        with self.lock:
            replica = self._replica(token, meta, entries)
            sim = replica.sim
            head = sim.seq
            view = meta.get("view")
            fields = {"run": meta["run"], "t": meta.get("t", sim.now),
                      "playing": meta.get("playing", False), "speed": meta.get("speed", 1.0),
                      "held_back": meta.get("held_back", False), "over": meta.get("over", False),
                      "live": view is None}
            last, run = data["last_seq"], data["run"]
            clock = ("clock", {**fields, "t": max(sim.now, fields["t"])})
            if view is None and last is not None and run == meta["run"] and last > head:
                # Ahead of the record (from another process): the stream heard goes on.
                return {"resumed": True, "run": meta["run"]}, [], last
            if view is None and last is not None and run == meta["run"] and last <= head \
                    and head - last <= MAX_HISTORY_EVENTS:
                events = replica.history.events(last + 1, head) if last < head else []
                messages = []
                if events:
                    messages.append(("events", {
                        "run": meta["run"], "from_seq": events[0]["seq"],
                        "to_seq": events[-1]["seq"], "t": sim.now,
                        "playing": fields["playing"], "speed": fields["speed"],
                        "held_back": fields["held_back"], "over": fields["over"],
                        "events": events}))
                messages.append(clock)
                return {"resumed": True, "run": meta["run"]}, messages, head
            shown = sim if view is None else replica.history.state_at(seq=view["seq"])
            if view is None and fields["t"] > sim.now:
                upcoming = sim.next_time()
                if upcoming is None or upcoming > fields["t"]:
                    sim.now = fields["t"]  # the clock between two events, as the presenter's
            snap = self._replica_snapshot(token, meta, replica, shown)
        return ({"resumed": False, "run": meta["run"]}, [("snapshot", snap)],
                head if view is None else None)

    def _replica(self, token: str, meta: dict, entries: list) -> Replica:
        replica = self.replicas.get(token)
        if replica is None or replica.run != meta["run"] \
                or replica.config_dict != meta["config"] or replica.applied > len(entries):
            replica = Replica(meta["run"], meta["config"], meta.get("scenario"),
                              self.hub.store.limits.checkpoint_every)
            self.replicas[token] = replica
        replica.advance(entries, int(meta.get("seq", 0)))
        return replica

    def _replica_snapshot(self, token: str, meta: dict, replica: Replica, shown) -> dict:
        limits = self.hub.store.limits
        state = shown.snapshot(max_orders=limits.snapshot_orders)
        wire = state["in_flight"]
        omitted = max(0, len(wire) - limits.snapshot_in_flight)
        if omitted:
            state["in_flight"] = wire[omitted:]
        head = replica.sim
        snap = dict(meta.get("snapshot") or {})
        snap.update({"run": meta["run"], "playing": meta.get("playing", False),
                     "speed": meta.get("speed", 1.0), "held_back": meta.get("held_back", False),
                     "over": meta.get("over", False), "custom": meta.get("custom", False),
                     "session": None, "room": token, "seq": shown.seq, "t": shown.now,
                     "in_flight_omitted": omitted, "window": limits.window,
                     "view": {"live": shown is head, "seq": shown.seq, "t": shown.now,
                              "head_seq": head.seq, "head_t": head.now},
                     "state": state})
        return snap

    def on_answer(self, connection, payload: object, now: float) -> dict:
        data = validate_answer(payload)
        follow = self.follows.get(connection.sid)
        if follow is None:
            raise CommandError("room", None, "a room you follow: join one first (room-join)")
        meta = self._meta(follow.room)
        poll = meta.get("poll")
        if not poll or poll.get("revealed"):
            raise CommandError("poll", None, "an open poll: answers close when the presenter "
                                             "reveals the counts")
        if data["choice"] >= len(poll["choices"]):
            raise CommandError("choice", data["choice"],
                               f"an integer from 0 to {len(poll['choices']) - 1}")
        self.store.answer(follow.room, poll["id"], follow.who, data["choice"])
        return {"poll": poll["id"], "choice": data["choice"]}

    def on_take(self, connection, payload: object, now: float) -> dict:
        """Take it from here: the room's run, at the moment shown, as a session of the
        follower's own (import, then fork). The room is not touched."""
        validate_empty("room-take", payload)
        follow = self.follows.get(connection.sid)
        if follow is None:
            raise CommandError("room", None, "a room you follow: join one first (room-join)")
        token = follow.room
        with self.hub.lock:
            owned = self.owned.get(token)
            session = self._session(owned) if owned is not None else None
            if session is not None:
                config, entries = session.sim.config, list(session.sim.command_log)
                scenario, speed = session.scenario, session.speed
                at = session.shown.seq
        if session is None:
            record = self.store.read(token)
            if record is None:
                raise CommandError("room", token, NOT_OPEN)
            meta, raw = record
            config, entries, scenario = load_run(dump_run_dict(meta["config"],
                                                               meta.get("scenario"), raw))
            speed = meta.get("speed", 1.0)
            view = meta.get("view")
            at = view["seq"] if view else int(meta.get("seq", 0))
        with self.hub.lock:
            joined = self.hub.store.join(connection, None, None, None, now,
                                         creator=address_key(connection.address))
            mine = joined.session
            mine.command({"cmd": "import", "config": config, "command_log": entries,
                          "scenario": scenario, "seq": at, "t": None}, now)
            answer, messages = mine.command({"cmd": "fork", "commands": []}, now)
            mine.speed = speed
            messages[-1][1]["speed"] = speed
            self.follows.pop(connection.sid, None)
            self.hub._leave(connection.sid, FOLLOW + token)
            self.hub._enter(connection.sid, room_of(mine.token))
            for event, message in messages:
                self.hub.emit(event, message, to=connection.sid)
        return {"session": mine.token, "run": mine.run, "resumed": False, "fresh": True,
                "forked_from": answer["forked_from"], "view": answer["view"],
                "presets": self._presets(), "limits": self.hub.limits()}

    # ------------------------------------------------------------ commands and acks
    def on_command(self, connection, payload: object, now: float) -> dict:
        follow = self.follows.get(connection.sid)
        if follow is None:
            result = self.session_command(connection, payload, now)
            with self.hub.lock:
                session = self.hub.store.session_of(connection)
                token = self.by_session.get(session.token) if session is not None else None
                if token is not None:
                    self._activity(token)
            return result
        command = validate_command(payload)
        if command["cmd"] == "history":
            return self._follower_history(follow.room, command, now)
        raise CommandError("room", command["cmd"], FOLLOWER_REFUSED)

    def _follower_history(self, token: str, command: dict, now: float) -> dict:
        with self.hub.lock:
            owned = self.owned.get(token)
            session = self._session(owned) if owned is not None else None
            if session is not None:
                return session.command(command, now)[0]
        record = self.store.read(token)
        if record is None:
            raise CommandError("room", token, NOT_OPEN)
        meta, entries = record
        with self.lock:
            replica = self._replica(token, meta, entries)
            head = replica.sim.seq
            first = max(1, command["from_seq"])
            last = min(first + MAX_HISTORY_EVENTS - 1, head,
                       command["to_seq"] if command["to_seq"] is not None else head)
            events = replica.history.events(first, last) if first <= last else []
            return {"run": meta["run"], "from_seq": first, "to_seq": max(first - 1, last),
                    "head_seq": head, "events": events}

    def on_ack(self, connection, payload: object, now: float) -> dict:
        if connection.sid in self.follows:
            data = validate_ack(payload)  # followers pace nothing: checked, then dropped
            return {"run": data["run"], "acked": data["seq"], "follower": True}
        return self.session_ack(connection, payload, now)

    # ------------------------------------------------------------ the stream
    def mirror(self, session_token: str, event: str, message: dict) -> None:
        """A message the hub sent the presenter's session (the hub's lock is held): the
        followers get it too, and the record follows the run. Batches are held and sent
        together (FOLLOW_EVERY); anything else goes out at once, after what is held."""
        token = self.by_session.get(session_token)
        if token is None:
            return
        owned = self.owned[token]
        if event == "snapshot":
            owned.held = None  # the snapshot holds those events
            owned.recent.clear()
            self.publisher.emit(event, {**message, "session": None, "room": token},
                                FOLLOW + token)
        elif event == "events":
            owned.recent.append(message)
            self._hold(owned, message)
        else:
            self._release(owned)
            self.publisher.emit(event, message, FOLLOW + token)
        if self.store.shared:
            session = self.hub.store.sessions.get(session_token)
            if session is not None:  # noted for the writer: nothing here waits for Redis
                self._record(owned, session, full=event == "snapshot", snapshot=message
                             if event == "snapshot" else None)

    def _hold(self, owned: Owned, batch: dict) -> None:
        """Add a batch to what the followers get next (one batch: the first's seq and
        ``server_time``, the last's pacing); send it if it is due."""
        held = owned.held
        if held is not None and held["run"] == batch["run"] \
                and batch["from_seq"] == held["to_seq"] + 1:
            held["events"].extend(batch["events"])
            held.update({k: v for k, v in batch.items()
                         if k not in ("events", "from_seq", "server_time")})
        else:
            self._release(owned)
            owned.held = {**batch, "events": list(batch["events"])}
        if self.hub.clock() - owned.sent_at >= self.follow_every:
            self._release(owned)

    def _release(self, owned: Owned) -> None:
        if owned.held is not None:
            held, owned.held = owned.held, None
            owned.sent_at = self.hub.clock()
            self.publisher.emit("events", held, FOLLOW + owned.token)

    def release_due(self, now: float) -> None:
        """End of a frame (the hub's lock held): held batches that are due go out."""
        for owned in self.owned.values():
            if owned.held is not None and now - owned.sent_at >= self.follow_every:
                self._release(owned)

    def _record(self, owned: Owned, session, full: bool = False,
                snapshot: dict | None = None) -> None:
        """Write what a process needs to rebuild the presenter's run (shared store)."""
        if not self.store.shared:
            return
        sim = session.sim
        fields = {"run": session.run, "seq": sim.seq, "t": sim.now,
                  "use_script": session.use_script, "script_pos": session.script_pos,
                  "playing": session.playing, "speed": session.speed, "over": session.over,
                  "held_back": session.held_back, "custom": session.custom,
                  "view": None if session.view is None else session.view_info(),
                  "owner": self.host, "beat": time.time()}
        entries = sim.command_log
        full = full or owned.log_run != session.run or len(entries) < owned.logged
        if full:
            fields.update({"scenario": session.scenario, "control": owned.control,
                           "code": owned.code,
                           "config": dump_run(sim.config, [], session.scenario)["config"]})
            if snapshot is not None:
                owned.snapshot = {k: v for k, v in snapshot.items() if k not in MOMENT_FIELDS}
            fields["snapshot"] = owned.snapshot
        self.writer.put(owned.token, fields, session.run, entries, full)
        owned.log_run = session.run
        owned.logged = len(entries)

    # ------------------------------------------------------------ upkeep
    def gone(self, connection) -> None:
        """A connection closed (the hub's lock is not held)."""
        self.follows.pop(connection.sid, None)
        self.presenters.pop(connection.sid, None)

    def local_followers(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for follow in list(self.follows.values()):
            counts[follow.room] = counts.get(follow.room, 0) + 1
        return counts

    def upkeep(self) -> None:
        """Once a second: end rooms whose presenter is gone or idle, write this process's
        follower counts, tell presenters how many follow (and how many answered)."""
        wall = time.time()
        self._beat()
        with self.hub.lock:
            for token, owned in list(self.owned.items()):
                session = self._session(owned)
                if session is None:
                    self.end(token, "presenter-gone")
                elif wall - owned.active > self.idle:
                    self.end(token, "idle")
            owned_now = {t: (o, self._session(o)) for t, o in self.owned.items()}
        with self.tap_lock:
            for token in [t for t, h in self.heard.items() if wall - h.at > 60]:
                del self.heard[token]
        counts = self.local_followers()
        for token in set(counts) | set(self.reported):
            n = counts.get(token, 0)
            if n or self.reported.get(token):
                self.store.set_followers(token, self.host, n)
            if n:
                self.reported[token] = n
            else:
                self.reported.pop(token, None)
        for token in [t for t in counts if t not in self.owned]:
            meta = self.store.meta(token)
            if meta is None:
                # Ended elsewhere (and its room-ended missed here), or Redis lost its data
                # and the presenter's process has not written the room back yet (within a
                # second or two): forget its followers only when it stays gone.
                since = self.missing.setdefault(token, wall)
                if wall - since < MISSING_FOR:
                    continue
                self.missing.pop(token, None)
                with self.hub.lock:
                    self.sio.emit("room-ended", {"room": token, "reason": "ended"},
                                  to=FOLLOW + token, ignore_queue=True)
                    for sid, follow in list(self.follows.items()):
                        if follow.room == token:
                            del self.follows[sid]
                            self.hub._leave(sid, FOLLOW + token)
                self.replicas.pop(token, None)
                continue
            self.missing.pop(token, None)
            if self._orphaned(meta):
                # The presenter's process died: nobody leads until the presenter's page
                # reconnects (to any process) and takes the room over. Said once, when the
                # heartbeat has stayed away for a moment (Redis restarted without its data
                # loses every heartbeat until the next beat).
                since = self.orphans.setdefault(token, [wall, False])
                if not since[1] and wall - since[0] >= BEAT * 2:
                    since[1] = True
                    self.sio.emit("room-presenter", {"room": token, "away": True},
                                  to=FOLLOW + token, ignore_queue=True)
            elif token in self.orphans:
                if self.orphans.pop(token)[1]:  # said away: the presenter's process is back
                    self.sio.emit("room-presenter", {"room": token, "away": False},
                                  to=FOLLOW + token, ignore_queue=True)
        self._adopt_waiting()
        for token, (owned, session) in owned_now.items():
            meta = self.store.meta(token)
            if meta is None or "config" not in meta or (
                    self.store.shared and self.store.resolve(owned.code) != token):
                meta = self._restore(owned, session, meta)
            poll = meta.get("poll")
            answered = sum(self.store.tally(token, poll["id"], len(poll["choices"]))) \
                if poll else 0
            status = {"room": token, "followers": self.store.followers(token),
                      "answered": answered}
            if status != owned.status:
                owned.status = status
                self._emit("room-status", status, PRESENT + token)
            away = session is None or session.attachment is None
            if away != owned.away:
                owned.away = away
                self._emit("room-presenter", {"room": token, "away": away}, FOLLOW + token)
            if self.store.shared and wall - owned.touched > 60:
                owned.touched = wall
                self.store.touch(token, self.idle)
                if session is not None:
                    with self.hub.lock:
                        self._record(owned, session)

    def _restore(self, owned: Owned, session, meta: dict | None) -> dict:
        """The record is gone (Redis restarted without its data): write it again from
        what this process holds, so followers elsewhere can (re)join. The poll goes on:
        asked again, the followers' pages answer again what they had answered."""
        fields = {"control": owned.control, "created": time.time(), "owner": self.host,
                  "poll": (meta or {}).get("poll") or owned.poll,
                  "state": (meta or {}).get("state") or owned.state, "code": owned.code}
        self.store.create(owned.token, owned.code, fields)
        self.store.update(owned.token, fields)
        if session is not None:
            with self.hub.lock:
                self._record(owned, session, full=True)
        poll = fields["poll"]
        if poll and not poll.get("revealed"):
            # Asked again: the followers' pages send the answer they gave once more
            # (room.js), so the counts lost with the store come back.
            self._emit("room-poll", {"room": owned.token, "poll": self._public_poll(poll)},
                       FOLLOW + owned.token)
        log.warning("room %s: record written again (the store had lost it)", owned.token[:6])
        return self.store.meta(owned.token) or fields

    def stats(self) -> dict:
        out = {"rooms": len(self.owned), "followers": len(self.follows),
               "rooms_ended": self.ended}
        if self.store.shared:
            out.update({"room_records_written": self.writer.writes,
                        "room_record_failures": self.writer.failures,
                        "room_broadcasts_published": self.publisher.published,
                        "room_broadcasts_dropped": self.publisher.dropped})
        return out


def join_link(token: str) -> str:
    """The join link of a room, for the host and scheme this request came by (a TLS proxy
    in front says https in X-Forwarded-Proto: docs/deployment.md)."""
    from flask import request

    scheme = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if scheme not in ("http", "https"):
        scheme = request.scheme
    return f"{scheme}://{request.host}/room/{token}"


def install(app, hub) -> Rooms:
    """Rooms for this app: the store (Redis when ``AMO_MESSAGE_QUEUE`` is set, else this
    process), the room events in the hub, the join page and its QR code."""
    from flask import jsonify

    from .roomstore import RedisRoomStore
    from .roomwire import ROOM_TOKEN

    config = app.config
    idle = float(config.get("AMO_ROOM_IDLE") or 3 * 3600.0)
    queue = config.get("AMO_MESSAGE_QUEUE")
    store = RedisRoomStore(queue, ttl=idle) if queue else MemoryRoomStore()
    rooms = Rooms(hub, store, idle=idle, code_rate=float(config.get("AMO_CODE_RATE") or 10.0),
                  code_burst=float(config.get("AMO_CODE_RATE") or 10.0))
    rooms.follow_every = float(config.get("AMO_FOLLOW_EVERY", FOLLOW_EVERY))
    rooms.install()
    hub.health_extra.append(lambda: {**rooms.stats(),
                                     "message_queue": "redis" if store.shared else None})
    app.extensions["amo_rooms"] = rooms

    def plain(text: str, status: int):
        return text + "\n", status, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/room/<token>")
    def room_page(token: str):
        """A follower's page: the page itself; it joins the room (a bad or ended room is
        said on the page, by the answer to room-join)."""
        return app.view_functions["index"]()

    @app.get("/room/<token>/qr.svg")
    def room_qr(token: str):
        """The join link as a QR code (segno), for the presenter to show."""
        import io

        import segno

        if not ROOM_TOKEN.fullmatch(token):
            return plain("404 not found: room: not a room token (22 to 64 of A-Z a-z 0-9 _ -)",
                         404)
        if store.meta(token) is None:
            return plain(f"404 not found: room: {NOT_OPEN}", 404)
        out = io.BytesIO()
        segno.make(join_link(token), error="m").save(
            out, kind="svg", scale=10, border=4, dark="#000", light="#fff",
            title="QR code of the join link")
        return out.getvalue(), 200, {"Content-Type": "image/svg+xml",
                                     "Cache-Control": "private, max-age=3600"}

    @app.get("/room/<token>/link")
    def room_link(token: str):
        if not ROOM_TOKEN.fullmatch(token) or store.meta(token) is None:
            return plain(f"404 not found: room: {NOT_OPEN}", 404)
        return jsonify({"room": token, "link": join_link(token)})

    if config.get("AMO_PACER", True):
        rooms.start()
    return rooms
