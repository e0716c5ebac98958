"""The webhook delivery worker: sends post-call events to the CRM's endpoints, at least once.

It runs as a background task in each recorder replica (`deployments.recorder_deployment`)
and takes due deliveries from PostgreSQL (`db.webhooks.claim_due`, shared between
replicas by SKIP LOCKED and a lease). Each is POSTed as JSON `{"type", "id",
"created_at", "data"}`, `data` being the call report with `lead` and `campaign`,
signed with the endpoint's secret (`switchboard.webhook_signing`):

- a 2xx marks it delivered, and only a 2xx does;
- a network error, a timeout, 408, 429 or a 5xx is retried after
  `backoff_base_s * 2**(attempt-1)` (at most `backoff_max_s`, a little less with
  jitter, at least a `Retry-After`), until `max_attempts`;
- then, or at once for any other answer (a 4xx says the request itself is refused),
  it moves to the dead-letter list, for `switchboard webhooks replay`.

New events wake the worker at once (LISTEN on `db.webhooks.NOTIFY_CHANNEL`); it also
looks every `poll_interval_s`, which is also how retries come due. A PostgreSQL outage
is waited out; the rows wait in the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from db.queries import call_report
from db.webhooks import (
    NOTIFY_CHANNEL,
    Delivery,
    claim_due,
    freeze_body,
    lead_and_campaign,
    mark_delivered,
    mark_failed,
)
from switchboard.settings import WebhookDeliverySettings, WebhookEndpoint
from switchboard.webhook_metrics import WebhookMetrics
from switchboard.webhook_signing import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

USER_AGENT = "Switchboard-Webhooks/1"
# Answers worth another try: the receiver is overloaded, restarting or timed out.
RETRYABLE_STATUS = frozenset({408, 429})
# PostgreSQL away: wait and look again; never the delivery's fault.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.UndefinedTableError,  # not migrated yet
)
# A lease outlives the request's own timeout by this much, so a slow but live worker
# keeps its delivery.
_LEASE_MARGIN_S = 30.0


def retry_delay_s(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    jitter: float | None = None,
) -> float:
    """How long to wait after failed attempt `attempt` (from 1) before the next.

    Exponential, capped at `max_s`, then shortened by up to 20% at random (`jitter` in
    [0, 1), random when None) so receivers coming back from an outage are not hit by
    every retry at once. A receiver's `Retry-After` is honoured up to `max_s`.
    """
    delay = min(max_s, base_s * 2 ** (attempt - 1))
    delay *= 1 - 0.2 * (random.random() if jitter is None else jitter)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, max_s))
    return delay


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # absent, or an HTTP date (rare from webhook receivers)


async def webhook_data(pool: asyncpg.Pool, call_sid: str) -> dict[str, Any] | None:
    """What a webhook's `data` is: the call report, with `lead` and `campaign`."""
    report = await call_report(pool, call_sid)
    if report is None:
        return None
    lead, campaign = await lead_and_campaign(pool, report)
    return {**report, "lead": lead, "campaign": campaign}


def webhook_body(delivery: Delivery, data: dict[str, Any]) -> str:
    """The request body of `delivery`'s event."""
    return json.dumps(
        {
            "type": delivery.type,
            "id": delivery.event_id,
            "created_at": delivery.created_at.isoformat(),
            "data": data,
        },
        separators=(",", ":"),
    )


