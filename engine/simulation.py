"""The delivery simulation of the seed's order/customer flow.

One ``Simulation`` owns virtual time, the sender (Order service), the receiver (Customer
service), the two legs, the failure points, the delivery semantics (at-most-once, or
retries with an at-least-once or a deduplicating receiver: docs/semantics.md) and the
judgement of every order. It is pure: no I/O, no wall clock, no threads. Given the same
config and command log it produces the same events, always.

Latencies and failure draws are keyed, not sequential: each (order, attempt) gets its
own uniform values from a hash of (seed, order, attempt) (``_draws``), so the first attempt
of an order meets the same fate under every semantics and a reply never shifts another
order's draws. Only the arrival stream (order gaps, sample values) is sequential.

Per-order data lives in compact columns (bytearray / array) indexed by order id, so a run
of a million orders stays small; event dicts are only built when ``trace`` is on.
"""

from __future__ import annotations

import hashlib
import pickle
import random
import struct
import zlib
from array import array
from heapq import heappop, heappush

from . import names as N
from .commands import normalize_command
from .config import Config, FailureSetting, backoff

# Scheduler actions.
_ORDER_ARRIVAL = 0
_REQUEST_ARRIVES = 1
_REQUEST_LOST = 2
_PROCESSED = 3
_REPLY_ARRIVES = 4
_REPLY_LOST = 5
_TIMEOUT = 6
_RESTART = 7
_SAMPLE_DUE = 8
_SAMPLE_ARRIVES = 9
_RETRY = 10
_SENDER_RESTART = 11

# Column codes.
_STATE_NAMES = N.ORDER_STATES
_SAW_NAMES = N.SENDER_SAW
_VERDICT_NAMES = N.VERDICTS
_KIND_NAMES = N.DIVERGENCE_KINDS
_S_NEW, _S_APPROVED, _S_CANCELLED = (_STATE_NAMES.index(n) for n in
                                      (N.NEW, N.APPROVED, N.CANCELLED))
_W_WAITING, _W_REPLY, _W_NO_REPLY = (_SAW_NAMES.index(n) for n in
                                     (N.WAITING, N.SAW_REPLY, N.SAW_NO_REPLY))
_V_IN_FLIGHT, _V_CONSISTENT, _V_DIVERGED = (_VERDICT_NAMES.index(n) for n in
                                            (N.IN_FLIGHT, N.CONSISTENT, N.DIVERGED))
_K_NONE, _K_RESERVED, _K_STUCK, _K_DOUBLE = (
    _KIND_NAMES.index(n) for n in (None, N.RESERVED_NOT_APPROVED, N.STUCK_NEW,
                                   N.DOUBLE_RESERVED))
# How bad a kind is: a divergence only ever gets worse (stuck, reserved, double).
_KIND_RANK = {_K_NONE: 0, _K_STUCK: 1, _K_RESERVED: 2, _K_DOUBLE: 3}

_P_REQUEST_LOST, _P_CRASH_BEFORE, _P_CRASH_AFTER, _P_REPLY_LOST, _P_SENDER_CRASH = (
    N.FAILURE_POINTS.index(p) for p in (N.REQUEST_LOST, N.CRASH_BEFORE, N.CRASH_AFTER,
                                        N.REPLY_LOST, N.SENDER_CRASH))
_MODE_NAMES = N.MODES  # off, next, on: the code of a mode is its index
_MODE_CODES = {name: code for code, name in enumerate(_MODE_NAMES)}

# What a checkpoint leaves out: given back to restore (config, command log), handed back
# already (events made), or bound to the object (the handlers).
_NOT_CHECKPOINTED = frozenset({"config", "command_log", "_out", "_handlers", "_hasher"})

# Keyed draws: 8 uniform 32-bit values per (order, attempt), the BLAKE2s digest of
# (order, attempt) keyed with the seed (docs/semantics.md, "Keyed random streams"). Where
# each value is used (a message's latency and loss at LATENCY and LATENCY + 1):
D_REQUEST_LATENCY = 0
D_REQUEST_LOST = 1
D_CRASH_BEFORE = 2
D_CRASH_AFTER = 3
D_REPLY_LATENCY = 4
D_REPLY_LOST = 5
D_SENDER_CRASH = 6
D_WHERE_LOST = 7  # where on its leg a lost message breaks (request or reply: never both)
_KEY = struct.Struct("<qI").pack
_UNPACK = struct.Struct("<8I").unpack
_INV32 = 1.0 / 4294967296.0
_TWO32 = 4294967296.0
_PERSON = b"amo-d1"

# When a queued order's call started (sync mode): not yet.
_NOT_STARTED = float("inf")

# Reply kinds carried in scheduler entries.
_REPLY_KINDS = (N.CREDIT_RESERVED, N.INSUFFICIENT_CREDIT)


def _seeded_hasher(seed: int):
    """BLAKE2s keyed with the seed: copied and fed (order, attempt) for each draw set."""
    return hashlib.blake2s(digest_size=32, key=seed.to_bytes(8, "little"), person=_PERSON)


def keyed_draws(seed: int):
    """``draws(key, attempt)``: the 8 keyed uniform values (integers 0..2^32-1) of an
    order's attempt (key = order id) or of a metric sample (key = -its number, attempt 0),
    exactly as the simulation draws them; ``D_*`` name where each is used. For models that
    must meet the same fates (bench/)."""
    hasher = _seeded_hasher(seed)

    def draws(key: int, attempt: int) -> tuple:
        h = hasher.copy()
        h.update(_KEY(key, attempt))
        return _UNPACK(h.digest())
    return draws


