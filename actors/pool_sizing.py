"""How many warm session actors an ingress replica keeps: sized to the arrival rate.

A session actor takes seconds to start (a process, its imports, the speech models), so
the actors the next calls need must already be starting when those calls arrive. By
Little's law that is the arrival rate times the start time: the calls that arrived
within the last start time are the best guess for the calls the next one will bring.
Actors handed back by ended calls are ready again without a start, so those that came
back within the last start time are the best guess for the supply the next one brings:
a line whose calls end as fast as new ones arrive needs no new actors. The pool keeps
the difference beside its floor, within a ceiling, and holds a burst's size for a while
after it (sales lines get their calls in waves), then falls back.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from collections.abc import Callable

# Before any actor has started here: about what one takes on an idle 2-core machine.
DEFAULT_START_S = 5.0
# The shortest look-back for arrivals, so that fast starts still see a burst.
MIN_HORIZON_S = 5.0
# Recent start times kept (the median of these is the estimate).
START_SAMPLES = 9


class PoolSizing:
    """The warm-actor target: floor + calls expected while one actor starts, held
    for `hold_s` after the arrivals that set it, never above `ceiling`."""

    def __init__(
        self,
        *,
        hold_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hold_s = hold_s
        self._clock = clock
        self._arrivals: deque[float] = deque()
        self._returns: deque[float] = deque()
        self._starts: deque[float] = deque(maxlen=START_SAMPLES)
        # (when it was set, expected calls): the highest recent expectation is held.
        self._peaks: deque[tuple[float, int]] = deque()

    @property
    def start_s(self) -> float:
        """The estimate of one actor's start (spawn to warm), in seconds."""
        return statistics.median(self._starts) if self._starts else DEFAULT_START_S

    def arrived(self) -> None:
        """A call took (or reserved) an actor."""
        now = self._clock()
        self._arrivals.append(now)
        self._forget(now)
        expected = max(0, len(self._arrivals) - len(self._returns))
        # Only a new high is worth remembering: a lower one ends before it matters.
        while self._peaks and self._peaks[-1][1] <= expected:
            self._peaks.pop()
        self._peaks.append((now, expected))

    def returned(self) -> None:
        """An ended call's actor came back to the pool, ready without a start."""
        now = self._clock()
        self._returns.append(now)
        self._forget(now)

    def started(self, seconds: float) -> None:
        """An actor took `seconds` from spawn to warm."""
        self._starts.append(seconds)

    def target(self, floor: int, ceiling: int) -> int:
        """Warm actors to keep ready now."""
        if floor <= 0:
            return 0  # no pool: every call starts its actor cold
        self._forget(self._clock())
        expected = self._peaks[0][1] if self._peaks else 0
        return max(floor, min(ceiling, floor + expected))

    def _forget(self, now: float) -> None:
        horizon = max(MIN_HORIZON_S, math.ceil(self.start_s))
        for times in (self._arrivals, self._returns):
            while times and times[0] < now - horizon:
                times.popleft()
        while self._peaks and self._peaks[0][0] < now - self._hold_s:
            self._peaks.popleft()
