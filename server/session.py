"""Sessions and pacing: one simulation per browser session, moved along in wall-clock time.

The only place that knows about pacing. A ``Session`` maps wall time to virtual time by a
speed factor, applies commands at the current virtual time, collects the events of one
frame into a seq-numbered batch, keeps the batches the client has not acknowledged (for
resume after a reconnect) and refuses to run ahead of a client that stops acknowledging.
``SessionStore`` holds the sessions of a server, attaches each to one *attachment* (an
opaque, hashable handle the hub owns for a connection) and frees them after a grace period.

Serving code, but free of the transport: no sockets, no socket ids, no threads, no sleeping.
Every method that depends on time takes ``now`` (seconds, any monotonic origin) from the
caller. A method returns the messages to send as ``(event, payload)`` pairs; the hub sends
them.
"""

from __future__ import annotations

import secrets
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace

from engine import Config, History, Simulation, preset_config, preset_script
from engine.errors import CommandError
from engine.history import MAX_HISTORY_EVENTS
from engine.presets import DEFAULT_PRESET
from engine.runfile import dump_run

from .ratelimit import TokenBucket

Message = tuple[str, dict]

KEEP_RECENT_ORDERS = 5000

# While history is shown (after seek or step-back), these would change the run: refused.
CHANGES_THE_RUN = frozenset({"create-order", "set-failure", "set-credit-limit", "play", "step"})
IN_HISTORY = ("history is shown (not the present): live returns to the present; fork (Run "
              "from here) continues the run from this moment, with commands of its own")
# An imported run is replayed to its end (nothing left to happen), or this many events past
# its last command when it would go on longer (then Play goes on from there).
IMPORT_EVENTS_PAST_LOG = 100_000
IMPORT_MAX_STEPS = 1_000_000  # scheduler steps an imported log may ask for (its last step)
# play with ``until``: how many events ahead a copy of the run looks for the event.
UNTIL_LOOKAHEAD = 100_000


@dataclass(frozen=True)
class Limits:
    """How much one session may send, and how far ahead of its client it may run."""

    frame_events: int = 4000  # events made per frame (per tick) at most: 30 fps -> 120k/s
    window: int = 16000  # events sent but not acknowledged at most: then the run waits
    slack: int = 256  # command events allowed beyond the window before commands are refused
    snapshot_orders: int = 200  # orders in a snapshot (plus older diverged ones)
    snapshot_in_flight: int = 1000  # messages on the wire in a snapshot (the newest)
    commands_per_run: int = 10_000  # engine commands one run may log
    checkpoint_every: int = 10_000  # events between two checkpoints of a run's history
    clock_every: float = 1.0  # wall seconds between clock messages while nothing else is sent


