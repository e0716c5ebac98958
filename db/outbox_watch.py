"""`OutboxWatch`: how far the records are behind, as metrics.

The outbox (`db.outbox`) holds every call event not yet in PostgreSQL; the recorder
deletes an entry once it is committed. So its length is the backlog, and the age of its
first entry (a stream id starts with the milliseconds of its append) is how long the
oldest event has waited: the figure that grows while PostgreSQL is away or the recorder
falls behind. Each recorder replica publishes both, every `WATCH_S`: the stream is
shared, so the replicas agree, and a dashboard takes their `max`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import redis.asyncio as redis
from ray.serve.metrics import Gauge
from redis.exceptions import RedisError

from db.outbox import outbox_key
from switchboard.metrics import LiveGauge

log = logging.getLogger("ray.serve")

WATCH_S = 5.0


def entry_age_s(entry_id: str, now_s: float) -> float:
    """Seconds since a stream entry was appended (its id is `<ms>-<seq>`)."""
    appended_ms = int(entry_id.partition("-")[0])
    return max(0.0, now_s - appended_ms / 1000)


class OutboxWatch:
    """Publishes the outbox's backlog and its oldest entry's age (0 when empty)."""

    def __init__(self, redis_client: redis.Redis, prefix: str) -> None:
        self._redis = redis_client
        self.stream = outbox_key(prefix)
        self.backlog = LiveGauge(Gauge(
            "switchboard_outbox_backlog",
            "Call events in the outbox not yet recorded in PostgreSQL",
        ), zero=[{}])  # fmt: skip
        self.oldest_age = LiveGauge(Gauge(
            "switchboard_outbox_oldest_age_s",
            "Seconds the oldest call event in the outbox has waited to be recorded",
        ), zero=[{}])  # fmt: skip

    async def observe_once(self) -> tuple[int, float]:
        """Read the stream, publish, and return (backlog, oldest age in seconds)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.stream)
            pipe.xrange(self.stream, count=1)
            length, first = await pipe.execute()
        age = 0.0
        if first:
            entry_id = first[0][0]
            if isinstance(entry_id, bytes):
                entry_id = entry_id.decode()
            age = entry_age_s(entry_id, time.time())
        self.backlog.set(length)
        self.oldest_age.set(age)
        return length, age

    async def run(self, stop: asyncio.Event) -> None:
        """Publish every `WATCH_S` until `stop`; while Redis is away the last values stay."""
        while not stop.is_set():
            try:
                await self.observe_once()
            except (RedisError, OSError) as exc:
                log.warning("outbox watch: cannot read %s: %r", self.stream, exc)
            except Exception:  # a bug here must not stop the figures for good
                log.exception("outbox watch failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=WATCH_S)
