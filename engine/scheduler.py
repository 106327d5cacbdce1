"""A tiny deterministic scheduler over virtual time.

Entries are tuples ``(time, order, action, a, b)``; ``order`` is a counter that breaks ties
so that two things due at the same virtual time always happen in the order they were
scheduled. No wall clock, no threads: the caller decides when time moves.
"""

from __future__ import annotations

from heapq import heappop, heappush


class Scheduler:
    __slots__ = ("_heap", "_counter")

    def __init__(self) -> None:
        self._heap: list[tuple] = []
        self._counter = 0

    def schedule(self, time: float, action: int, a: int = 0, b: int = 0) -> None:
        self._counter += 1
        heappush(self._heap, (time, self._counter, action, a, b))

    def pop(self) -> tuple:
        return heappop(self._heap)

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)

    def entries(self) -> list[tuple]:
        """The pending entries in the order they will fire (for snapshots and tests)."""
        return sorted(self._heap)