class Session:
    """One browser tab's run: a simulation, its pacing and its delivery state."""

    def __init__(self, token: str, now: float, limits: Limits | None = None,
                 scenario: str = DEFAULT_PRESET, seed: int = 1) -> None:
        self.token = token
        self.limits = limits or Limits()
        self.created = now
        self.scenario = scenario
        self.seed = seed
        self.config: Config = preset_config(scenario)  # validated once; runs differ by seed
        self.use_script = True  # apply the preset's scripted commands (its first order)
        self.speed = 1.0
        self.attachment: Hashable | None = None  # the hub's handle; None while detached
        self.detached_at: float | None = now
        self.run = 0
        # Pacing's order: every payload that carries pacing (snapshot, batch, clock, a play
        # or pause answer) gets the next number, made under the hub's lock, so the page can
        # drop one that reaches it after a newer one (a play answer sent after the frame
        # that already paused the run at its ``until``).
        self.pace = 0
        # The run the latest fork was made from: its config, full command log, scenario.
        self.original: dict | None = None
        self._start_run(now)

    # ------------------------------------------------------------------ runs
    def _start_run(self, now: float) -> None:
        """A new run of the current scenario, seed and overrides, paused at t = 0."""
        # Orders that can no longer change are dropped from memory beyond the most recent
        # KEEP_RECENT_ORDERS, so a long run stays small while a classroom run (and the
        # snapshot a reconnecting tab gets) keeps every order.
        sim = Simulation(replace(self.config, seed=self.seed), keep_orders=KEEP_RECENT_ORDERS)
        self.script = (preset_script(self.scenario)
                       if self.use_script and self.scenario is not None else [])
        self.script_pos = 0
        self._begin(now, sim, History(sim, every=self.limits.checkpoint_every))

    def adopt(self, now: float, sim: Simulation, history: History, *, run: int,
              scenario: str | None, use_script: bool, script_pos: int, speed: float,
              playing: bool, custom: bool) -> None:
        """Make ``sim`` (a room's run rebuilt from its record after the presenter's process
        died: server/rooms.py) this session's run, under the room's run number, with the
        pacing the record had. The preset's script goes on from where the record says."""
        self.scenario = scenario
        self.config = sim.config
        self.seed = sim.config.seed
        self.use_script = use_script
        self._begin(now, sim, history)
        self.run = run
        self.script = preset_script(scenario) if use_script and scenario is not None else []
        self.script_pos = min(max(0, script_pos), len(self.script))
        self.speed = speed
        self.custom = custom
        self.playing = playing and not self.over

    def _begin(self, now: float, sim: Simulation, history: History) -> None:
        """``sim`` becomes the current run (a new run number), paused; ``history`` follows it."""
        old_sent = getattr(self, "sent", 0)
        self.sim = sim
        self.history = history
        # The moment shown when it is not the present (seek, step-back): a run rebuilt from
        # the history. None: the present (the head of the run) is shown.
        self.view: Simulation | None = None
        self.script_marks: list[int] = []  # command log indexes of the script's commands
        self.forked_from: dict | None = None
        self.imported = False
        self.run += 1
        self.playing = False
        self.ended_by_itself = False  # Play was released because the run was over
        self.held_back = False
        # A failure point was set by a command in this run (not by the scenario's script):
        # the page then says "Custom run" instead of the scenario's caption. Sticky until
        # the next run, since what it changed may already have happened.
        self.custom = False
        self._clear_until()
        self.collected = self.sim.seq  # the last event the engine has handed back
        self.vt = self.sim.now  # virtual time the run has reached
        self.wall = now  # wall time at which it reached vt
        self.outbox: list[dict] = []  # events made, not yet sent
        self.buffer: deque[dict] = deque()  # events sent, not yet acknowledged
        self.sent = self.acked = self.floor = self.sim.seq
        # Acks without a run number that are still on their way belong to the old run:
        # ignore them until the client acknowledges the new snapshot.
        self.awaiting_ack: int | None = self.sim.seq if old_sent > 0 else None
        self.last_sent_wall = now
        self.clock_due = False

    # ------------------------------------------------------------------ views
    @property
    def unacked(self) -> int:
        """Events sent or waiting to be sent that the client has not acknowledged."""
        return self.sent - self.acked + len(self.outbox)

    @property
    def shown(self) -> Simulation:
        """The run as shown: the moment of history in view, or the head."""
        return self.view if self.view is not None else self.sim

    def view_info(self) -> dict:
        shown = self.shown
        return {"live": self.view is None, "seq": shown.seq, "t": shown.now,
                "head_seq": self.sim.seq, "head_t": self.sim.now}

    def snapshot(self) -> dict:
        """The ``snapshot`` payload. Sending it restarts the stream after its seq (of the
        moment shown; the stream itself always follows the head)."""
        shown = self.shown
        state = shown.snapshot(max_orders=self.limits.snapshot_orders)
        wire = state["in_flight"]
        omitted = max(0, len(wire) - self.limits.snapshot_in_flight)
        if omitted:
            state["in_flight"] = wire[omitted:]
        head = self.sim.seq
        self.outbox.clear()
        self.buffer.clear()
        self.sent = self.acked = self.floor = head
        return {"session": self.token, "run": self.run, "scenario": self.scenario,
                "seed": self.seed, "script": self.use_script, "playing": self.playing,
                "speed": self.speed, "held_back": self.held_back, "over": self.over,
                "custom": self.custom, "seq": shown.seq, "t": shown.now,
                "window": self.limits.window, "in_flight_omitted": omitted,
                "view": self.view_info(), "forked_from": self.forked_from,
                "imported": self.imported, "pace": self._paced(), "state": state}

    def _paced(self) -> int:
        self.pace += 1
        return self.pace

    def clock(self) -> dict:
        return {"pace": self._paced(), "run": self.run, "t": self.shown.now,
                "playing": self.playing, "speed": self.speed, "held_back": self.held_back,
                "over": self.over, "live": self.view is None}

    def stats(self) -> dict:
        return {"run": self.run, "seq": self.sim.seq, "sent": self.sent, "acked": self.acked,
                "unacked": self.unacked, "buffered": len(self.buffer),
                "outbox": len(self.outbox), "playing": self.playing, "held_back": self.held_back,
                "t": self.sim.now}

    # ------------------------------------------------------------------ pacing
    def _collect(self, events: list[dict]) -> int:
        if events and events[0]["seq"] <= self.floor:
            # Made before the last snapshot (an engine call hands back what a capped
            # advance left over): the snapshot already shows them.
            events = [e for e in events if e["seq"] > self.floor]
        self.outbox.extend(events)
        if events:
            self.collected = events[-1]["seq"]
        return len(events)

    def _budget(self) -> int:
        limits = self.limits
        return min(limits.frame_events - len(self.outbox), limits.window - self.unacked)

    def _set_held_back(self, held_back: bool) -> None:
        if held_back != self.held_back:
            self.held_back = held_back
            self.clock_due = True

    def _advance(self, now: float, can_send: bool = True) -> None:
        """Bring the run up to the virtual time that wall time ``now`` stands for.

        At most the budget of events is made: if the frame cap or the client's window is
        reached, virtual time stops where the last event was made (it slows down, it
        never skips events) and ``held_back`` is set.
        """
        if not self.playing:
            self.wall = now
            return
        target = self.vt + (now - self.wall) * self.speed
        self.wall = now
        budget = self._budget() if can_send else 0
        left = None
        if self.until_seq is not None:
            left = self.until_seq - self.collected
            if left <= 0:
                self._until_reached()
                return
        if budget <= 0:
            self.vt = self.sim.now
            self._set_held_back(True)
            return
        if left is not None and left < budget:
            budget = left
        made = self._run_until(target, budget)
        self.history.note(self.sim)
        if self.until_seq is not None and self.collected >= self.until_seq:
            self._until_reached()
            return
        capped = made >= budget and self.sim.now < target
        self.vt = self.sim.now if capped else target
        self._set_held_back(capped)
        if self.over:
            # Nothing is left to happen: the clock stops and Play is released. A later
            # order (create-order) sets it going again (see command).
            self.playing = False
            self.ended_by_itself = True
            self.clock_due = True

    # ------------------------------------------------------------------ play until
    def _clear_until(self) -> None:
        self.until: dict | None = None  # play's until: the event the run pauses at
        self.until_seq: int | None = None  # the seq the run pauses at (None: not found)

    def _until_reached(self) -> None:
        """The run has made every event up to the until's seq: it pauses there, exactly."""
        self.playing = False
        self.ended_by_itself = False
        self.held_back = False
        self.clock_due = True
        self.vt = self.sim.now
        self._clear_until()

    def _until_bound(self) -> int | None:
        """The seq at which play's ``until`` pauses the run, found by running a copy of it
        ahead (the engine is deterministic, the script included): after ``until.stop``
        "after", the last event of the scheduler step that makes the first matching event;
        "before", the last event before that step. None: no such event within
        UNTIL_LOOKAHEAD events (the run plays on as usual)."""
        until = self.until
        sim = self.sim
        copy = Simulation.restore(sim.config, sim.checkpoint(), sim.command_log)
        script, pos = self.script, self.script_pos
        kind, order, leg = until["type"], until["order"], until["leg"]
        start = copy.seq
        while copy.seq - start < UNTIL_LOOKAHEAD:
            at = script[pos][0] if pos < len(script) else None
            upcoming = copy.next_time()
            before = copy.seq
            if at is not None and (upcoming is None or upcoming > at):
                copy.advance(at)  # nothing is due before it: moves the clock only
                events = copy.apply(script[pos][1])
                pos += 1
            elif upcoming is None:
                return None
            else:
                events = copy.step_raw()
            for e in events:
                if e["type"] == kind and (order is None or e.get("order") == order) and (
                        leg is None or e.get("leg") == leg):
                    return before if until["stop"] == "before" else copy.seq
        return None

    def _until_answer(self) -> dict | None:
        if self.until is None:
            return None
        return {**self.until, "seq": self.until_seq}

    @property
    def over(self) -> bool:
        """Nothing is left to happen in this run: no scheduled work, no script to apply."""
        return self.sim.idle and self.script_pos >= len(self.script)

    def _run_until(self, target: float, budget: int) -> int:
        """Advance the engine to ``target``, applying the preset's script on its way."""
        sim = self.sim
        script = self.script
        made = 0
        while True:
            at = script[self.script_pos][0] if self.script_pos < len(script) else None
            stop = target if at is None or at > target else at
            made += self._collect(sim.advance(stop, budget - made))
            if made >= budget:
                return made
            if at is None or at > target:
                return made
            made += self._collect(sim.apply(script[self.script_pos][1]))
            self.script_marks.append(len(sim.command_log) - 1)
            self.script_pos += 1
            self.history.note(sim)

    def _batch(self, events: list[dict]) -> dict:
        return {"run": self.run, "from_seq": events[0]["seq"], "to_seq": events[-1]["seq"],
                "t": self.sim.now, "playing": self.playing, "speed": self.speed,
                "held_back": self.held_back, "over": self.over, "pace": self._paced(),
                "events": events}

    def tick(self, now: float, can_send: bool = True) -> list[Message]:
        """One frame: advance, then the batch of this frame's events and any clock news.

        ``can_send`` False (the transport to the client is backed up) holds the run and
        sends nothing.
        """
        self._advance(now, can_send)
        messages: list[Message] = []
        if not can_send:
            return messages
        if self.outbox:
            events, self.outbox = self.outbox, []
            self.buffer.extend(events)
            self.sent = events[-1]["seq"]
            messages.append(("events", self._batch(events)))
            self.last_sent_wall = now
        if self.clock_due or (self.playing and now - self.last_sent_wall
                              >= self.limits.clock_every):
            messages.append(("clock", self.clock()))
            self.clock_due = False
            self.last_sent_wall = now
        return messages

    # ------------------------------------------------------------------ client
    def join(self, last_seq: int | None, run: int | None, now: float) -> tuple[dict, list]:
        """A socket attaches. Resume from ``last_seq`` if every later event is still
        buffered, else start it over from a snapshot. Returns (answer, messages)."""
        self.wall = now  # the run was frozen while detached: no jump in virtual time
        # Without a run number, a last_seq is only trusted once the client has acknowledged
        # the current run's snapshot: before that it may be a seq of the previous run.
        same_run = run == self.run if run is not None else self.awaiting_ack is None
        if self.view is not None:
            same_run = False  # history is shown: the client gets the moment again
        if last_seq is not None and same_run and self.acked <= last_seq <= self.sent:
            self.acked = last_seq
            self._trim()
            messages: list[Message] = []
            if self.buffer:
                messages.append(("events", self._batch(list(self.buffer))))
            messages.append(("clock", self.clock()))
            return {"resumed": True}, messages
        return {"resumed": False}, [("snapshot", self.snapshot())]

    def ack(self, seq: int, run: int | None = None) -> dict:
        """The client has applied every event up to ``seq``: the window opens."""
        stale = False
        if run is not None and run != self.run:
            stale = True
        elif run is None and self.awaiting_ack is not None and seq != self.awaiting_ack:
            stale = True
        else:
            self.awaiting_ack = None
            seq = min(seq, self.sent)
            if seq > self.acked:
                self.acked = seq
                self._trim()
        answer = {"run": self.run, "acked": self.acked, "unacked": self.unacked,
                  "window": self.limits.window}
        if stale:
            answer["stale"] = True
        return answer

    def _trim(self) -> None:
        buffer = self.buffer
        acked = self.acked
        while buffer and buffer[0]["seq"] <= acked:
            buffer.popleft()

    # ------------------------------------------------------------------ commands
    def _check_backlog(self) -> None:
        if self.unacked >= self.limits.window + self.limits.slack:
            raise CommandError("ack", self.unacked,
                               f"at most {self.limits.window} unacknowledged events: "
                               "acknowledge the events you have (ack) and retry")

    def _check_log(self, name: str) -> None:
        if len(self.sim.command_log) >= self.limits.commands_per_run:
            raise CommandError("cmd", name, f"at most {self.limits.commands_per_run} "
                                            "commands in one run: reset to start a new run")

    def command(self, cmd: dict, now: float) -> tuple[dict, list[Message]]:
        """Apply a command at the current virtual time. Session commands come validated
        (server.validation.validate_command); the engine's own commands (create-order,
        set-failure, set-credit-limit) are checked by the engine as it applies them, once.
        Returns (answer fields, messages); raises CommandError."""
        name = cmd["cmd"]
        if self.view is not None and name in CHANGES_THE_RUN:
            raise CommandError("view", name, IN_HISTORY)
        if name in self.TIME:
            return self.TIME[name](self, cmd, now)
        if name in ("scenario", "seed", "reset"):
            if name == "scenario":
                self.scenario = cmd["name"]
                self.config = cmd["config"]
                self.use_script = cmd["script"]
                if cmd["seed"] is not None:
                    self.seed = cmd["seed"]
            elif name == "seed":
                self.seed = cmd["seed"]
            self._start_run(now)
            return ({"run": self.run, "scenario": self.scenario, "seed": self.seed},
                    [("snapshot", self.snapshot())])
        if name == "play":
            self._advance(now)
            self.playing = True
            self.ended_by_itself = False
            self.clock_due = True
            self._clear_until()
            answer = {"playing": True, "t": self.sim.now}
            if cmd.get("until") is not None:
                self.until = cmd["until"]
                self.until_seq = self._until_bound()
                answer["until"] = self._until_answer()
                if self.until_seq is not None and self.collected >= self.until_seq:
                    self._until_reached()  # "before" an event the next step makes
                    answer["playing"] = False
            answer["pace"] = self._paced()
            return answer, []
        if name == "pause":
            self._advance(now)
            self._clear_until()
            self.playing = False
            self.ended_by_itself = False
            self.held_back = False
            self.clock_due = True
            return {"playing": False, "t": self.sim.now, "pace": self._paced()}, []
        if name == "speed":
            self._advance(now)
            self.speed = cmd["speed"]
            self.clock_due = True
            return {"speed": self.speed}, []
        self._check_backlog()
        if name == "step":
            self._advance(now)
            self._clear_until()
            self.playing = False
            self.held_back = False
            self.clock_due = True
            made = self._step()
            self.history.note(self.sim)
            self.vt = self.sim.now
            self.ended_by_itself = False
            # idle: nothing is left to happen (a step that stopped a message halfway along
            # its leg made no event but is not idle).
            return {"events": made, "t": self.sim.now, "idle": self.over}, []
        # create-order, set-failure, set-credit-limit: the engine's commands.
        self._check_log(name)
        self._advance(now)
        self._collect(self.sim.apply(cmd))
        self.history.note(self.sim)
        if self.until is not None:  # the command changed what comes: look again
            self.until_seq = self._until_bound()
        entry = self.sim.command_log[-1]
        logged = {"t": entry["t"], "step": entry["step"]}
        if self.ended_by_itself and not self.over:
            # The run had ended by itself while playing: new work sets it going again.
            self.playing = True
            self.ended_by_itself = False
            self.clock_due = True
        if name == "create-order":
            return {"order": self.sim.orders, "logged": logged}, []
        if name == "set-failure":
            self.custom = True
            point = entry["cmd"]["point"]  # as the engine normalized it
            return {"point": point, "custom": True, **self.sim.failures_view()[point],
                    "logged": logged}, []
        return {"credit_limit": self.sim.credit_limit, "logged": logged}, []

    # ------------------------------------------------------------------ time (issue 10)
    def _pause(self, now: float) -> None:
        """Bring the run up to ``now`` and stop it (as ``pause`` does)."""
        self._advance(now)
        self._clear_until()
        self.playing = False
        self.ended_by_itself = False
        self.held_back = False
        self.clock_due = True

    def _show(self, moment: Simulation | None) -> tuple[dict, list[Message]]:
        """Show ``moment`` (a rebuilt run; None: the head) with a snapshot."""
        self.view = moment
        return {"view": self.view_info()}, [("snapshot", self.snapshot())]

    def _seek(self, cmd: dict, now: float) -> tuple[dict, list[Message]]:
        """The run as of event ``seq`` or virtual time ``t``; at or after the head: the
        head (live)."""
        self._pause(now)
        head = self.sim
        seq, t = cmd["seq"], cmd["t"]
        if seq is not None:
            moment = None if seq >= head.seq else self.history.state_at(seq=seq)
        else:
            moment = None if t >= head.now else self.history.state_at(t=t)
        return self._show(moment)

    def _live(self, cmd: dict, now: float) -> tuple[dict, list[Message]]:
        self._pause(now)
        return self._show(None)

    def _step_back(self, cmd: dict, now: float) -> tuple[dict, list[Message]]:
        """The moment a step would have been taken from: the previous instant at which
        events were made, or a message halfway along its leg after it."""
        self._pause(now)
        shown = self.shown
        moment = self.history.previous_moment(shown.seq, shown.now)
        if moment is None:
            return {"view": self.view_info(), "start": True}, []
        answer, messages = self._show(moment)
        answer["start"] = moment.seq == 0 and moment.now <= 0.0
        return answer, messages

    def _fork(self, cmd: dict, now: float) -> tuple[dict, list[Message]]:
        """Run from here: the moment shown goes on as a new run, whose log is the original's
        up to that moment plus ``commands`` (applied at once, streamed as events). The
        original's config and full log are kept for ``export`` (which: original)."""
        self._pause(now)
        moment = self.shown
        commands = cmd["commands"]
        kept = len(moment.command_log)
        if kept + len(commands) > self.limits.commands_per_run:
            raise CommandError("commands", f"{kept} + {len(commands)} commands",
                               f"at most {self.limits.commands_per_run} commands in one run")
        history = self.history.branch(moment)
        if moment is self.sim:
            # Forking the head: the original's log goes on without the fork's commands.
            original_log = list(self.sim.command_log)
        else:
            original_log = self.sim.command_log
        original = {"config": self.sim.config, "command_log": original_log,
                    "scenario": self.scenario, "run": self.run}
        forked_from = {"run": self.run, "seq": moment.seq}
        script_pos = bisect_left(self.script_marks, kept)
        marks = self.script_marks[:script_pos]
        scripted = set(marks)
        custom = any(entry["cmd"]["cmd"] == "set-failure" and i not in scripted
                     for i, entry in enumerate(moment.command_log))
        self.original = original
        self._begin(now, moment, history)
        self.script_pos = script_pos
        self.script_marks = marks
        self.forked_from = forked_from
        self.custom = custom
        messages: list[Message] = [("snapshot", self.snapshot())]
        logged = []
        for command in commands:
            self._collect(moment.apply(command))
            entry = moment.command_log[-1]
            logged.append({"t": entry["t"], "step": entry["step"]})
            if command["cmd"] == "set-failure":
                self.custom = True
        self.history.note(moment)
        return {"run": self.run, "forked_from": forked_from, "view": self.view_info(),
                "logged": logged}, messages

    def _export(self, cmd: dict, now: float) -> tuple[dict, list[Message]]:
        """The run file (docs/runfile.md) of the current run, or of the original."""
        if cmd["which"] == "original":
            if self.original is None:
                raise CommandError("which", "original", "current: there is no original "
                                   "before a fork (Run from here) keeps one")
            o = self.original
            run = dump_run(o["config"], o["command_log"], o["scenario"])
            return {"which": "original", "of_run": o["run"], "run": run}, []
        run = dump_run(self.sim.config, self.sim.command_log, self.scenario)
        return {"which": "current", "of_run": self.run, "run": run}, []

    def _import(self, cmd: dict, now: float) -> tuple[dict, list[Message]]:
        """Replace the current run with a run file's (checked by validation): replayed to
        its end, paused there, or showing the moment ``seq`` / ``t``. The current run is
        left as it was if anything is refused."""
        log = cmd["command_log"]
        if len(log) > self.limits.commands_per_run:
            raise CommandError("run.command_log", f"{len(log)} commands",
                               f"at most {self.limits.commands_per_run} on this server")
        if log and log[-1]["step"] > IMPORT_MAX_STEPS:
            raise CommandError(f"run.command_log[{len(log) - 1}].step", log[-1]["step"],
                               f"at most {IMPORT_MAX_STEPS} on this server")
        sim = Simulation(cmd["config"], keep_orders=KEEP_RECENT_ORDERS)
        history = History(sim, every=self.limits.checkpoint_every)
        for entry in log:
            while sim.steps < entry["step"] and sim._heap:
                sim.step_raw()
                history.note(sim)
            if entry["t"] > sim.now:
                sim.now = entry["t"]
            sim.apply(entry["cmd"])
            history.note(sim)
        end = sim.seq + IMPORT_EVENTS_PAST_LOG
        while sim._heap and sim.seq < end:
            sim.step_raw()
            history.note(sim)
        moment = None
        if cmd["seq"] is not None and cmd["seq"] < sim.seq:
            moment = history.state_at(seq=cmd["seq"])
        elif cmd["t"] is not None and cmd["t"] < sim.now:
            moment = history.state_at(t=cmd["t"])
        # Nothing was refused: the file's run becomes the current run.
        self._pause(now)
        self.scenario = cmd["scenario"]
        self.config = cmd["config"]
        self.seed = cmd["config"].seed
        self.use_script = cmd["scenario"] is not None  # for reset: the scenario afresh
        self.script = []  # the log holds the commands the script gave
        self.script_pos = 0
        self._begin(now, sim, history)
        self.imported = True
        self.vt = sim.now
        self.view = moment
        return ({"run": self.run, "scenario": self.scenario, "seed": self.seed,
                 "view": self.view_info()}, [("snapshot", self.snapshot())])

    def _history(self, cmd: dict, now: float) -> tuple[dict, list[Message]]:
        """Up to MAX_HISTORY_EVENTS events of the current run, from ``from_seq``."""
        head = self.sim.seq
        first = max(1, cmd["from_seq"])
        last = first + MAX_HISTORY_EVENTS - 1
        if cmd["to_seq"] is not None:
            last = min(last, cmd["to_seq"])
        last = min(last, head)
        events = self.history.events(first, last) if first <= last else []
        return {"run": self.run, "from_seq": first, "to_seq": max(first - 1, last),
                "head_seq": head, "events": events}, []

    TIME = {"seek": _seek, "live": _live, "step-back": _step_back, "fork": _fork,
            "export": _export, "import": _import, "history": _history}

    def _step(self) -> int:
        """Process the next thing that happens: a script command or the engine's next event,
        or stop a message halfway along its leg when that comes first, so every message is
        seen on the wire."""
        sim = self.sim
        at = self.script[self.script_pos][0] if self.script_pos < len(self.script) else None
        upcoming = sim.next_time()
        wire = sim.next_wire_stop()
        if wire is not None and (upcoming is None or wire < upcoming) and (
                at is None or wire < at):
            sim.advance(wire)  # nothing is due before it: makes no event
            return 0
        if at is not None and (upcoming is None or at < upcoming):
            made = self._collect(sim.advance(at)) if at > sim.now else 0
            made += self._collect(sim.apply(self.script[self.script_pos][1]))
            self.script_marks.append(len(sim.command_log) - 1)
            self.script_pos += 1
            return made
        return self._collect(sim.step())


