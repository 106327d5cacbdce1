"""Where rooms live (issue 13, docs/rooms.md): in this process (the default, nothing to run
besides app.py) or in Redis (``--message-queue redis://...``), where every server process
of a deployment finds them.

A room is a record of plain JSON fields (``meta``: the code, the control token's hash, the
presenter's run as far as a follower needs it: run number, config, seq, t, pacing, the
view, the poll, the page's room state), the presenter's command log of the current run
(``log``: from it and the config any process rebuilds the run, the engine being
deterministic), the answers to the open poll and the number of followers per process.
Two implementations with the same methods; the Redis one writes each change as one
transaction, so a reader never sees a log that does not match the seq beside it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque

log = logging.getLogger("amo")

PUBLISH_QUEUE = 300  # room broadcasts waiting for Redis (10 s of frames at 30 a second)
RETRY_AFTER = (0.25, 1.0)  # the record writer's pause after a failed write: first, at most


class MemoryRoomStore:
    """Rooms of one process (no other process can see them)."""

    shared = False

    def __init__(self) -> None:
        self.rooms: dict[str, dict] = {}
        self.codes: dict[str, str] = {}
        self.logs: dict[str, tuple[int, list]] = {}
        self.answers: dict[tuple[str, int], dict[str, int]] = {}
        self.counts: dict[str, dict[str, tuple[int, float]]] = {}

    def create(self, token: str, code: str, meta: dict) -> bool:
        if code in self.codes:
            return False
        self.codes[code] = token
        self.rooms[token] = dict(meta)
        return True

    def resolve(self, code: str) -> str | None:
        return self.codes.get(code)

    def meta(self, token: str) -> dict | None:
        found = self.rooms.get(token)
        return dict(found) if found is not None else None

    def update(self, token: str, fields: dict, log: tuple[int, list, bool] | None = None
               ) -> None:
        """Set ``fields``; ``log``: (run, entries, replace) replaces the log or appends."""
        room = self.rooms.get(token)
        if room is None:
            return
        room.update(fields)
        if log is not None:
            run, entries, replace = log
            if replace or token not in self.logs:
                self.logs[token] = (run, list(entries))
            else:
                self.logs[token][1].extend(entries)

    def read(self, token: str) -> tuple[dict, list] | None:
        """The room's meta and its command log, as one consistent picture."""
        room = self.meta(token)
        if room is None:
            return None
        return room, list(self.logs.get(token, (0, []))[1])

    def end(self, token: str) -> None:
        room = self.rooms.pop(token, None)
        if room is not None:
            self.codes.pop(room.get("code"), None)
        self.logs.pop(token, None)
        self.counts.pop(token, None)
        for key in [k for k in self.answers if k[0] == token]:
            del self.answers[key]

    def answer(self, token: str, poll: int, who: str, choice: int) -> None:
        self.answers.setdefault((token, poll), {})[who] = choice

    def tally(self, token: str, poll: int, choices: int) -> list[int]:
        counts = [0] * choices
        for choice in self.answers.get((token, poll), {}).values():
            if 0 <= choice < choices:
                counts[choice] += 1
        return counts

    def set_followers(self, token: str, host: str, n: int) -> None:
        self.counts.setdefault(token, {})[host] = (n, time.time())

    def followers(self, token: str, fresh: float = 10.0) -> int:
        now = time.time()
        return sum(n for n, at in self.counts.get(token, {}).values() if now - at <= fresh)

    def touch(self, token: str, ttl: float) -> None:
        pass

    def ping(self) -> bool:
        return True

    # A process's heartbeat, and the claim of a room whose presenter's process is gone
    # (rooms.py: a presenter reconnected elsewhere takes the room over). One process: the
    # owner of every room is this one, alive while anything can ask.
    def beat(self, host: str, ttl: float) -> None:
        pass

    def alive(self, host: str) -> bool:
        return True

    def claim(self, token: str, host: str, ttl: float) -> bool:
        return True


