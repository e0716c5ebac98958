"""The ingress's free capacity for outbound calls, and the dialer's reservations of it.

The ingress counts live calls across its replicas in Redis (the call registry's live
set), and its capacity from the replicas alive (`deployments.ingress_capacity`, which
also counts these reservations when it answers an inbound call). A call the dialer
placed is not live until the lead answers, so each dial first reserves a place
(DESIGN.md: "The dialer reserves capacity before it dials"): a member of a sorted set,
scored by when it lapses. A reservation is released when its attempt settles, and
lapses on its own after `hold_s` (the ring time and then some), so a crashed dialer's
reservations cannot hold capacity for good. While a call is both reserved and live it
counts twice: for a moment the dialer dials less, never more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from deployments.ingress_capacity import IngressCapacity

# A fixed number of calls, or how to learn it (the ingress's replicas alive, each
# `max_calls_per_replica`).
Capacity = int | Callable[[], Awaitable[int]]


class DialCapacity:
    """Places for outbound calls within `capacity` calls at once, live ones included,
    held in the ingress's count for `hold_s` each."""

    def __init__(self, ingress: IngressCapacity, *, capacity: Capacity, hold_s: float) -> None:
        self._ingress = ingress
        self._capacity = capacity
        self._hold_s = hold_s

    async def free(self) -> int:
        """Places free now (a hint for pacing; `reserve` decides)."""
        return max(0, await self._places() - await self._ingress.in_use())

    async def reserve(self, attempt_key: str) -> bool:
        return await self._ingress.reserve(attempt_key, await self._places(), self._hold_s)

    async def release(self, attempt_key: str) -> None:
        await self._ingress.release(attempt_key)

    async def _places(self) -> int:
        return self._capacity if isinstance(self._capacity, int) else await self._capacity()
