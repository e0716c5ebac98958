"""The recorder: moves outbox events from Redis into PostgreSQL, each exactly once in effect.

Delivery is at least once, application idempotent (see `db.apply`):

- events are read with a consumer group (`recorder`); each is applied in its own
  PostgreSQL transaction and acknowledged (XACK, and XDEL so the stream only holds work
  still to do) only after that transaction commits;
- entries left pending by a consumer that crashed are taken over with XAUTOCLAIM once
  idle for `claim_idle_ms` (longer than the longest retry backoff, so a live consumer
  waiting out an outage keeps its own entries);
- an event that can never apply (bad JSON, unknown type, data PostgreSQL rejects, or
  one that keeps failing) is moved to `{prefix}:outbox:dead` with the reason, so it
  neither blocks the events behind it nor is retried forever;
- while PostgreSQL (or Redis) is unreachable nothing is acknowledged and nothing counts
  as a failed attempt: the events wait in the stream, in order, until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import redis.asyncio as redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from db.apply import apply_event
from db.events import UndecodableEvent, decode
from db.outbox import dead_letter_key, outbox_key
from db.webhooks import record_call_events
from switchboard import tracing
from switchboard.logging_setup import call_context
from switchboard.settings import WebhookEndpoint

log = logging.getLogger(__name__)

GROUP = "recorder"
DEAD_LETTER_MAXLEN = 100_000

# PostgreSQL is away or not ready: wait and retry; it is never the event's fault.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionRefusedError
    TimeoutError,
    asyncpg.InterfaceError,  # connection closed under us
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash recovery
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.UndefinedTableError,  # schema not migrated yet
    asyncpg.exceptions.UndefinedColumnError,
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization: try again
)
# The event itself is wrong: retrying cannot help.
_BAD_EVENT: tuple[type[BaseException], ...] = (
    UndecodableEvent,
    ValueError,
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
)
_REDIS_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class Recorder:
    """Consumes `{prefix}:outbox` as consumer `consumer` of the group `recorder`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: redis.Redis,
        prefix: str,
        consumer: str,
        *,
        block_ms: int = 200,
        batch_size: int = 100,
        claim_idle_ms: int = 10_000,
        max_attempts: int = 5,
        acquire_timeout_s: float = 5.0,
        webhooks: Sequence[WebhookEndpoint] = (),
    ) -> None:
        self._pool = pool
        self._redis = redis
        self.stream = outbox_key(prefix)
        self.dead_letters = dead_letter_key(prefix)
        self.consumer = consumer
        self._block_ms = block_ms
        self._batch_size = batch_size
        self._claim_idle_ms = claim_idle_ms
        self._max_attempts = max_attempts
        self._acquire_timeout_s = acquire_timeout_s
        # Endpoints that get post-call events, made with the record that ends a call.
        self._webhooks = tuple(webhooks)
        # Failed attempts per entry id, for errors that are neither an outage nor
        # plainly the event's fault; in memory only, like the retry loop itself.
        self._attempts: dict[str, int] = {}
        self._group_ready = False
        self._next_claim_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Record until `stop` is set; outages are waited out, never raised."""
        backoff = 0.0
        while not stop.is_set():
            try:
                await self._step(block=True)
                backoff = 0.0
            except (*_UNAVAILABLE, *_REDIS_UNAVAILABLE) as exc:
                backoff = min(max(backoff * 2, 0.2), 5.0)
                log.warning("recorder %s waiting %.1fs: %r", self.consumer, backoff, exc)
            except Exception:
                # Counted against the entry in _handle; the loop itself must not die.
                backoff = min(max(backoff * 2, 0.2), 5.0)
                log.exception("recorder %s failed; retrying in %.1fs", self.consumer, backoff)
            else:
                continue
            # Wake early when asked to stop.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)

    async def drain_once(self) -> int:
        """One pass without blocking: claim stale entries, then apply what is waiting.

        Returns how many entries were dealt with (applied or dead-lettered). Raises
        if PostgreSQL or Redis is unreachable; what was done until then stays done.
        """
        return await self._step(block=False)

    async def backlog(self) -> int:
        """Entries not yet recorded (applied entries leave the stream)."""
        return await self._redis.xlen(self.stream)

    async def _step(self, *, block: bool) -> int:
        await self._ensure_group()
        try:
            # XAUTOCLAIM walks the whole pending list: once a second is plenty.
            if not block or time.monotonic() >= self._next_claim_at:
                await self._claim_stale()
                self._next_claim_at = time.monotonic() + 1.0
            # Our own pending entries first: left by a failed attempt, a claim or a
            # restart under the same consumer name. Then new ones, waiting only if idle.
            entries = await self._read("0", block_ms=None)
            if not entries:
                entries = await self._read(">", block_ms=self._block_ms if block else None)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The stream (and its group) vanished, e.g. Redis restarted without AOF.
            log.error("outbox %s lost its consumer group; recreating it", self.stream)
            self._group_ready = False
            return 0
        done = 0
        for entry_id, fields in entries:
            with call_context(_call_sid_of(fields)):
                await self._handle(entry_id, fields)
            done += 1
        return done

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _claim_stale(self) -> None:
        start = "0-0"
        while True:
            reply = await self._redis.xautoclaim(
                self.stream, GROUP, self.consumer, self._claim_idle_ms, start,
                count=self._batch_size,
            )
            # (JUSTID would be lighter, but redis-py then drops the cursor.)
            start = _text(reply[0])
            if reply[1]:
                log.info("recorder %s claimed %d stale entries", self.consumer, len(reply[1]))
            if start == "0-0":
                return

    async def _read(self, start: str, *, block_ms: int | None) -> list[tuple[str, dict[str, str]]]:
        reply = await self._redis.xreadgroup(
            GROUP, self.consumer, {self.stream: start}, count=self._batch_size, block=block_ms
        )
        entries = []
        for _stream, messages in reply or []:
            for entry_id, fields in messages:
                entries.append(
                    (_text(entry_id), {_text(k): _text(v) for k, v in (fields or {}).items()})
                )
        return entries

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        if not fields:
            # Pending, but the entry itself was deleted: nothing left to apply.
            await self._ack(entry_id)
            return
        try:
            event = decode(fields)
            # Under the span that wrote the event (its `trace`): the call's trace shows
            # when its record was written.
            with tracing.span(
                f"recorder.{event.type}",
                event.trace,
                kind=tracing.SpanKind.CONSUMER,
                attributes={"call.sid": _call_sid_of(fields), "outbox.entry_id": entry_id},
            ):
                async with (
                    self._pool.acquire(timeout=self._acquire_timeout_s) as conn,
                    conn.transaction(),
                ):
                    await apply_event(conn, event, entry_id)
                    # Same transaction: a final record and its webhook events commit
                    # together.
                    await record_call_events(conn, event, self._webhooks)
        # The event's fault first: asyncpg's client-side DataError is also an InterfaceError.
        except _BAD_EVENT as exc:
            await self._dead_letter(entry_id, fields, exc)
            return
        except _UNAVAILABLE:
            raise
        except Exception as exc:
            # Neither an outage nor plainly the event: retry a few times, then give up on it.
            attempts = self._attempts.get(entry_id, 0) + 1
            if attempts >= self._max_attempts:
                await self._dead_letter(entry_id, fields, exc)
                return
            self._attempts[entry_id] = attempts
            raise
        await self._ack(entry_id)

    async def _ack(self, entry_id: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, entry_id)
            pipe.xdel(self.stream, entry_id)
            await pipe.execute()
        self._attempts.pop(entry_id, None)

    async def _dead_letter(self, entry_id: str, fields: dict[str, str], exc: BaseException) -> None:
        log.error("outbox entry %s moved to %s: %r", entry_id, self.dead_letters, exc)
        record: dict[str, Any] = {
            **fields,
            "original_id": entry_id,
            "error": repr(exc)[:2000],
            "consumer": self.consumer,
            "dead_at": f"{time.time():.3f}",
        }
        # One MULTI: the entry is either still pending or dead-lettered, never both/neither.
        async with self._redis.pipeline(transaction=True) as pipe:
            # Capped (approximately) so a flood of bad events cannot fill Redis.
            pipe.xadd(self.dead_letters, record, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
            pipe.xack(self.stream, GROUP, entry_id)
            pipe.xdel(self.stream, entry_id)
            await pipe.execute()
        self._attempts.pop(entry_id, None)


def _call_sid_of(fields: dict[str, str]) -> str | None:
    """The call an entry is about, for the lines logged while applying it (read
    leniently: an entry that does not decode is logged all the same)."""
    try:
        data = json.loads(fields.get("data") or "{}")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    call_sid = data.get("call_sid") or (data.get("session") or {}).get("call_sid")
    return call_sid if isinstance(call_sid, str) else None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