class RedisRoomStore(MemoryRoomStore):
    """Rooms in Redis, shared by every process that uses the same server (and ``prefix``).
    Keys expire ``ttl`` seconds after the presenter's process last touched them, so a
    deployment that dies leaves nothing behind for long."""

    shared = True

    def __init__(self, url: str, prefix: str = "amo:", ttl: float = 3 * 3600.0) -> None:
        import redis  # only when a message queue is configured

        self.r = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0,
                                      health_check_interval=10)
        self.prefix = prefix
        self.ttl = int(ttl)

    def _k(self, kind: str, token: str) -> str:
        return f"{self.prefix}{kind}:{token}"

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except Exception:
            return False

    def create(self, token: str, code: str, meta: dict) -> bool:
        if not self.r.set(self._k("code", code), token, nx=True, ex=self.ttl):
            return False
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(self._k("room", token), mapping={k: json.dumps(v) for k, v in meta.items()})
        pipe.expire(self._k("room", token), self.ttl)
        pipe.execute()
        return True

    def resolve(self, code: str) -> str | None:
        found = self.r.get(self._k("code", code))
        return found.decode() if found is not None else None

    def meta(self, token: str) -> dict | None:
        found = self.r.hgetall(self._k("room", token))
        if not found:
            return None
        return {k.decode(): json.loads(v) for k, v in found.items()}

    def update(self, token: str, fields: dict, log: tuple[int, list, bool] | None = None
               ) -> None:
        pipe = self.r.pipeline(transaction=True)
        key = self._k("room", token)
        if fields:
            pipe.hset(key, mapping={k: json.dumps(v) for k, v in fields.items()})
        if log is not None:
            run, entries, replace = log
            log_key = self._k("log", token)
            if replace:
                pipe.delete(log_key)
            if entries:
                pipe.rpush(log_key, *(json.dumps(e, separators=(",", ":")) for e in entries))
            pipe.expire(log_key, self.ttl)
        pipe.execute()

    def read(self, token: str) -> tuple[dict, list] | None:
        pipe = self.r.pipeline(transaction=True)
        pipe.hgetall(self._k("room", token))
        pipe.lrange(self._k("log", token), 0, -1)
        meta, log = pipe.execute()
        if not meta:
            return None
        return ({k.decode(): json.loads(v) for k, v in meta.items()},
                [json.loads(e) for e in log])

    def end(self, token: str) -> None:
        meta = self.meta(token)
        keys = [self._k("room", token), self._k("log", token), self._k("count", token)]
        if meta is not None:
            keys.append(self._k("code", meta.get("code", "")))
            poll = meta.get("poll") or {}
            if poll.get("id"):
                keys.append(self._k("poll", f"{token}:{poll['id']}"))
        self.r.delete(*keys)

    def answer(self, token: str, poll: int, who: str, choice: int) -> None:
        key = self._k("poll", f"{token}:{poll}")
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, who, choice)
        pipe.expire(key, self.ttl)
        pipe.execute()

    def tally(self, token: str, poll: int, choices: int) -> list[int]:
        counts = [0] * choices
        for value in self.r.hvals(self._k("poll", f"{token}:{poll}")):
            choice = int(value)
            if 0 <= choice < choices:
                counts[choice] += 1
        return counts

    def set_followers(self, token: str, host: str, n: int) -> None:
        key = self._k("count", token)
        pipe = self.r.pipeline(transaction=False)
        pipe.hset(key, host, f"{n}:{time.time():.3f}")
        pipe.expire(key, self.ttl)
        pipe.execute()

    def followers(self, token: str, fresh: float = 10.0) -> int:
        now = time.time()
        total = 0
        for value in self.r.hvals(self._k("count", token)):
            n, at = value.decode().split(":")
            if now - float(at) <= fresh:
                total += int(n)
        return total

    def beat(self, host: str, ttl: float) -> None:
        self.r.set(self._k("host", host), "1", ex=max(1, int(ttl)))

    def alive(self, host: str) -> bool:
        return bool(self.r.exists(self._k("host", host)))

    def claim(self, token: str, host: str, ttl: float) -> bool:
        """One process takes a room over at a time (the first to claim it, for ``ttl``)."""
        return bool(self.r.set(self._k("claim", token), host, nx=True, ex=max(1, int(ttl))))

    def touch(self, token: str, ttl: float) -> None:
        meta = self.r.hget(self._k("room", token), "code")
        pipe = self.r.pipeline(transaction=False)
        for key in (self._k("room", token), self._k("log", token), self._k("count", token)):
            pipe.expire(key, int(ttl))
        if meta is not None:
            pipe.expire(self._k("code", json.loads(meta)), int(ttl))
        pipe.execute()


class Publisher:
    """Room broadcasts (a room's followers, its presenter's sockets). This process's sockets
    get each message at once (``ignore_queue``); with a message queue a background task
    then hands it to the other processes through Redis, in order, so nothing on the frame
    path (the hub's lock) waits for Redis. A bounded FIFO: while Redis is away the oldest
    messages go first (the other processes' followers see a gap in seqs and re-join).

    ``_publish`` and the message's shape are python-socketio's ``PubSubManager.emit``
    (python-socketio 5.18: ``{"method": "emit", "event", "data": [payload], "binary",
    "namespace", "room", "skip_sid", "callback", "host_id"}``)."""

    def __init__(self, sio, limit: int = PUBLISH_QUEUE) -> None:
        self.sio = sio
        self.queue: deque = deque(maxlen=limit)
        self.wake = threading.Event()
        self.dropped = 0  # messages never handed to Redis (the queue was full)
        self.published = 0
        self.running = False
        self.stopped = False

    @property
    def manager(self):
        return self.sio.server.manager

    def shared(self) -> bool:
        return hasattr(self.manager, "_publish")

    def emit(self, event: str, payload: dict, to: str) -> None:
        self.sio.emit(event, payload, to=to, ignore_queue=True)
        if not self.shared():
            return
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append((event, payload, to))
        if self.running:
            self.wake.set()
        else:
            self.drain()

    def drain(self) -> None:
        manager = self.manager
        while self.queue:
            event, payload, to = self.queue.popleft()
            try:  # RedisManager tries twice and logs when it gives up
                manager._publish({"method": "emit", "event": event, "data": [payload],
                                  "binary": False, "namespace": "/", "room": to,
                                  "skip_sid": None, "callback": None,
                                  "host_id": manager.host_id})
                self.published += 1
            except Exception:  # pragma: no cover - a publish that raised: dropped
                self.dropped += 1
                log.warning("room broadcast not published (message queue unavailable)")

    def run(self) -> None:
        self.running = True
        while not self.stopped:
            self.wake.wait(1.0)
            self.wake.clear()
            self.drain()


