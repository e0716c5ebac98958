"""The call sweeper: ends the calls nobody can carry on, so none stays in progress forever.

A call is abandoned by its servers when its session actor and its media stream are
both gone and no reconnect resumed it within the grace period: nobody heartbeats it in
the call registry any more. Every ingress replica sweeps (a takeover in the registry
decides which one finalises a call, so two never both do); the ingress also finalises
at once a call it found it cannot resume (no checkpoint to resume from).

Finalising takes the call over (fencing out any actor that might wake up), ends it
`failed` with the outcome its last checkpoint reached and an errors line saying why,
closes its budget (which returns a premium hold at once; the hold's lease would return
it anyway), and marks it ended in the registry so a late reconnect is hung up.
"""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from ray.serve.handle import DeploymentHandle
from redis.exceptions import RedisError

from actors.budget_ledger import CallCost
from actors.checkpoint import SessionCheckpoints
from actors.direct_path import DirectResponder
from actors.registry import CallRegistry
from db.events import CallFailed
from db.outbox import FencedOutbox, StaleWriter
from switchboard.live_config import call_settings_or_base
from switchboard.metrics import VoiceAgentIntegrationMetrics
from switchboard.settings import VoiceAgentIntegrationConfig

logger = logging.getLogger("ray.serve")

BUDGET_TIMEOUT_S = 2.0


class CallSweeper:
    """Finalises calls that cannot go on."""

    def __init__(
        self,
        redis: aioredis.Redis,
        settings: VoiceAgentIntegrationConfig,
        *,
        budget: DeploymentHandle | None = None,
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._budget = budget
        prefix, ttl = settings.redis_prefix, settings.performance.session_ttl_s
        self.registry = CallRegistry(redis, prefix, ttl)
        self._checkpoints = SessionCheckpoints(redis, prefix, ttl)
        self.finalised = 0

    async def run_forever(self) -> None:
        """Sweep every `sweep_interval_s`; outages are waited out, never raised."""
        every_s = self._settings.recovery.sweep_interval_s
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.sweep_once()
            except (RedisError, OSError) as exc:
                logger.warning(f"call sweep skipped: {exc!r}")
            except Exception:
                logger.exception("call sweep failed")

    async def sweep_once(self) -> list[str]:
        """Finalise every call nobody served for the grace period; their CallSids."""
        grace = self._settings.recovery.resume_grace_s
        before = time.time() - grace
        swept = []
        for call_sid in await self.registry.stale(before):
            generation = await self.registry.take_over(call_sid, stale_before=before)
            if generation is None:
                continue  # resumed, ended, or another replica is on it
            reason = (
                f"no session actor or media stream served the call for {grace:g} s, and it "
                "was not resumed"
            )
            await self.finalise(call_sid, reason, generation=generation)
            swept.append(call_sid)
        return swept

    async def finalise(
        self, call_sid: str, reason: str, *, generation: int | None = None,
        cause: str = "abandoned",
    ) -> bool:
        """End the call `failed` with what its last checkpoint knew; False if it had ended
        or was taken over by another generation meanwhile.
        `cause` tags the failed-calls metric (`switchboard.metrics.CALL_FAILURE_CAUSES`)."""
        if generation is None:
            generation = await self.registry.take_over(call_sid)
            if generation is None:
                return False
        fence = self.registry.fence(call_sid, generation)
        checkpoint = await self._checkpoints.load(call_sid)
        event = CallFailed(call_sid=call_sid, message=f"call failed: {reason}")
        if checkpoint is not None:
            session = checkpoint.session
            # Judged by the rules the call ran on: its live block and experiment variant.
            settings = call_settings_or_base(session.live_settings_ref(), self._settings,
                                             call_sid)
            responder = DirectResponder(settings, session)
            responder.restore(checkpoint.responder)
            view = responder.view()
            event = CallFailed(
                call_sid=call_sid,
                message=event.message,
                session=session,
                outcome=responder.final_outcome(),
                facts=view.facts,
                qualification_score=view.qualification_score,
            )
        cost = await self._close_budget(call_sid)
        if cost is not None:
            event.cost_usd, event.cost_breakdown = cost.as_floats()
        outbox = FencedOutbox(
            self._redis, self._settings.redis_prefix, fence_key=fence.key, generation=generation
        )
        try:
            await outbox.call_failed(event)
        except StaleWriter:
            # Taken over again while we finalised (a relay's replacement actor): the
            # newer generation serves the call, and its end is that generation's to write.
            logger.info(
                f"call {call_sid}: not finalised, a newer generation took it over",
                extra={"call_sid": call_sid},
            )
            return False
        await self.registry.end(fence, call_sid)
        await self._checkpoints.delete(call_sid)
        self.finalised += 1
        metrics = VoiceAgentIntegrationMetrics.get()
        metrics.call_failed(cause)
        if event.cost_usd is not None:
            metrics.call_ended("failed", event.cost_usd)
        logger.warning(
            f"call {call_sid} finalised as failed: {reason}", extra={"call_sid": call_sid}
        )
        return True

    async def _close_budget(self, call_sid: str) -> CallCost | None:
        if self._budget is None:
            return None
        try:
            return await asyncio.wait_for(self._budget.end_call.remote(call_sid), BUDGET_TIMEOUT_S)
        except Exception as exc:  # the hold's lease returns it later
            logger.warning(
                f"call {call_sid}: budget not closed: {exc!r}", extra={"call_sid": call_sid}
            )
            return None
