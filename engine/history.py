"""The history of a run: checkpoints of its state every so many events, and any earlier
moment rebuilt from them.

The engine is deterministic from config + command log, so any moment of a run can be
rebuilt by replaying (``Simulation.replay``); from the start that takes as long as the run
took. A ``History`` follows a run (``note`` after each call that moved it) and keeps a
checkpoint (``Simulation.checkpoint``: the state as compact bytes) every ``every`` events;
``state_at`` restores the nearest earlier checkpoint and replays the command log from
there, so a moment is rebuilt from at most ``every`` events (plus one scheduler step).
The answer is the run exactly as ``Simulation.replay(config, log, until_seq=N)`` (or
``until=T``) would give it.

Checkpoints are held within a memory budget: when they outgrow it, every other one is
dropped and they are taken half as often (seeks get slower, memory stays bounded).

Pure: no clock, no threads, no I/O.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from .config import Config
from .simulation import Simulation

CHECKPOINT_EVERY = 10_000  # events between two checkpoints (to begin with)
MEMORY_BUDGET = 32 * 1024 * 1024  # bytes of checkpoints one history holds at most
MAX_HISTORY_EVENTS = 5000  # events one ``events`` call hands back at most


@dataclass(frozen=True)
class Checkpoint:
    """The run's state after ``steps`` scheduler steps and ``commands`` commands; ``t`` is
    the run's clock when it was taken (at or after its last step and command)."""

    seq: int
    t: float
    steps: int
    commands: int
    state: bytes