@dataclass
class Joined:
    session: Session
    answer: dict
    messages: list[Message]
    detached: Hashable | None  # the attachment the session was taken from (tell it)


def new_token() -> str:
    return secrets.token_urlsafe(18)


class SessionStore:
    """The sessions of one server, by token, and which socket each is attached to.

    New sessions are limited twice: ``max_sessions`` live sessions at most (when the store
    is full, the session detached longest ago gives way; only when every session is
    attached is a new one refused), and, per *creator* (the hub passes the client's
    address), a token bucket of ``creation_burst`` sessions refilled at ``creation_rate``
    per second, so a few clients cannot take every session there is.
    """

    def __init__(self, limits: Limits | None = None, grace: float = 30.0,
                 max_sessions: int = 1000,
                 token_factory: Callable[[], str] = new_token,
                 creation_rate: float | None = None, creation_burst: float = 60.0) -> None:
        self.limits = limits or Limits()
        self.grace = grace
        self.max_sessions = max_sessions
        self.token_factory = token_factory
        self.creation_rate = creation_rate  # sessions per second per creator; None: no limit
        self.creation_burst = creation_burst
        self.creators: dict[Hashable, TokenBucket] = {}
        self.sessions: dict[str, Session] = {}
        self.by_attachment: dict[Hashable, str] = {}
        self.created = 0
        self.expired = 0
        self.evicted = 0  # detached sessions freed before their grace ran out (store full)

    def __len__(self) -> int:
        return len(self.sessions)

    def session_of(self, attachment: Hashable) -> Session | None:
        token = self.by_attachment.get(attachment)
        return self.sessions.get(token) if token is not None else None

    def join(self, attachment: Hashable, token: str | None, last_seq: int | None, run: int | None,
             now: float, creator: Hashable | None = None) -> Joined:
        """Attach ``attachment`` to session ``token`` (or to a new session, made on behalf of
        ``creator``: see the class)."""
        session = self.sessions.get(token) if token is not None else None
        fresh = session is None
        if fresh:
            self._check_creator(creator, token, now)
            if len(self.sessions) >= self.max_sessions:
                self.expire(now)
            if len(self.sessions) >= self.max_sessions:
                self._evict_oldest_detached()
            if len(self.sessions) >= self.max_sessions:
                raise CommandError("session", token, f"the server is full ({self.max_sessions}"
                                                     " sessions): try again later")
            if creator is not None and self.creation_rate is not None:
                self.creators[creator].take(now)
            new = self.token_factory()
            while new in self.sessions:
                new = self.token_factory()
            session = Session(new, now, self.limits)
            self.sessions[new] = session
            self.created += 1
        self.leave(attachment, now)  # a connection follows one session at a time
        answer, messages = session.join(None if fresh else last_seq, run, now)
        detached = session.attachment if session.attachment not in (None, attachment) else None
        if detached is not None:
            self.by_attachment.pop(detached, None)
        session.attachment = attachment
        session.detached_at = None
        self.by_attachment[attachment] = session.token
        answer = {"session": session.token, "run": session.run, "fresh": fresh, **answer}
        return Joined(session, answer, messages, detached)

    def _check_creator(self, creator: Hashable | None, token: str | None, now: float) -> None:
        """Raise CommandError if ``creator`` may not make a new session now."""
        if creator is None or self.creation_rate is None:
            return
        bucket = self.creators.get(creator)
        if bucket is None:
            bucket = self.creators[creator] = TokenBucket(self.creation_rate,
                                                          self.creation_burst, now)
        if not bucket.take(now, 0.0) or bucket.tokens < 1.0:
            wait = (1.0 - bucket.tokens) / self.creation_rate
            raise CommandError("session", token, (
                f"at most {self.creation_burst:g} new sessions from one address, then one "
                f"every {1 / self.creation_rate:g} s: try again in {max(wait, 0.1):.1f} s, "
                "or resume your session (join with its token)"))

    def _evict_oldest_detached(self) -> None:
        """Free the session that has waited longest for its client (store full)."""
        oldest = min((s for s in self.sessions.values() if s.attachment is None),
                     key=lambda s: s.detached_at or 0.0, default=None)
        if oldest is not None:
            del self.sessions[oldest.token]
            self.evicted += 1

    def leave(self, attachment: Hashable, now: float) -> Session | None:
        """``attachment`` is gone: its session waits ``grace`` seconds for it to come back."""
        token = self.by_attachment.pop(attachment, None)
        session = self.sessions.get(token) if token is not None else None
        if session is not None and session.attachment == attachment:
            session.attachment = None
            session.detached_at = now
        return session

    def expire(self, now: float) -> list[str]:
        """Free the sessions detached for longer than the grace period."""
        gone = [token for token, s in self.sessions.items()
                if s.attachment is None and s.detached_at is not None
                and now - s.detached_at >= self.grace]
        for token in gone:
            del self.sessions[token]
        self.expired += len(gone)
        if self.creation_rate is not None:  # forget creators whose bucket is full again
            for creator, bucket in list(self.creators.items()):
                bucket.take(now, 0.0)
                if bucket.tokens >= bucket.burst:
                    del self.creators[creator]
        return gone

    def tick(self, now: float, can_send: Callable[[Hashable], bool] | None = None
             ) -> list[tuple[str, str, dict]]:
        """One frame of every attached session: ``(token, event, payload)`` to send.

        Detached sessions are frozen until their socket comes back.
        """
        out: list[tuple[str, str, dict]] = []
        for session in list(self.sessions.values()):
            attachment = session.attachment
            if attachment is None:
                continue
            ok = True if can_send is None else can_send(attachment)
            for event, payload in session.tick(now, ok):
                out.append((session.token, event, payload))
        return out

    def stats(self) -> dict:
        attached = sum(1 for s in self.sessions.values() if s.attachment is not None)
        return {"sessions": len(self.sessions), "attached": attached,
                "created": self.created, "expired": self.expired}