class Simulation:
    """A deterministic, incrementally advanced simulation of the order flow.

    ``trace=True`` keeps the events of each call so the caller can stream them;
    ``trace=False`` (report mode) keeps only counters and per-order columns.
    ``keep_orders=False`` also drops the columns of orders that can no longer change, so a
    streamed run's memory does not grow with the number of finished orders;
    ``keep_orders=N`` does so only for orders older than the most recent N.
    """

    def __init__(self, config: Config | None = None, trace: bool = True,
                 keep_orders: bool | int = True) -> None:
        self.config = config if config is not None else Config()
        self.trace = trace
        cfg = self.config
        self.now = 0.0
        self.seq = 0
        self.steps = 0
        self.command_log: list[dict] = []
        self._heap: list[tuple] = []
        self._tie = 0
        self._out: list[dict] = []

        # The arrival stream is sequential (orders and samples come in one order under
        # every semantics); everything else is drawn by key (``_draws``).
        self._rng_arrival = random.Random(f"{cfg.seed}/arrival")
        self._hasher = _seeded_hasher(cfg.seed)

        self._req_lat = cfg.request_latency
        self._timeout = cfg.reply_timeout
        self._rep_lat = cfg.reply_latency
        self._processing_time = cfg.processing_time
        self._mode = [_MODE_CODES[cfg.failures[p].mode] for p in N.FAILURE_POINTS]
        self._prob = [cfg.failures[p].probability for p in N.FAILURE_POINTS]
        # Whether a failure point can strike at all: skips the check on the hot path.
        # A message's keyed draw (0..2^32-1) below a point's threshold: the point strikes.
        self._thr = [p * _TWO32 for p in self._prob]

        # Delivery semantics (docs/semantics.md).
        self._retrying = cfg.semantics != N.AT_MOST_ONCE
        self._dedup = cfg.semantics == N.EXACTLY_ONCE
        self._max_attempts = cfg.attempts()
        self._durable = cfg.outbox == N.DURABLE

        # Customer service (receiver).
        self.credit_limit = cfg.credit_limit
        self.reserved = 0  # credit the customer has reserved, for all orders
        self.receiver_up = True
        self.restarts_at: float | None = None
        # msg id -> order id << 7 | attempt, in memory only (attempts <= 100 < 128)
        self._processing: dict[int, int] = {}

        # Order service (sender): per-order columns indexed by order id (index 0 unused).
        self._state = bytearray(1)
        self._saw = bytearray(1)
        self._verdict = bytearray(1)
        self._kind = bytearray(1)
        self._amount = array("q", [0])
        self._reserved = array("q", [0])
        self._div_seq = array("q", [-1])
        self._created = array("d", [0.0])
        # Retrying semantics only: per order, the attempt last sent, when it was sent (inf
        # while queued) and the receiver's record of its first reaction (0: none, 1 + the
        # reply's code: CreditReserved, InsufficientCredit), written with the state change.
        self._attempt = bytearray(1) if self._retrying else None
        self._last_sent = array("d", [0.0]) if self._retrying else None
        self._record = bytearray(1) if self._retrying else None
        # Orders below _base were dropped once final (keep_orders=False: streaming runs).
        self._base = 0
        self.keep_orders = keep_orders is True
        # keep_orders=N: drop final orders only beyond the most recent N.
        self._keep_recent = 0 if isinstance(keep_orders, bool) else int(keep_orders)
        self._horizon = max(cfg.reply_timeout, cfg.round_trip_max()) + 1.0
        # Synchronous call mode (config.call == "sync"): one call outstanding at a time.
        # _call is the order whose call is outstanding (0: none). Calls go in order id
        # order, one at a time, so the queue is always the orders after it: _call + 1 up
        # to the last order (empty when no call is outstanding). _started, per order, is
        # when its call started (inf while queued): what decides when an order's columns
        # may be dropped.
        self._sync = cfg.call == N.SYNC
        self._call = 0
        self._started = array("d", [0.0]) if self._sync else None
        self.approved_total = 0
        self.pending_reserved = 0  # reserved for orders whose reply may still come
        self.invariant_ok = True
        self.invariant_broken_seq: int | None = None

        # Order service (sender) up or crashed (the sender-crash failure point).
        self.sender_up = True
        self.sender_restarts_at: float | None = None
        self._backlog: list[tuple] = []  # its timers that came due while it was down
        self._deferred: list[int] = []  # amounts of orders that arrived while it was down
        self._lost_entries: set[int] = set()  # orders whose outbox entry a crash lost
        self._low_open = 1  # every order below this one is known not to be waiting

        # Counters.
        self.next_msg = 1
        self.messages_sent = 0
        self.messages_delivered = 0
        self.messages_lost = 0
        self.messages_forgotten = 0
        self.crashes = 0
        self.timeouts = 0
        self.replies_ignored = 0
        self.consistent = 0
        self.diverged = 0
        self.retries = 0
        self.duplicates_delivered = 0
        self.duplicates_suppressed = 0
        self.double_reserved = 0
        self.sender_crashes = 0
        self.outbox_lost = 0
        self.arrivals_left = cfg.orders
        self.samples_left = cfg.samples
        self.true_count = 0
        # Sums of sample values in thousandths (values have three decimals): exact, so the
        # aggregate does not depend on the order samples arrive in.
        self.true_sum = 0
        self.seen_count = 0
        self.seen_sum = 0

        # Messages on the wire (only tracked when tracing: snapshots need them).
        self._wire: dict[int, dict] = {}
        self._samples_on_wire: dict[int, float] = {}

        self._handlers = (
            self._on_order_arrival, self._on_request_arrives, self._on_request_lost,
            self._on_processed, self._on_reply_arrives, self._on_reply_lost,
            self._on_timeout, self._on_restart, self._on_sample_due, self._on_sample_arrives,
            self._on_retry, self._on_sender_restart,
        )
        if self.arrivals_left:
            self._schedule(self._rng_arrival.expovariate(1.0 / cfg.order_interval),
                           _ORDER_ARRIVAL)
        if self.samples_left:
            self._schedule(cfg.sample_interval, _SAMPLE_DUE)

    # ------------------------------------------------------------------ public API
    @property
    def orders(self) -> int:
        return self._base + len(self._state) - 1

    @property
    def idle(self) -> bool:
        """True when nothing is scheduled: the run has come to rest."""
        return not self._heap

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def next_wire_stop(self) -> float | None:
        """The earliest midpoint, after now, of a message on the wire: where a stepping
        viewer stops so each message is seen on its leg before it arrives (or is lost
        beyond its middle). None when nothing is on the wire (or not tracing)."""
        now = self.now
        stops = [mid for m in self._wire.values()
                 if (mid := (m["sent_at"] + m["arrives_at"]) / 2) > now]
        return min(stops) if stops else None

    def apply(self, command: dict) -> list[dict]:
        """Apply a command at the current virtual time and record it in the command log."""
        cmd = normalize_command(command)
        self.command_log.append({"t": self.now, "step": self.steps, "cmd": cmd})
        name = cmd["cmd"]
        if name == "create-order":
            self.create_order(cmd.get("amount", self.config.amount))
        elif name == "set-failure":
            self._set_failure(cmd["point"], cmd.get("mode"), cmd.get("probability"), "command")
        elif name == "set-credit-limit":
            self.credit_limit = cmd["credit_limit"]
            self._emit_state("credit-limit-changed", credit_limit=self.credit_limit,
                             reserved=self.reserved, available=self.credit_limit - self.reserved)
        return self._drain()

    def step(self) -> list[dict]:
        """Process scheduled work up to and including the next thing that makes an event."""
        while self._heap:
            before = self.seq
            self._process(heappop(self._heap))
            if self.seq != before:
                break
        return self._drain()

    def advance(self, to: float, max_events: int | None = None) -> list[dict]:
        """Process everything due at or before virtual time ``to``; the clock ends at ``to``.

        With ``max_events``, stop early once that many events are made: the clock then
        stays at the last processed moment, so a pacing caller can never be flooded.
        """
        heap = self._heap
        process = self._process
        if max_events is None:
            while heap and heap[0][0] <= to:
                process(heappop(heap))
        else:
            # One scheduler entry can make several events (a crash forgets many messages):
            # count events not yet returned too, and hand back at most max_events; the rest
            # wait in the buffer for the next call.
            start = self.seq - len(self._out)
            while heap and heap[0][0] <= to:
                if self.seq - start >= max_events:
                    return self._drain(max_events)
                process(heappop(heap))
            if len(self._out) > max_events:
                return self._drain(max_events)
        if to > self.now:
            self.now = to
        return self._drain()

    def run(self, sink=None, until: float | None = None) -> None:
        """Run to rest (or to ``until``). With ``sink``, each event is passed to it as made."""
        heap = self._heap
        process = self._process
        out = self._out
        limit = float("inf") if until is None else until
        if sink is None or not self.trace:
            # The hot loop of report mode: _process inlined, steps counted locally.
            handlers = self._handlers
            steps = 0
            while heap and heap[0][0] <= limit:
                entry = heappop(heap)
                steps += 1
                self.now = entry[0]
                handlers[entry[2]](entry)
            self.steps += steps
            out.clear()
        else:
            for event in out:  # left over from an advance() capped by max_events
                sink(event)
            out.clear()
            while heap and heap[0][0] <= limit:
                process(heappop(heap))
                if out:
                    for event in out:
                        sink(event)
                    out.clear()
        if until is not None and until > self.now:
            self.now = until

    @classmethod
    def replay(cls, config: Config, command_log: list[dict], until: float | None = None,
               trace: bool = True, until_seq: int | None = None
               ) -> tuple[Simulation, list[dict]]:
        """Rebuild a run from its config and command log; returns it and all its events.

        ``until`` stops at a virtual time; ``until_seq`` stops after the scheduler step that
        makes event ``until_seq`` (the events of one step share an instant), leaving out
        the commands given later.
        """
        sim = cls(config, trace=trace)
        events: list[dict] = []
        short = until_seq is not None

        def reached() -> bool:
            return short and sim.seq >= until_seq

        for entry in command_log:
            if until is not None and entry["t"] > until:
                break  # a command the run had not reached by ``until``
            while sim.steps < entry["step"] and sim._heap and not reached():
                events.extend(sim.step_raw())
            if reached():
                break
            if entry["t"] > sim.now:
                sim.now = entry["t"]
            events.extend(sim.apply(entry["cmd"]))
        if short:
            while sim._heap and not reached():
                events.extend(sim.step_raw())
        elif until is None:
            sim.run(sink=events.append)
        else:
            events.extend(sim.advance(until))
        return sim, events

    # ---- checkpoints (engine/history.py): the whole state as compact bytes, and back
    def checkpoint(self) -> bytes:
        """The state of the run as compact bytes: everything but the config, the command
        log (only its length is kept) and events made but not yet handed back. Taken
        between two calls, any time; ``restore`` rebuilds the run from it."""
        state = {key: value for key, value in self.__dict__.items()
                 if key not in _NOT_CHECKPOINTED}
        state["command_log"] = len(self.command_log)
        return zlib.compress(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), 1)

    @classmethod
    def restore(cls, config: Config, state: bytes, command_log: list[dict]) -> Simulation:
        """The run a ``checkpoint`` was taken of, with ``config`` (the run's) and its command
        log as of the checkpoint: the first entries of ``command_log`` (a full log may be
        given: the rest is left out)."""
        data = pickle.loads(zlib.decompress(state))
        sim = cls(config, trace=data["trace"])
        sim.__dict__.update(data)
        sim.command_log = list(command_log[:data["command_log"]])
        return sim

    def run_script(self, script: list[tuple[float, dict]], sink=None) -> None:
        """Run to rest, applying each ``(t, command)`` of ``script`` (a preset's) at its
        virtual time, passing every event to ``sink``."""
        for at, command in script:
            if at > self.now:
                self.run(sink=sink, until=at)
            events = self.apply(command)
            if sink is not None:
                for event in events:
                    sink(event)
        self.run(sink=sink)

    def step_raw(self) -> list[dict]:
        """Process exactly one scheduler entry (which may make no event)."""
        if self._heap:
            self._process(heappop(self._heap))
        return self._drain()

    # ----------------------------------------------------------------- commands
    def create_order(self, amount: int) -> int:
        """The sender creates an order in state new and sends OrderCreated. While the sender
        is down (sender-crash) the order waits and is created when it restarts: 0 then."""
        if not self.sender_up:
            self._deferred.append(amount)
            return 0
        order = self._base + len(self._state)
        if not self.keep_orders and not order & 4095:
            self._drop_final_orders()
        self._state.append(_S_NEW)
        self._saw.append(_W_WAITING)
        self._verdict.append(_V_IN_FLIGHT)
        self._kind.append(_K_NONE)
        self._amount.append(amount)
        self._reserved.append(0)
        self._div_seq.append(-1)
        self._created.append(self.now)
        if self._retrying:
            self._attempt.append(0)
            self._last_sent.append(_NOT_STARTED)
            self._record.append(0)
        if self._sync:
            self._started.append(_NOT_STARTED)
            self.seq += 1
            if self.trace:
                self._out.append({"seq": self.seq, "t": self.now, "type": "order-created",
                                  "order": order, "amount": amount, "state": N.NEW})
            if self._call:
                # The sender is blocked on a call: this order waits its turn.
                self._emit_state(N.CALL_QUEUED, order=order, waiting_for=self._call,
                                 queued=order - self._call)
            else:
                self._start_call(order)
            return order
        self.seq += 1
        if self.trace:
            self._out.append({"seq": self.seq, "t": self.now, "type": "order-created",
                              "order": order, "amount": amount, "state": N.NEW})
        self._send_request(order, 1)
        return order

    def _send_request(self, order: int, attempt: int) -> int:
        """The sender sends attempt ``attempt`` of ``order``'s OrderCreated and waits for a
        reply until its timeout; the sender-crash point may strike right after."""
        now = self.now
        msg = self.next_msg
        self.next_msg = msg + 1
        h = self._hasher.copy()  # the keyed draws of this attempt (_hasher_for, inlined)
        h.update(_KEY(order, attempt))
        draws = _UNPACK(h.digest())
        self._send(msg, order, N.REQUEST, N.ORDER_CREATED, _P_REQUEST_LOST, self._req_lat,
                   _REQUEST_ARRIVES, _REQUEST_LOST, 0, draws, D_REQUEST_LATENCY, attempt)
        self._tie += 1
        heappush(self._heap, (now + self._timeout, self._tie, _TIMEOUT, order, msg, attempt))
        if self._retrying:
            self._attempt[order - self._base] = attempt
            self._last_sent[order - self._base] = now
            if attempt > 1:
                self.retries += 1
        if ((self._mode[_P_SENDER_CRASH] and self._switched(_P_SENDER_CRASH))
                or draws[D_SENDER_CRASH] < self._thr[_P_SENDER_CRASH]):
            self._sender_crash(order, msg, attempt)
        return msg

    def _hasher_for(self, key: int, attempt: int) -> bytes:
        """The 32 bytes of keyed draws of (order or -sample, attempt)."""
        h = self._hasher.copy()
        h.update(_KEY(key, attempt))
        return h.digest()

    def _start_call(self, order: int) -> None:
        """Sync mode: the sender calls the receiver for ``order`` and blocks on it (through
        its retries, under a retrying semantics)."""
        now = self.now
        self._call = order
        self._started[order - self._base] = now
        self._emit_state(N.CALL_STARTED, order=order, msg=self.next_msg,
                         timeout_at=now + self._timeout, queued=self.orders - order)
        self._send_request(order, 1)

    def _call_returned(self, order: int) -> None:
        """Sync mode: the outstanding call returned (its reply, or its timeout): the sender
        is free, and calls for the next queued order, if any."""
        if order != self._call:
            return
        self._call = 0
        if order < self.orders:
            self._start_call(order + 1)

    def queued_calls(self) -> int:
        """Sync mode: how many orders wait for the sender to call (the orders after the
        outstanding one, oldest first)."""
        return self.orders - self._call if self._call else 0

    def _drop_final_orders(self) -> None:
        """Forget the columns of orders whose last OrderCreated was sent before the horizon
        and that nobody waits for any more: they cannot change. (Sync mode: whose call
        started before the horizon; queued orders are kept. Retrying semantics: whose
        last attempt was sent before it.) Everything of an order happens within the
        horizon of its last send but its timers, which check that the order is kept."""
        created = (self._last_sent if self._retrying
                   else self._started if self._sync else self._created)
        saw = self._saw
        cutoff = self.now - self._horizon
        n = 1
        while n < len(created) and created[n] < cutoff and saw[n] != _W_WAITING:
            n += 1
        n -= 1
        if self._keep_recent:
            n = min(n, len(created) - 1 - self._keep_recent)
        if n <= 0:
            return
        for column in (self._state, self._saw, self._verdict, self._kind, self._amount,
                       self._reserved, self._div_seq, self._created, self._started,
                       self._attempt, self._last_sent, self._record):
            if column is not None:
                del column[1:n + 1]
        self._base += n

    def _set_failure(self, point: str, mode: str | None, probability: float | None,
                     why: str) -> None:
        index = N.FAILURE_POINTS.index(point)
        if mode is not None:
            self._mode[index] = _MODE_CODES[mode]
        if probability is not None:
            self._prob[index] = probability
        self._thr[index] = self._prob[index] * _TWO32
        self._emit_state("failure-point-changed", point=point,
                         mode=_MODE_NAMES[self._mode[index]],
                         probability=self._prob[index], why=why)

    def failure_settings(self) -> dict[str, FailureSetting]:
        return {p: FailureSetting(_MODE_NAMES[self._mode[i]], self._prob[i])
                for i, p in enumerate(N.FAILURE_POINTS)}

    # ------------------------------------------------------------------ internals
    def _schedule(self, time: float, action: int, a: int = 0, b: int = 0) -> None:
        self._tie += 1
        heappush(self._heap, (time, self._tie, action, a, b))

    def _process(self, entry: tuple) -> None:
        self.steps += 1
        self.now = entry[0]
        self._handlers[entry[2]](entry)

    def _drain(self, limit: int | None = None) -> list[dict]:
        out = self._out
        if not out:
            return []
        if limit is not None and len(out) > limit:
            self._out = out[limit:]
            return out[:limit]
        self._out = []
        return out

    def _emit_state(self, kind: str, **fields) -> None:
        self.seq += 1
        if self.trace:
            event = {"seq": self.seq, "t": self.now, "type": kind}
            event.update(fields)
            self._out.append(event)

    # Does failure point P strike this message? On the hot paths, inlined as
    #     (self._mode[P] and self._switched(P)) or draw < self._thr[P]
    # where ``draw`` is the message's keyed value for P: a switch (on, next) strikes
    # whatever the draw; off, the probability decides.
    def _switched(self, point: int) -> bool:
        """A switched point strikes; a 'next' switch is used up by it."""
        if self._mode[point] == 1:
            self._mode[point] = 0
            self._emit_state("failure-point-changed", point=N.FAILURE_POINTS[point],
                             mode="off", probability=self._prob[point], why="used")
        return True

    def _send(self, msg: int, order: int, leg: str, kind: str, loss_point: int,
              latency: tuple[float, float], arrive_action: int, lost_action: int,
              extra: int, draws: tuple, at: int, attempt: int) -> None:
        """Put a message on a leg. ``draws[at]`` and ``draws[at + 1]`` are its keyed latency
        and loss values, ``draws[D_WHERE_LOST]`` where it breaks if lost."""
        now = self.now
        low, high = latency
        arrives = now + (low + (high - low) * draws[at] * _INV32 if high > low else low)
        self.messages_sent += 1
        self.seq += 1
        if self.trace:
            event = {"seq": self.seq, "t": now, "type": "message-sent", "msg": msg,
                     "order": order, "leg": leg, "kind": kind, "sent_at": now,
                     "arrives_at": arrives}
            wire = {"msg": msg, "order": order, "leg": leg, "kind": kind,
                    "sent_at": now, "arrives_at": arrives}
            if order:
                event["attempt"] = wire["attempt"] = attempt
            self._out.append(event)
            self._wire[msg] = wire
        self._tie += 1
        if ((self._mode[loss_point] and self._switched(loss_point))
                or draws[at + 1] < self._thr[loss_point]):
            # Lost somewhere along the leg: the browser breaks the token at that point.
            fraction = 0.25 + 0.5 * draws[D_WHERE_LOST] * _INV32
            heappush(self._heap, (now + (arrives - now) * fraction, self._tie, lost_action,
                                  msg, order * 4 + extra, draws, attempt))
        else:
            heappush(self._heap, (arrives, self._tie, arrive_action, msg, order * 4 + extra,
                                  draws, attempt))

    def _lose(self, msg: int, order: int, leg: str, kind: str, reason: str,
              point: str | None, at: float, attempt: int = 0) -> int:
        self.messages_lost += 1
        self.seq += 1
        if self.trace:
            wire = self._wire.pop(msg, None)
            event = {"seq": self.seq, "t": self.now, "type": "message-lost", "msg": msg,
                     "order": order, "leg": leg, "kind": kind, "reason": reason,
                     "point": point, "at": at}
            if order:
                event["attempt"] = attempt
            if wire is not None:
                event["sent_at"] = wire["sent_at"]
                event["arrives_at"] = wire["arrives_at"]
            self._out.append(event)
        return self.seq

    def _forget(self, msg: int, order: int, kind: str, point: str, attempt: int = 0) -> int:
        """A delivered message dies with the receiver's memory in a crash."""
        self.messages_forgotten += 1
        self.seq += 1
        if self.trace:
            event = {"seq": self.seq, "t": self.now, "type": "message-forgotten",
                     "msg": msg, "order": order, "leg": N.REQUEST, "kind": kind,
                     "point": point}
            if order:
                event["attempt"] = attempt
            self._out.append(event)
        return self.seq

    def _deliver(self, msg: int, order: int, leg: str, kind: str, attempt: int = 0) -> None:
        self.messages_delivered += 1
        self.seq += 1
        if self.trace:
            self._wire.pop(msg, None)
            event = {"seq": self.seq, "t": self.now, "type": "message-delivered",
                     "msg": msg, "order": order, "leg": leg, "kind": kind}
            if order:
                event["attempt"] = attempt
            self._out.append(event)

    # ---- the request leg and the receiver
    def _on_order_arrival(self, entry: tuple) -> None:
        self.arrivals_left -= 1
        self.create_order(self.config.amount)
        if self.arrivals_left:
            self._schedule(self.now + self._rng_arrival.expovariate(
                1.0 / self.config.order_interval), _ORDER_ARRIVAL)

    def _on_request_lost(self, entry: tuple) -> None:
        msg, order = entry[3], entry[4] >> 2
        if order == 0:
            self._lose(msg, 0, N.REQUEST, N.METRIC_SAMPLE, N.REQUEST_LOST, N.REQUEST_LOST,
                       self._fraction(msg))
            return
        seq = self._lose(msg, order, N.REQUEST, N.ORDER_CREATED, N.REQUEST_LOST,
                         N.REQUEST_LOST, self._fraction(msg), entry[6])
        if not self._retrying:
            self._doom(order, seq)

    def _fraction(self, msg: int) -> float:
        wire = self._wire.get(msg)
        if wire is None:
            return 0.5
        span = wire["arrives_at"] - wire["sent_at"]
        return (self.now - wire["sent_at"]) / span if span > 0 else 1.0

    def _on_request_arrives(self, entry: tuple) -> None:
        msg, order, draws, attempt = entry[3], entry[4] >> 2, entry[5], entry[6]
        if not self.receiver_up:
            seq = self._lose(msg, order, N.REQUEST, N.ORDER_CREATED, N.RECEIVER_DOWN, None, 1.0,
                             attempt)
            if not self._retrying:
                self._doom(order, seq)
            return
        self._deliver(msg, order, N.REQUEST, N.ORDER_CREATED, attempt)
        if ((self._mode[_P_CRASH_BEFORE] and self._switched(_P_CRASH_BEFORE))
                or draws[D_CRASH_BEFORE] < self._thr[_P_CRASH_BEFORE]):
            seq = self._crash(N.CRASH_BEFORE, msg, order, N.ORDER_CREATED, attempt)
            if not self._retrying:
                self._doom(order, seq)
            return
        self._processing[msg] = order << 7 | attempt
        done = self.now + self._processing_time
        self.seq += 1
        if self.trace:
            self._out.append({"seq": self.seq, "t": self.now, "type": "processing-started",
                              "msg": msg, "order": order, "attempt": attempt, "done_at": done})
        self._tie += 1
        heappush(self._heap, (done, self._tie, _PROCESSED, msg, order * 4, draws, attempt))

    def _on_processed(self, entry: tuple) -> None:
        msg = entry[3]
        if self._processing.pop(msg, None) is None:
            return  # forgotten by a crash while it was being processed
        order, draws, attempt = entry[4] >> 2, entry[5], entry[6]
        if self._retrying:
            i = order - self._base
            if self._record[i]:
                reply = self._duplicate(msg, order, attempt)
            else:
                reply = self._react(msg, order, attempt)
                # The idempotency record, written with the state change (both durable).
                self._record[i] = reply + 1
        else:
            reply = self._react(msg, order, attempt)
        if ((self._mode[_P_CRASH_AFTER] and self._switched(_P_CRASH_AFTER))
                or draws[D_CRASH_AFTER] < self._thr[_P_CRASH_AFTER]):
            seq = self._crash(N.CRASH_AFTER, msg, order, N.ORDER_CREATED, attempt)
            if not self._retrying:
                self._doom(order, seq)
            return
        reply_msg = self.next_msg
        self.next_msg = reply_msg + 1
        self._send(reply_msg, order, N.REPLY, _REPLY_KINDS[reply], _P_REPLY_LOST,
                   self._rep_lat, _REPLY_ARRIVES, _REPLY_LOST, reply, draws, D_REPLY_LATENCY,
                   attempt)

    def _duplicate(self, msg: int, order: int, attempt: int) -> int:
        """OrderCreated again for an order the receiver already reacted to (its record says
        so): exactly-once answers from the record and changes nothing; at-least-once, not
        idempotent, reacts again."""
        i = order - self._base
        times = self._reserved[i] // self._amount[i]
        if self._dedup:
            reply = self._record[i] - 1
            self.duplicates_suppressed += 1
            self._emit_state(N.DUPLICATE_SUPPRESSED, msg=msg, order=order, attempt=attempt,
                             reply=_REPLY_KINDS[reply], times_reserved=times)
            return reply
        self.duplicates_delivered += 1
        self._emit_state(N.DUPLICATE_DELIVERED, msg=msg, order=order, attempt=attempt,
                         times_reserved=times)
        return self._react(msg, order, attempt)

    def _react(self, msg: int, order: int, attempt: int) -> int:
        """The receiver's reaction to OrderCreated: reserve the amount if the available
        credit covers it (0: CreditReserved), else refuse (1: InsufficientCredit)."""
        i = order - self._base
        amount = self._amount[i]
        available = self.credit_limit - self.reserved
        if available < amount:
            self.seq += 1
            if self.trace:
                self._out.append({"seq": self.seq, "t": self.now, "type": "credit-refused",
                                  "msg": msg, "order": order, "attempt": attempt,
                                  "amount": amount, "credit_limit": self.credit_limit,
                                  "reserved": self.reserved, "available": available})
            return 1
        # The reaction: a durable state change at the Customer service.
        self.reserved += amount
        reserved = self._reserved[i] + amount
        self._reserved[i] = reserved
        verdict = self._verdict[i]
        if verdict == _V_IN_FLIGHT:
            self.pending_reserved += amount
        self.seq += 1
        if self.trace:
            self._out.append({"seq": self.seq, "t": self.now, "type": "credit-reserved",
                              "msg": msg, "order": order, "attempt": attempt,
                              "amount": amount, "credit_limit": self.credit_limit,
                              "reserved": self.reserved,
                              "available": self.credit_limit - self.reserved})
        if reserved > amount:
            # Reserved again for the same order: it can never be consistent now.
            if reserved == 2 * amount:
                self.double_reserved += 1
            self._doom(order, self.seq, _K_DOUBLE)
        elif verdict == _V_DIVERGED:
            # The sender already gave up: this reservation will never be approved.
            self._set_kind(order, _K_RESERVED, self.seq)
            self._check_invariant(order)
        elif verdict == _V_CONSISTENT:
            # Cancelled by an earlier reply, and now credit is reserved for it.
            self._doom(order, self.seq, _K_RESERVED)
        return 0

    def _crash(self, point: str, msg: int, order: int, kind: str = N.ORDER_CREATED,
               attempt: int = 0) -> int:
        """The receiver crashes: in-memory work is gone; it restarts after a downtime."""
        self.crashes += 1
        self.receiver_up = False
        restart = self.now + self.config.restart_after
        self.restarts_at = restart
        self.seq += 1
        crash_seq = self.seq
        if self.trace:
            event = {"seq": self.seq, "t": self.now, "type": "receiver-crashed",
                     "point": point, "msg": msg, "order": order, "restarts_at": restart}
            if order:
                event["attempt"] = attempt
            self._out.append(event)
        if point == N.CRASH_BEFORE:
            self._forget(msg, order, kind, point, attempt)
        forgotten = sorted(self._processing.items())
        self._processing.clear()
        for other_msg, code in forgotten:
            other = code >> 7
            seq = self._forget(other_msg, other, N.ORDER_CREATED, point, code & 127)
            if not self._retrying:
                self._doom(other, seq)
        self._schedule(restart, _RESTART)
        return crash_seq

    def _on_restart(self, entry: tuple) -> None:
        self.receiver_up = True
        self.restarts_at = None
        self._emit_state("receiver-restarted", reserved=self.reserved,
                         available=self.credit_limit - self.reserved)

    # ---- the reply leg and the sender
    def _on_reply_lost(self, entry: tuple) -> None:
        msg, order, reply = entry[3], entry[4] >> 2, entry[4] & 3
        seq = self._lose(msg, order, N.REPLY, _REPLY_KINDS[reply], N.REPLY_LOST, N.REPLY_LOST,
                         self._fraction(msg), entry[6])
        if not self._retrying:
            self._doom(order, seq)

    def _on_reply_arrives(self, entry: tuple) -> None:
        msg, order, reply, attempt = entry[3], entry[4] >> 2, entry[4] & 3, entry[6]
        if not self.sender_up:
            seq = self._lose(msg, order, N.REPLY, _REPLY_KINDS[reply], N.SENDER_DOWN, None,
                             1.0, attempt)
            if not self._retrying:
                self._doom(order, seq)
            return
        self._deliver(msg, order, N.REPLY, _REPLY_KINDS[reply], attempt)
        i = order - self._base
        saw = self._saw[i]
        if saw != _W_WAITING:
            # Nobody waits for this reply: the sender gave up at its (last) timeout, an
            # earlier reply decided the order, or a crash lost the outbox entry.
            self.replies_ignored += 1
            reason = (N.ALREADY_ANSWERED if saw == _W_REPLY
                      else N.OUTBOX_LOST if order in self._lost_entries else N.AFTER_TIMEOUT)
            self._emit_state("reply-ignored", msg=msg, order=order, reason=reason,
                             attempt=attempt)
            return
        self._saw[i] = _W_REPLY
        amount = self._amount[i]
        verdict = self._verdict[i]
        if reply == 0:
            self._state[i] = _S_APPROVED
            self.approved_total += amount
            if verdict == _V_IN_FLIGHT:
                self.pending_reserved -= amount
            new = N.APPROVED
        else:
            self._state[i] = _S_CANCELLED
            new = N.CANCELLED
        self.seq += 1
        if self.trace:
            self._out.append({"seq": self.seq, "t": self.now, "type": "order-state-changed",
                              "order": order, "from": N.NEW, "to": new, "msg": msg,
                              "attempt": attempt, "approved_total": self.approved_total})
        if verdict == _V_IN_FLIGHT:
            if reply == 1 and self._reserved[i]:
                # Cancelled, but an earlier attempt had reserved credit (at-least-once).
                self._doom(order, self.seq)
            else:
                self._verdict[i] = _V_CONSISTENT
                self.consistent += 1
                self._emit_state("order-consistent", order=order, state=new,
                                 credit_reserved=self._reserved[i])
        elif reply == 0:
            # Approved after it diverged (credit reserved twice): one amount is backed now.
            self._check_invariant(order)
        if self._sync:
            self._call_returned(order)

    def _on_timeout(self, entry: tuple) -> None:
        order, attempt = entry[3], entry[5]
        if order <= self._base or self._saw[order - self._base] != _W_WAITING:
            return
        if self._retrying and attempt != self._attempt[order - self._base]:
            return  # a later attempt was sent since
        if not self.sender_up:
            self._backlog.append(entry)  # durable outbox: handled when the sender is back
            return
        if attempt < self._max_attempts:
            # Retrying semantics: no reply yet, so send the same order again after a backoff.
            wait = backoff(self._timeout, attempt)
            self._emit_state(N.RETRY_SCHEDULED, order=order, msg=entry[4],
                             attempt=attempt + 1, due_at=self.now + wait, backoff=wait)
            self._schedule(self.now + wait, _RETRY, order, attempt + 1)
            return
        self._saw[order - self._base] = _W_NO_REPLY
        self.timeouts += 1
        self.seq += 1
        if self.trace:
            self._out.append({"seq": self.seq, "t": self.now, "type": "sender-timeout",
                              "order": order, "msg": entry[4], "state": N.NEW,
                              "outcome": "unknown", "attempts": attempt})
        if self._verdict[order - self._base] == _V_IN_FLIGHT:
            # Nothing failed yet (or nothing the sender can repair now), but it stopped
            # waiting: any reply is now too late.
            self._doom(order, self.seq)
        if self._sync:
            self._call_returned(order)

    def _on_retry(self, entry: tuple) -> None:
        order, attempt = entry[3], entry[4]
        if order <= self._base or self._saw[order - self._base] != _W_WAITING:
            return  # answered during the backoff, or the entry was lost in a crash
        if not self.sender_up:
            self._backlog.append(entry)
            return
        self._send_request(order, attempt)

    # ---- the sender crash
    def _sender_crash(self, order: int, msg: int, attempt: int) -> None:
        """The Order service crashes right after sending ``msg``; it restarts after
        ``restart_after``. With an in-memory outbox every order it was waiting for is
        forgotten (its retries with it); a durable outbox keeps them."""
        self.sender_crashes += 1
        self.sender_up = False
        restart = self.now + self.config.restart_after
        self.sender_restarts_at = restart
        self._emit_state(N.SENDER_CRASHED, point=N.SENDER_CRASH, order=order, msg=msg,
                         attempt=attempt, restarts_at=restart, outbox=self.config.outbox)
        if not self._durable:
            if self._sync:
                lost = [self._call] if self._call else []
            else:
                start = max(self._low_open, self._base + 1)
                saw = self._saw
                base = self._base
                lost = [o for o in range(start, self.orders + 1) if saw[o - base] == _W_WAITING]
                self._low_open = self.orders + 1
            for other in lost:
                i = other - self._base
                self._saw[i] = _W_NO_REPLY
                self._lost_entries.add(other)
                self.outbox_lost += 1
                self.seq += 1
                if self.trace:
                    self._out.append({"seq": self.seq, "t": self.now, "type": N.OUTBOX_LOST,
                                      "order": other, "attempt": self._attempts_of(other),
                                      "state": _STATE_NAMES[self._state[i]]})
                self._doom(other, self.seq)
        self._schedule(restart, _SENDER_RESTART)

    def _on_sender_restart(self, entry: tuple) -> None:
        self.sender_up = True
        self.sender_restarts_at = None
        self._emit_state(N.SENDER_RESTARTED, outbox=self.config.outbox,
                         pending=len(self._backlog), deferred_orders=len(self._deferred))
        if self._sync and self._call and self._saw[self._call - self._base] != _W_WAITING:
            self._call_returned(self._call)  # the outstanding call was lost in the crash
        backlog, self._backlog = self._backlog, []
        for timer in backlog:
            self._handlers[timer[2]](timer)
        deferred, self._deferred = self._deferred, []
        for amount in deferred:
            self.create_order(amount)

    # ---- judgement
    def _doom(self, order: int, seq: int, kind: int | None = None) -> None:
        """The order can no longer reach a consistent end: it has diverged. (A consistent
        order diverges only when its credit is reserved again: at-least-once.)"""
        i = order - self._base
        verdict = self._verdict[i]
        if verdict == _V_DIVERGED:
            if kind is not None:
                self._set_kind(order, kind, seq)
                self._check_invariant(order)
            return
        reserved = self._reserved[i]
        if verdict == _V_IN_FLIGHT:
            if reserved:
                self.pending_reserved -= reserved
        else:
            self.consistent -= 1
        self._verdict[i] = _V_DIVERGED
        self.diverged += 1
        self._div_seq[i] = seq
        self._set_kind(order, kind if kind is not None else _K_RESERVED if reserved
                       else _K_STUCK, seq)
        if reserved:
            self._check_invariant(order)

    def _set_kind(self, order: int, kind: int, diverged_at_seq: int) -> None:
        current = self._kind[order - self._base]
        if current == kind or _KIND_RANK[kind] < _KIND_RANK[current]:
            return
        self._kind[order - self._base] = kind
        name = _KIND_NAMES[kind]
        self.seq += 1
        if self.trace:
            self._out.append({"seq": self.seq, "t": self.now, "type": "order-diverged",
                              "order": order, "divergence": name,
                              "reason": N.DIVERGENCE_TEXT[name],
                              "diverged_at_seq": self._div_seq[order - self._base],
                              "state": _STATE_NAMES[self._state[order - self._base]],
                              "credit_reserved": self._reserved[order - self._base],
                              "unbacked": self.reserved - self.approved_total
                              - self.pending_reserved})

    def _check_invariant(self, order: int) -> None:
        """Credit reserved = approved orders' amounts + credit reserved for orders in flight."""
        ok = self.reserved == self.approved_total + self.pending_reserved
        if ok == self.invariant_ok:
            return
        self.invariant_ok = ok
        if not ok and self.invariant_broken_seq is None:
            self.invariant_broken_seq = self.seq + 1
        self._emit_state("invariant-broken" if not ok else "invariant-restored",
                         order=order, reserved=self.reserved, approved_total=self.approved_total,
                         pending=self.pending_reserved,
                         unbacked=self.reserved - self.approved_total - self.pending_reserved)

    # ---- the metrics stream (the seed's harmless case)
    def _on_sample_due(self, entry: tuple) -> None:
        self.samples_left -= 1
        mean = self.config.sample_mean
        value = round(self._rng_arrival.gauss(mean, mean * 0.1), 3)
        self.true_count += 1
        self.true_sum += round(value * 1000)
        msg = self.next_msg
        self.next_msg = msg + 1
        self._samples_on_wire[msg] = value
        # A sample's keyed draws: key -(its number), so never an order's.
        draws = _UNPACK(self._hasher_for(-self.true_count, 0))
        self._send(msg, 0, N.REQUEST, N.METRIC_SAMPLE, _P_REQUEST_LOST, self._req_lat,
                   _SAMPLE_ARRIVES, _REQUEST_LOST, 0, draws, D_REQUEST_LATENCY, 0)
        if self.trace:
            self._out[-1]["value"] = value
        if self.samples_left:
            # From the count, not by adding up: sample times stay exact multiples.
            self._schedule((self.true_count + 1) * self.config.sample_interval, _SAMPLE_DUE)

    def _on_sample_arrives(self, entry: tuple) -> None:
        msg, draws = entry[3], entry[5]
        value = self._samples_on_wire.pop(msg)
        if not self.receiver_up:
            self._lose(msg, 0, N.REQUEST, N.METRIC_SAMPLE, N.RECEIVER_DOWN, None, 1.0)
            return
        self._deliver(msg, 0, N.REQUEST, N.METRIC_SAMPLE)
        if ((self._mode[_P_CRASH_BEFORE] and self._switched(_P_CRASH_BEFORE))
                or draws[D_CRASH_BEFORE] < self._thr[_P_CRASH_BEFORE]):
            self._crash(N.CRASH_BEFORE, msg, 0, N.METRIC_SAMPLE)
            return
        self.seen_count += 1
        self.seen_sum += round(value * 1000)
        self._emit_state("sample-recorded", msg=msg, value=value, **self.metrics())
        if ((self._mode[_P_CRASH_AFTER] and self._switched(_P_CRASH_AFTER))
                or draws[D_CRASH_AFTER] < self._thr[_P_CRASH_AFTER]):
            self._crash(N.CRASH_AFTER, msg, 0, N.METRIC_SAMPLE)

    def metrics(self) -> dict:
        true_mean = self.true_sum / 1000 / self.true_count if self.true_count else 0.0
        seen_mean = self.seen_sum / 1000 / self.seen_count if self.seen_count else 0.0
        drift = abs(seen_mean - true_mean) / true_mean if true_mean else 0.0
        return {"true_count": self.true_count, "true_mean": round(true_mean, 4),
                "seen_count": self.seen_count, "seen_mean": round(seen_mean, 4),
                "drift": round(drift, 6)}

    # ------------------------------------------------------------------ views
    def order_view(self, order: int) -> dict:
        """One order as the report and the snapshot show it."""
        verdict = self._verdict[order - self._base]
        div_seq = self._div_seq[order - self._base]
        return {
            "id": order,
            "amount": self._amount[order - self._base],
            "order_state": _STATE_NAMES[self._state[order - self._base]],
            "credit_reserved": self._reserved[order - self._base],
            "sender_saw": _SAW_NAMES[self._saw[order - self._base]],
            "judgement": _VERDICT_NAMES[verdict],
            "consistent": verdict == _V_CONSISTENT,
            "divergence": _KIND_NAMES[self._kind[order - self._base]],
            "reason": N.DIVERGENCE_TEXT.get(_KIND_NAMES[self._kind[order - self._base]]),
            "diverged_at_seq": div_seq if div_seq >= 0 else None,
            "created_at": self._created[order - self._base],
            "attempts": self._attempts_of(order),
            "times_reserved": self._reserved[order - self._base]
            // self._amount[order - self._base],
        }

    def _attempts_of(self, order: int) -> int:
        """How many times the sender has sent this order's OrderCreated."""
        if self._retrying:
            return self._attempt[order - self._base]
        if self._sync:
            return int(self._started[order - self._base] != _NOT_STARTED)
        return 1

    def iter_orders(self):
        for order in range(self._base + 1, self._base + len(self._state)):
            yield self.order_view(order)

    def summary(self) -> dict:
        return {
            "orders": self.orders,
            "messages_sent": self.messages_sent,
            "messages_delivered": self.messages_delivered,
            "messages_lost": self.messages_lost,
            "messages_forgotten": self.messages_forgotten,
            "messages_in_flight": self.messages_sent - self.messages_delivered
            - self.messages_lost,
            "diverged": self.diverged,
            "consistent": self.consistent,
            "in_flight": self.orders - self.diverged - self.consistent,
            "receiver_crashes": self.crashes,
            "sender_timeouts": self.timeouts,
            "replies_ignored": self.replies_ignored,
            "retries": self.retries,
            "duplicates_delivered": self.duplicates_delivered,
            "duplicates_suppressed": self.duplicates_suppressed,
            "double_reserved": self.double_reserved,
            "sender_crashes": self.sender_crashes,
            "outbox_lost": self.outbox_lost,
        }

    def customer(self) -> dict:
        return {"credit_limit": self.credit_limit, "reserved": self.reserved,
                "available": self.credit_limit - self.reserved, "up": self.receiver_up,
                "restarts_at": self.restarts_at}

    def sender(self) -> dict:
        """The Order service: up or crashed (sender-crash), and its delivery policy."""
        return {"up": self.sender_up, "restarts_at": self.sender_restarts_at,
                "semantics": self.config.semantics, "outbox": self.config.outbox,
                "waiting_timers": len(self._backlog), "deferred_orders": len(self._deferred)}

    def invariant(self) -> dict:
        return {"ok": self.invariant_ok, "reserved": self.reserved,
                "approved_total": self.approved_total, "pending": self.pending_reserved,
                "unbacked": self.reserved - self.approved_total - self.pending_reserved,
                "broken_at_seq": self.invariant_broken_seq}

    def failures_view(self) -> dict:
        return {p: {"mode": s.mode, "probability": s.probability}
                for p, s in self.failure_settings().items()}

    def report(self, include_orders: bool = True) -> dict:
        report = {
            "config": self.config.to_dict(),
            "t": self.now,
            "seq": self.seq,
            "summary": self.summary(),
            "customer": self.customer(),
            "invariant": self.invariant(),
            "failures": self.failures_view(),
        }
        if self.config.samples:
            report["metrics"] = self.metrics()
        if include_orders:
            report["orders"] = list(self.iter_orders())
        return report

    def snapshot(self, max_orders: int = 200) -> dict:
        """Everything a fresh view needs to draw the present moment, then follow events."""
        base = self._base
        end = base + len(self._state)
        first = max(base + 1, end - max_orders)
        diverged_older = [o for o in range(base + 1, first)
                          if self._verdict[o - base] == _V_DIVERGED]
        shown = diverged_older[-max_orders:] + list(range(first, end))
        return {
            "t": self.now,
            "seq": self.seq,
            "config": self.config.to_dict(),
            "customer": self.customer(),
            "sender": self.sender(),
            "invariant": self.invariant(),
            "failures": self.failures_view(),
            "summary": self.summary(),
            "metrics": self.metrics() if self.config.samples else None,
            "orders": [self.order_view(o) for o in shown],
            "in_flight": sorted(self._wire.values(), key=lambda m: m["msg"]),
            "processing": sorted(self._processing),
            "next_time": self.next_time(),
            **({"calls": self.calls_view()} if self._sync else {}),
        }

    def calls_view(self) -> dict:
        """Sync mode: the order whose call is outstanding (or None) and how many orders
        wait behind it (they are the orders after it, by id)."""
        return {"outstanding": self._call or None, "queued": self.queued_calls()}