class WebhookDeliverer:
    """Delivers due webhook events to `endpoints` (by URL) from `pool`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        endpoints: Sequence[WebhookEndpoint],
        settings: WebhookDeliverySettings,
        *,
        client: httpx.AsyncClient | None = None,
        metrics: WebhookMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = pool
        self._endpoints = {endpoint.url: endpoint for endpoint in endpoints}
        self._settings = settings
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        self._owns_client = client is None
        self._metrics = metrics or WebhookMetrics.get()
        self._clock = clock
        self._lease_s = settings.timeout_s + _LEASE_MARGIN_S
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._listener: asyncpg.Connection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; outages are waited out, never raised."""
        backoff = 0.0
        try:
            while not stop.is_set():
                try:
                    await self._listen()
                    self._wake.clear()
                    started = await self._start_due()
                    backoff = 0.0
                except _UNAVAILABLE as exc:
                    backoff = min(max(backoff * 2, 0.5), 10.0)
                    log.warning("webhook delivery waiting %.1fs: %r", backoff, exc)
                    await self._unlisten()
                    await _wait_any(stop, timeout=backoff)
                    continue
                except Exception:
                    backoff = min(max(backoff * 2, 0.5), 10.0)
                    log.exception("webhook delivery failed; retrying in %.1fs", backoff)
                    await _wait_any(stop, timeout=backoff)
                    continue
                if started and len(self._in_flight) < self._settings.batch_size:
                    continue  # more may be due right now
                # A NOTIFY, a finished attempt (room for more) or the poll interval.
                await _wait_any(stop, self._wake, timeout=self._settings.poll_interval_s)
        finally:
            await self.close()

    async def deliver_once(self) -> int:
        """Claim what is due and send it, waiting for every answer; returns how many
        attempts were made. Raises if PostgreSQL is unreachable."""
        claimed = await claim_due(
            self._pool, list(self._endpoints), self._settings.batch_size, self._lease_s
        )
        await asyncio.gather(*(self._attempt(delivery) for delivery in claimed))
        return len(claimed)

    async def close(self) -> None:
        """Let attempts under way finish (a 2xx not marked delivered would be sent
        again), for as long as one request may take; then stop the rest."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=self._settings.timeout_s)
        for task in list(self._in_flight):
            task.cancel()  # its lease runs out and another worker (or we) retry it
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._unlisten()
        if self._owns_client:
            await self._client.aclose()

    async def _start_due(self) -> int:
        room = self._settings.batch_size - len(self._in_flight)
        if room <= 0:
            return 0
        claimed = await claim_due(self._pool, list(self._endpoints), room, self._lease_s)
        for delivery in claimed:
            task = asyncio.create_task(self._attempt(delivery))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Its row stays leased, then due again: nothing is lost.
            log.error("webhook attempt failed: %r", task.exception())
        self._wake.set()

    async def _attempt(self, delivery: Delivery) -> None:
        endpoint = self._endpoints.get(delivery.endpoint)
        if endpoint is None:
            await self._failed(delivery, None, "endpoint no longer configured", retry=False)
            return
        body = delivery.body
        if body is None:
            data = await webhook_data(self._pool, delivery.call_sid)
            if data is None:
                await self._failed(delivery, None, "the call has no record", retry=False)
                return
            body = await freeze_body(self._pool, delivery.id, webhook_body(delivery, data))
        content = body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(content, endpoint.secret.get_secret_value()),
        }
        try:
            response = await self._client.post(
                endpoint.url, content=content, headers=headers, timeout=self._settings.timeout_s
            )
        except httpx.HTTPError as exc:  # refused, reset, timed out, bad TLS, ...
            await self._failed(delivery, None, f"{type(exc).__name__}: {exc}", retry=True)
            return
        if response.is_success:
            if await mark_delivered(self._pool, delivery, response.status_code):
                self._metrics.attempted(delivery.type, "delivered")
                delay = (self._clock() - delivery.created_at).total_seconds() * 1000
                self._metrics.delivered_after(delivery.type, max(0.0, delay))
            return
        status = response.status_code
        await self._failed(
            delivery,
            status,
            f"HTTP {status}: {response.text[:500]}",
            retry=status >= 500 or status in RETRYABLE_STATUS,
            retry_after_s=_retry_after_s(response),
        )

    async def _failed(
        self,
        delivery: Delivery,
        status_code: int | None,
        error: str,
        *,
        retry: bool,
        retry_after_s: float | None = None,
    ) -> None:
        retry_in = None
        if retry and delivery.attempt < self._settings.max_attempts:
            retry_in = retry_delay_s(
                delivery.attempt,
                base_s=self._settings.backoff_base_s,
                max_s=self._settings.backoff_max_s,
                retry_after_s=retry_after_s,
            )
        if not await mark_failed(
            self._pool, delivery, retry_in_s=retry_in, status_code=status_code, error=error
        ):
            return  # taken over by another worker, or replayed, meanwhile
        result = "retried" if retry_in is not None else "dead"
        self._metrics.attempted(delivery.type, result)
        log_at = log.info if retry_in is not None else log.error
        log_at(
            "webhook %s %s to %s attempt %d: %s; %s",
            delivery.type,
            delivery.event_id,
            delivery.endpoint,
            delivery.attempt,
            error[:200],
            f"retry in {retry_in:.1f}s" if retry_in is not None else "moved to the dead letters",
        )

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        await self._unlisten()
        conn = await self._pool.acquire()
        try:
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        except BaseException:
            await self._pool.release(conn)
            raise
        self._listener = conn

    async def _unlisten(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.remove_listener(NOTIFY_CHANNEL, self._notified)
            with contextlib.suppress(Exception):
                await self._pool.release(conn)

    def _notified(self, *_: object) -> None:
        self._wake.set()


async def _wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Return when any of `events` is set, or after `timeout` seconds."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