class RecordWriter:
    """The rooms' records written to the shared store off the frame path. ``put`` (called
    with the hub's lock held, at every message a presenter is sent) only notes the latest
    record of a room, replacing one not written yet (coalesced); a background task writes
    it, the log's new entries with it (or the whole log after a failed write, a new run or
    ``full``). A failed write (Redis away) is tried again after a pause, merged with any
    newer record. Without the task (tests), ``put`` writes at once."""

    def __init__(self, store) -> None:
        self.store = store
        self.pending: dict[str, dict] = {}
        self.base: dict[str, dict] = {}  # the fields a full write carries (config, ...)
        self.written: dict[str, tuple] = {}  # token -> (run, log id, entries written)
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.running = False
        self.stopped = False
        self.writes = 0
        self.failures = 0

    def put(self, token: str, fields: dict, run: int, entries: list, full: bool) -> None:
        """The room's record now: ``fields``, and the command log ``entries`` of ``run``
        (the live list: its first ``len(entries)`` entries never change)."""
        with self.lock:
            if full:
                self.base[token] = {k: fields[k] for k in FULL_FIELDS if k in fields}
            record = {"fields": dict(fields), "run": run, "log": (entries, len(entries)),
                      "full": full}
            self._merge(token, record)
        self._kick()

    def end(self, token: str) -> None:
        with self.lock:
            self.pending[token] = {"end": True}
            self.base.pop(token, None)
        self._kick()

    def _merge(self, token: str, record: dict) -> None:
        """Fold ``record`` (older or newer) into the pending one (the lock is held)."""
        pending = self.pending.get(token)
        if pending is None:
            self.pending[token] = record
        elif not pending.get("end"):
            pending["fields"].update(record["fields"])
            pending["run"], pending["log"] = record["run"], record["log"]
            pending["full"] = pending["full"] or record["full"]

    def _kick(self) -> None:
        if self.running:
            self.wake.set()
        else:
            self.flush()

    def flush(self) -> bool:
        with self.lock:
            batch, self.pending = self.pending, {}
        ok = True
        for token, record in batch.items():
            try:
                self._write(token, record)
                self.writes += 1
            except Exception as error:  # Redis away: again later, the whole log with it
                ok = False
                self.failures += 1
                self.written.pop(token, None)
                log.warning("room %s: record not written (%s); trying again", token[:6],
                            type(error).__name__)
                if not record.get("end"):
                    with self.lock:
                        newer = self.pending.pop(token, None)
                        self.pending[token] = record
                        if newer is not None and newer.get("end"):
                            self.pending[token] = newer
                        elif newer is not None:
                            self._merge(token, newer)
                else:
                    with self.lock:
                        self.pending.setdefault(token, record)
        return ok

    def _write(self, token: str, record: dict) -> None:
        if record.get("end"):
            self.written.pop(token, None)
            self.store.end(token)
            return
        run = record["run"]
        entries, n = record["log"]
        done = self.written.get(token)
        fields = record["fields"]
        if record["full"] or done is None or done[:2] != (run, id(entries)) or done[2] > n:
            change = (run, entries[:n], True)
            fields = {**self.base.get(token, {}), **fields}
        elif n > done[2]:
            change = (run, entries[done[2]:n], False)
        else:
            change = None
        self.store.update(token, fields, change)
        self.written[token] = (run, id(entries), n)

    def run(self) -> None:
        self.running = True
        pause = RETRY_AFTER[0]
        while not self.stopped:
            self.wake.wait(1.0)
            self.wake.clear()
            if self.flush():
                pause = RETRY_AFTER[0]
            else:
                time.sleep(pause)
                pause = min(RETRY_AFTER[1], pause * 2)


# What a full record carries besides the moment's fields (RecordWriter.base).
FULL_FIELDS = ("config", "scenario", "snapshot")


def check_queue(url: str) -> str | None:
    """None if the Redis server at ``url`` answers PING, else why not (one line)."""
    try:
        import redis  # only when a queue is configured

        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as error:  # redis.ConnectionError, a bad URL, a refused AUTH
        return f"{type(error).__name__}: {error}".splitlines()[0]
    return None
