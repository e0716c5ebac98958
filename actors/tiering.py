"""A call's side of the budget: its usage goes to the budget deployment after each turn,
it asks for the premium tier when it earns it, and it learns its tier back.

The budget deployment (`deployments.budget_deployment`) owns the money and every decision; this
class only keeps the session's `CallSession.tier` in step with it, so the next turn
goes to the orchestrator with the tier the budget allows. Nothing here may keep a
caller waiting: the work of a turn runs in the background, in order, after the turn,
and a budget that cannot be reached leaves the call on the economy tier with an error
in its record instead of failing it.

Usage goes as deltas, each with an update id the ledger applies once, so an update that
timed out but did land is not counted twice when it is sent again. Update ids carry the
call's generation: a replacement actor after a failure never reuses an id of the actor
it replaced, and starts from the usage and tier the ledger already has (`resume`).

While the call holds the premium tier it renews the budget's lease on its hold; a call
whose actor dies stops renewing, and the budget returns the hold when the lease ends.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ray.serve.handle import DeploymentHandle

from actors.budget_ledger import CallBudget, CallCost, UsageDelta, UsageResult
from actors.responder import ResponderView
from actors.usage import CallUsage
from graph.workflow.policy import wants_premium
from switchboard import tracing
from switchboard.models import CallSession, Tier, TierDecision
from switchboard.settings import VoiceAgentIntegrationConfig

logger = logging.getLogger("ray")

# A budget slower than this is treated as unreachable for that step.
BUDGET_TIMEOUT_S = 2.0


class CallTiering:
    """Reports a call's usage to the budget and keeps its tier."""

    def __init__(
        self,
        budget: DeploymentHandle | None,
        session: CallSession,
        usage: CallUsage,
        settings: VoiceAgentIntegrationConfig,
        on_error: Callable[[str], Awaitable[None]],
        *,
        generation: int = 1,
    ) -> None:
        self._budget = budget
        self._session = session
        self._usage = usage
        self._settings = settings
        self._on_error = on_error
        self._reported = CallUsage()
        self._unsent: list[tuple[str, UsageDelta]] = []
        self._updates = 0
        self._asked_for: tuple[float, float | None] | None = None
        self._work: asyncio.Task | None = None
        self._budget_failing = False
        self._generation = generation
        self._lease_task: asyncio.Task | None = None

    @property
    def premium_asked_for(self) -> tuple[float, float | None] | None:
        """The last premium ask (score, budget), for the call's checkpoint."""
        return self._asked_for

    async def resume(self, asked_for: tuple[float, float | None] | None) -> None:
        """Carry on a call another actor served: the usage and tier the ledger has."""
        self._asked_for = asked_for
        if self._budget is None:
            return
        try:
            known: CallBudget = await self._ask(
                self._budget.call_budget.remote(self._session.call_sid)
            )
        except Exception as exc:
            await self._budget_error("usage so far not read", exc)
            return
        units = known.units
        for usage in (self._usage, self._reported):
            usage.stt_seconds = units.stt_ms / 1000
            usage.tts_characters = units.tts_characters
            usage.llm_tokens = {"economy": units.economy_tokens, "premium": units.premium_tokens}
        self._reported.call_seconds = units.telephony_ms / 1000
        self.apply(known.tier)

    @property
    def enabled(self) -> bool:
        return self._budget is not None

    def after_turn(self, view: ResponderView) -> None:
        """Settle the turn with the budget in the background, after the previous one."""
        if self._budget is None:
            return
        previous = self._work
        self._work = asyncio.create_task(self._settle(previous, view))

    def apply(self, tier: Tier) -> None:
        """The budget changed the tier of this call (an admin forced or revoked it)."""
        if tier != self._session.tier:
            logger.info(f"call {self._session.call_sid}: tier {self._session.tier} → {tier}")
        self._session.tier = tier
        if tier == "premium" and self._budget is not None and self._lease_task is None:
            self._lease_task = asyncio.create_task(self._renew_lease_forever())

    async def _renew_lease_forever(self) -> None:
        """Keep the premium hold's lease while the call is premium."""
        assert self._budget is not None
        every_s = self._settings.tier_escalation.hold_lease_s / 3
        while self._session.tier == "premium":
            await asyncio.sleep(every_s)
            try:
                tier = await self._ask(self._budget.renew_hold.remote(self._session.call_sid))
            except Exception as exc:  # the next renewal tries again; a turn renews too
                logger.warning(f"call {self._session.call_sid}: lease not renewed: {exc!r}")
                continue
            self._session.tier = tier
        self._lease_task = None

    async def close(self) -> tuple[float, dict[str, float]]:
        """The call is over: last usage, the hold released, and the call's final cost."""
        self.stop()
        if self._work is not None:
            await asyncio.gather(self._work, return_exceptions=True)
        if self._budget is None or self._budget_failing:
            # A budget that failed this call's last step is not waited for again: the
            # record must be final within seconds of the call's end.
            return self._local_cost()
        await self._send_usage()
        if self._budget_failing:
            return self._local_cost()
        try:
            cost: CallCost = await self._ask(
                self._budget.end_call.remote(self._session.call_sid, **_traced())
            )
        except Exception as exc:
            await self._budget_error("could not close the call's budget", exc)
            return self._local_cost()
        return cost.as_floats()

    def stop(self) -> None:
        """No more renewals (the call ended, or another actor took it over)."""
        if self._lease_task is not None:
            self._lease_task.cancel()
            self._lease_task = None

    # The turn

    async def _settle(self, previous: asyncio.Task | None, view: ResponderView) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            await self._send_usage()
            await self._maybe_ask_premium(view)
        except Exception:  # never let bookkeeping take the call down
            logger.exception(f"call {self._session.call_sid}: budget step failed")

    async def _send_usage(self) -> None:
        assert self._budget is not None
        self._usage.call_seconds = time.time() - self._session.started_at
        delta = UsageDelta.between(self._reported, self._usage)
        if any(delta.in_order()):
            self._updates += 1
            self._unsent.append((f"g{self._generation}-usage-{self._updates}", delta))
            self._reported = copy.deepcopy(self._usage)
        while self._unsent:
            update_id, delta = self._unsent[0]
            try:
                result: UsageResult = await self._ask(
                    self._budget.record_usage.remote(
                        self._session.call_sid, delta, update_id, config=self._live_config(),
                        **_traced(),
                    )
                )
            except Exception as exc:
                await self._budget_error("usage not recorded yet", exc)
                return
            self._unsent.pop(0)
            self._budget_failing = False
            self.apply(result.tier)

    async def _maybe_ask_premium(self, view: ResponderView) -> None:
        assert self._budget is not None
        policy = self._settings.qualification
        facts, score = view.facts, view.qualification_score
        if self._session.tier == "premium" or not wants_premium(facts, policy):
            return
        # Ask again only when the call has more to show than when it was last refused.
        asked = (score, facts.budget_usd)
        if self._asked_for is not None and not _better(asked, self._asked_for):
            return
        self._asked_for = asked
        trigger = "qualification_score" if score >= policy.premium_score else "stated_budget"
        try:
            decision: TierDecision = await self._ask(
                self._budget.request_premium.remote(
                    self._session.call_sid,
                    trigger=trigger,
                    qualification_score=score,
                    budget_usd=facts.budget_usd,
                    config=self._live_config(),
                    **_traced(),
                )
            )
        except Exception as exc:
            self._asked_for = None  # ask again after the next turn
            await self._budget_error("premium tier not requested", exc)
            return
        self._budget_failing = False
        if decision.approved:
            self.apply(decision.tier)

    # Helpers

    def _live_config(self) -> dict[str, Any]:
        """The call's live settings, so its prices and caps are the ones it started with."""
        return {"version": self._session.config_version, "block": self._session.live_config}

    async def _ask(self, response: Awaitable) -> object:
        return await asyncio.wait_for(response, BUDGET_TIMEOUT_S)

    async def _budget_error(self, what: str, exc: BaseException) -> None:
        logger.warning(f"call {self._session.call_sid}: {what}: {exc!r}")
        if not self._budget_failing:  # one line in the record per outage, not per turn
            self._budget_failing = True
            await self._on_error(f"budget unavailable: {what} ({type(exc).__name__})")

    def _local_cost(self) -> tuple[float, dict[str, float]]:
        """Without the budget: the same prices, applied here (nothing was decided)."""
        self._usage.call_seconds = time.time() - self._session.started_at
        prices = self._settings.tier_escalation
        return self._usage.cost_usd(prices), self._usage.cost_breakdown(prices)


def _traced() -> dict[str, Any]:
    """The budget's `trace` argument: the current span (the turn's, or the call's at
    its end), which the budget's span hangs under. Given only when tracing is on, so an
    untraced call asks exactly as before."""
    carrier = tracing.inject()
    return {"trace": carrier} if carrier else {}


def _better(now: tuple[float, float | None], before: tuple[float, float | None]) -> bool:
    score, budget = now
    old_score, old_budget = before
    return score > old_score or (budget or 0.0) > (old_budget or 0.0)