class History:
    """Checkpoints of one run and the moments rebuilt from them.

    Create it with the run's simulation before anything happened in it (or with
    ``checkpoints`` of the same run, see ``branch``), then call ``note(sim)`` after every
    call that moved the run (a step, an advance, a command). The history shares the run's
    command log (the same list).
    """

    def __init__(self, sim: Simulation, every: int = CHECKPOINT_EVERY,
                 budget: int = MEMORY_BUDGET,
                 checkpoints: list[Checkpoint] | None = None) -> None:
        if every < 1:
            raise ValueError("every: at least 1 event between checkpoints")
        self.config: Config = sim.config
        self.log: list[dict] = sim.command_log
        self.every = every
        self.budget = budget
        self.checkpoints: list[Checkpoint] = []
        self.bytes = 0
        if checkpoints:
            for checkpoint in checkpoints:
                self._keep(checkpoint)
        else:
            if sim.seq or sim.steps or sim.command_log:
                raise ValueError("a history starts with its run (seq 0, nothing applied)")
            self._take(sim)
        self._next = self.checkpoints[-1].seq + self.every

    # ------------------------------------------------------------ following the run
    def note(self, sim: Simulation) -> None:
        """The run moved: take a checkpoint if ``every`` events were made since the last."""
        if sim.seq >= self._next:
            self._take(sim)

    def _take(self, sim: Simulation) -> None:
        self._keep(Checkpoint(sim.seq, sim.now, sim.steps, len(sim.command_log),
                              sim.checkpoint()))
        self._next = sim.seq + self.every
        if self.bytes > self.budget and len(self.checkpoints) > 2:
            self._thin()

    def _keep(self, checkpoint: Checkpoint) -> None:
        self.checkpoints.append(checkpoint)
        self.bytes += len(checkpoint.state)

    def _thin(self) -> None:
        """Over budget: keep the first checkpoint and every other one after it, and take
        them half as often from now on."""
        kept = self.checkpoints[::2]
        if self.checkpoints[-1] is not kept[-1]:
            kept.append(self.checkpoints[-1])  # the newest stays: seeks near the head
        self.checkpoints = kept
        self.bytes = sum(len(c.state) for c in kept)
        self.every *= 2

    def branch(self, sim: Simulation) -> History:
        """The history of a run that continues from ``sim`` (a moment of this run, with the
        command log up to that moment) with commands of its own: the checkpoints up to that
        moment are shared."""
        shared = [c for c in self.checkpoints
                  if c.steps <= sim.steps and c.commands <= len(sim.command_log)
                  and c.t <= sim.now and c.seq <= sim.seq]
        return History(sim, self.every, self.budget, checkpoints=shared)

    # ------------------------------------------------------------ moments
    def state_at(self, seq: int | None = None, t: float | None = None) -> Simulation:
        """The run as of event ``seq`` (after the scheduler step that made it, commands given
        later left out) or of virtual time ``t`` (everything due at or before ``t``; the
        clock at ``t``), as ``Simulation.replay`` gives it. Give one of the two; it must
        not lie beyond what the run has done (the caller knows its head)."""
        if (seq is None) == (t is None):
            raise ValueError("state_at: give seq or t")
        if seq is not None:
            sim = self._restore_before_seq(seq)
            self._forward(sim, seq=seq)
        else:
            sim = self._restore_at_time(t)
            self._forward(sim, t=t)
        return sim

    def events(self, from_seq: int, to_seq: int | None = None,
               limit: int = MAX_HISTORY_EVENTS) -> list[dict]:
        """The run's events ``from_seq`` to ``to_seq`` (at most ``limit`` of them), in seq
        order, rebuilt from the nearest checkpoint. ``to_seq`` must not lie beyond what
        the run has made (the caller knows its head)."""
        from_seq = max(1, from_seq)
        last = from_seq + limit - 1 if to_seq is None else min(to_seq, from_seq + limit - 1)
        if last < from_seq:
            return []
        sim = self._restore_before_seq(from_seq)
        made: list[dict] = []
        self._forward(sim, seq=last, sink=made)
        return [e for e in made if from_seq <= e["seq"] <= last]

    def event_before(self, seq: int, t: float) -> dict | None:
        """The newest event with a seq at most ``seq`` and a time before ``t``, or None."""
        end = seq
        chunk = 256
        while end >= 1:
            start = max(1, end - chunk + 1)
            for event in reversed(self.events(start, end, limit=end - start + 1)):
                if event["t"] < t:
                    return event
            end = start - 1
            chunk = min(chunk * 4, MAX_HISTORY_EVENTS)
        return None

    def previous_moment(self, seq: int, t: float) -> Simulation | None:
        """The moment a step would have been taken from to reach the moment (``seq``, ``t``):
        the latest of the previous instant at which events were made (all of its events)
        and the halfway points of messages on their legs after it (a stepping viewer stops
        there), before ``t``. The run at t = 0 with nothing done if there is no such
        instant; None at that start itself (nothing before)."""
        event = self.event_before(seq, t)
        if event is None:
            if seq <= 0 and t <= 0.0:
                return None
            return self.state_at(seq=0)
        sim = self.state_at(t=event["t"])
        before = event["t"]
        halfway = [mid for m in sim._wire.values()
                   if before < (mid := (m["sent_at"] + m["arrives_at"]) / 2) < t]
        if halfway:
            # Nothing happens between the instant and t: no command, no event.
            sim.advance(max(halfway))
        return sim

    # ------------------------------------------------------------ internals
    def _restore(self, checkpoint: Checkpoint) -> Simulation:
        return Simulation.restore(self.config, checkpoint.state, self.log)

    def _restore_before_seq(self, seq: int) -> Simulation:
        # The newest checkpoint made before event seq: at least one step or command follows
        # it, and that sets the clock as a replay from t = 0 would. Seq 0 is the start.
        seqs = [c.seq for c in self.checkpoints]
        index = max(0, bisect_left(seqs, seq) - 1)
        return self._restore(self.checkpoints[index])

    def _restore_at_time(self, t: float) -> Simulation:
        # The newest checkpoint taken at or before t: everything in it happened by t.
        times = [c.t for c in self.checkpoints]
        index = max(0, bisect_right(times, t) - 1)
        return self._restore(self.checkpoints[index])

    def _forward(self, sim: Simulation, seq: int | None = None, t: float | None = None,
                 sink: list | None = None) -> None:
        """Replay the command log from the restored ``sim`` as ``Simulation.replay`` does
        from t = 0: to the step that makes event ``seq``, or to virtual time ``t``."""
        log = self.log
        out = sink if sink is not None else None

        def keep(events: list[dict]) -> None:
            if out is not None:
                out.extend(events)

        def reached() -> bool:
            return seq is not None and sim.seq >= seq

        if reached():
            return
        for index in range(len(sim.command_log), len(log)):
            entry = log[index]
            if t is not None and entry["t"] > t:
                break  # a command the run had not reached by t
            while sim.steps < entry["step"] and sim._heap and not reached():
                keep(sim.step_raw())
            if reached():
                return
            if entry["t"] > sim.now:
                sim.now = entry["t"]
            keep(sim.apply(entry["cmd"]))
        if seq is not None:
            while sim._heap and not reached():
                keep(sim.step_raw())
        else:
            keep(sim.advance(t))
