"""The dialer's work, one tick at a time: resume, settle, dial, complete.

Each tick, for every running campaign:
1. **Resume** attempts written but not known to have reached Twilio (`queued`: a
   dialer died between writing one and hearing back from `calls.create`): Twilio is
   asked whether the call exists (`OutboundCalls.find`); only if it does not is it
   placed. So no attempt is ever dialled twice.
2. **Settle** attempts in flight from what PostgreSQL knows of their call: Twilio's
   status callbacks (`call_status_events`: busy, no-answer, failed, AnsweredBy) and the
   call's record (final, with its outcome). The lead is then finished or due again
   (`retry_policy`).
3. **Dial** due leads within their calling hours (`switchboard.calling_hours`, on the
   dialer's clock: wall time plus `SWITCHBOARD_CLOCK_OFFSET_S`), paced
   (`dial_pacing`) and within the ingress's free capacity, reserved before each dial
   (`dial_capacity`). The do-not-call list is read at the moment of dialling; a listed
   lead's attempt is `skipped`. The attempt is written (`queued`, with its key) before
   `calls.create` is asked, with `?attempt=KEY` on the voice URL.
4. **Complete** running campaigns with no lead left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from actors.outbound_calls import OutboundCallError, OutboundCalls, voice_url
from db.call_attempts import (
    Attempt,
    CampaignRules,
    DueLead,
    attempt_by_key,
    attempts_in_flight,
    campaign_load,
    campaign_of,
    complete_finished_campaigns,
    defer_lead,
    due_leads,
    finish_lead,
    known_call_sids,
    mark_dialing,
    mark_in_progress,
    running_campaigns,
    settle_attempt,
    skip_attempt,
    unplaced_attempts,
    withdraw_attempt,
    write_attempt,
)
from db.queries import is_do_not_call
from deployments.dial_capacity import DialCapacity
from deployments.dial_pacing import PACING_WINDOW_S, CampaignLoad, Pacing, calls_allowed
from deployments.dialer_metrics import DialerMetrics
from deployments.retry_policy import after_attempt
from switchboard.calling_hours import is_open, next_opening
from switchboard.lead_import import time_zones_of
from switchboard.settings import CampaignSettings

logger = logging.getLogger("ray.serve")

# Twilio's final call statuses, as attempt statuses.
TWILIO_ENDINGS = {"busy": "busy", "no-answer": "no_answer", "failed": "failed",
                  "canceled": "failed"}  # fmt: skip


def dialer_clock(offset_s: float) -> Callable[[], datetime]:
    """Wall time moved by `offset_s` (`SWITCHBOARD_CLOCK_OFFSET_S`)."""
    return lambda: datetime.now(UTC) + timedelta(seconds=offset_s)


def answered_by_machine(answered_by: str | None) -> bool:
    return bool(answered_by) and (answered_by.startswith("machine") or answered_by == "fax")


class Dialer:
    """Places and follows a campaign's calls; `tick` does one round of everything."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        calls: OutboundCalls,
        capacity: DialCapacity,
        *,
        settings: CampaignSettings,
        public_url: str,
        clock: Callable[[], datetime],
        metrics: DialerMetrics | None = None,
    ) -> None:
        self._pool = pool
        self._calls = calls
        self._capacity = capacity
        self._settings = settings
        self._public_url = public_url
        self._clock = clock
        self._metrics = metrics

    async def tick(self) -> None:
        await self.resume_unplaced()
        await self.settle_in_flight()
        for campaign in await running_campaigns(self._pool):
            await self.dial(campaign)
        for campaign_id in await complete_finished_campaigns(self._pool):
            logger.info(f"campaign {campaign_id}: every lead is finished; completed")

    # 1. Resume

    async def resume_unplaced(self) -> None:
        for attempt in await unplaced_attempts(self._pool):
            known = await known_call_sids(self._pool, attempt.number)
            try:
                found = await self._calls.find(
                    to=attempt.number, from_=self._settings.caller_id,
                    since=attempt.created_at, known=known,
                )
            except OutboundCallError as exc:
                logger.warning(f"attempt {attempt.key}: cannot ask Twilio about it yet: {exc}")
                continue
            if found is not None:
                logger.info(f"attempt {attempt.key}: already placed as {found.sid}; "
                            "not dialled again")
                await self._capacity.reserve(attempt.key)  # it rings: count it if there is room
                await mark_dialing(self._pool, attempt.key, found.sid, found.created_at)
                continue
            campaign = await campaign_of(self._pool, attempt.campaign_id)
            if campaign.state != "running":
                # Paused or cancelled meanwhile: it never happened, so it is withdrawn.
                await withdraw_attempt(self._pool, attempt.key)
                logger.info(f"attempt {attempt.key}: never placed; withdrawn (campaign "
                            f"{campaign.state})")
                continue
            # Written within the campaign's concurrency; dialled only now, so its rate is
            # checked again.
            _, recent = await campaign_load(self._pool, campaign.id, PACING_WINDOW_S)
            if recent < campaign.calls_per_minute and await self._capacity.reserve(attempt.key):
                logger.info(f"attempt {attempt.key}: never reached Twilio; placing it now")
                await self._place(attempt.key, attempt.number)

    # 2. Settle

    async def settle_in_flight(self) -> None:
        for attempt in await attempts_in_flight(self._pool):
            await self._settle(attempt)

    async def _settle(self, attempt: Attempt) -> None:
        if attempt.record_final:
            machine = answered_by_machine(attempt.answered_by or attempt.twilio_answered_by)
            status = "voicemail" if machine else "completed"
            await self._end(attempt, status, attempt.outcome, None)
        elif attempt.twilio_status in TWILIO_ENDINGS:
            await self._end(attempt, TWILIO_ENDINGS[attempt.twilio_status], None,
                            f"Twilio: {attempt.twilio_status}")
        elif attempt.twilio_status == "completed":
            # Answered and over; its record becomes final once the recorder has it.
            assert attempt.twilio_status_at is not None
            if self._waited_too_long(attempt.twilio_status_at):
                await self._end(attempt, "failed", None, "the call ended with no final record")
        elif attempt.record_live and attempt.status == "dialing":
            await mark_in_progress(self._pool, attempt.id)
            # Live calls count in the registry from now on.
            await self._capacity.release(attempt.key)
        elif attempt.dialed_at is not None and self._waited_too_long(
            attempt.dialed_at + timedelta(seconds=self._settings.ring_timeout_s)
        ):
            await self._ask_twilio(attempt)

    def _waited_too_long(self, since: datetime) -> bool:
        return datetime.now(UTC) - since > timedelta(seconds=self._settings.no_news_s)

    async def _ask_twilio(self, attempt: Attempt) -> None:
        """No status callback came: Twilio's own word on the call (a lost callback)."""
        if attempt.call_sid is None:
            return
        status = await self._calls.status(attempt.call_sid)
        if status in TWILIO_ENDINGS:
            await self._end(attempt, TWILIO_ENDINGS[status], None, f"Twilio: {status}")
        elif status == "completed" and not attempt.record_live:
            await self._end(attempt, "failed", None, "the call ended with no record")

    async def _end(
        self, attempt: Attempt, status: str, outcome: str | None, error: str | None
    ) -> None:
        campaign = await campaign_of(self._pool, attempt.campaign_id)
        lead_next = after_attempt(
            status, outcome, attempt=attempt.attempt, max_attempts=campaign.max_attempts,
            retry_after_s=campaign.retry_after_s, now=self._clock(),
        )
        settled = await settle_attempt(
            self._pool, attempt, status=status, outcome=outcome, error=error,
            retry_at=lead_next.retry_at,
        )
        await self._capacity.release(attempt.key)
        if not settled:
            return
        if self._metrics is not None:
            self._metrics.settled(status)
        then = "finished" if lead_next.finished else f"due again at {lead_next.retry_at}"
        logger.info(f"attempt {attempt.key}: {status} ({outcome}); lead {then}")

    # 3. Dial

    async def dial(self, campaign: CampaignRules) -> None:
        in_flight, recent = await campaign_load(self._pool, campaign.id, PACING_WINDOW_S)
        allowed = calls_allowed(
            Pacing(campaign.max_concurrent, campaign.calls_per_minute),
            CampaignLoad(in_flight, recent),
            await self._capacity.free(),
        )
        if allowed == 0:
            return
        now = self._clock()
        placed = 0
        # More than `allowed`: some may be outside their calling hours.
        for lead in await due_leads(self._pool, campaign.id, now, limit=allowed * 4 + 8):
            if placed >= allowed:
                break
            if not await self._may_call(campaign, lead, now):
                continue
            key = lead.next_key
            if not await self._capacity.reserve(key):
                break  # the ingress is full: nothing more this tick
            if await write_attempt(self._pool, lead) is None:
                await self._capacity.release(key)
                continue
            await self._place(key, lead.number)
            placed += 1

    async def _may_call(self, campaign: CampaignRules, lead: DueLead, now: datetime) -> bool:
        """Within calling hours, with attempts left and not on the do-not-call list;
        a lead that may not be called now is deferred, finished or skipped."""
        if lead.attempts >= campaign.max_attempts:
            await finish_lead(self._pool, lead.id)
            return False
        zones = self.zones(lead)
        start, end = campaign.window_start, campaign.window_end
        if not is_open(now, zones, start, end):
            opening = next_opening(now, zones, start, end)
            if opening is None:
                await self._skip(lead, f"no calling hours common to {', '.join(zones)}")
            else:
                await defer_lead(self._pool, lead.id, opening)
            return False
        # Read now, not only at import: the lead may have opted out since, anywhere.
        if await is_do_not_call(self._pool, lead.number):
            await self._skip(lead, "on the do-not-call list")
            return False
        return True

    async def _skip(self, lead: DueLead, reason: str) -> None:
        """An attempt that is not made, and the lead finished: recorded, counted, logged."""
        await skip_attempt(self._pool, lead, reason)
        if self._metrics is not None:
            self._metrics.settled("skipped")
        logger.info(f"lead {lead.number}: {reason}; skipped")

    def zones(self, lead: DueLead) -> list[str]:
        """The lead's zone, else every zone its number may ring in, else the fallback."""
        if lead.timezone:
            return [lead.timezone]
        return list(time_zones_of(lead.number)) or [self._settings.fallback_timezone]

    async def _place(self, key: str, number: str) -> None:
        try:
            call = await self._calls.place(
                to=number,
                from_=self._settings.caller_id,
                url=voice_url(self._public_url, key),
                status_callback=f"{self._public_url}/twilio/status",
                timeout_s=self._settings.ring_timeout_s,
            )
        except OutboundCallError as exc:
            if not exc.refused:
                # It may exist: left `queued`, the next tick asks Twilio before dialling.
                logger.warning(f"attempt {key}: {exc}; will ask Twilio whether it was placed")
                return
            logger.warning(f"attempt {key}: {exc}")
            attempt = await attempt_by_key(self._pool, key)
            if attempt is not None:
                await self._end(attempt, "failed", None, str(exc))
            return
        await mark_dialing(self._pool, key, call.sid)
        if self._metrics is not None:
            self._metrics.dialled()
        logger.info(f"attempt {key}: dialled {number} as {call.sid}")
