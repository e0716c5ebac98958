"""The outbox: how session actors record a call without touching PostgreSQL.

Each method appends one event to the Redis stream `{prefix}:outbox`; the `Recorder`
applies it to PostgreSQL later. A call's records therefore survive a PostgreSQL outage,
and a slow database never slows a call down.

The stream is never trimmed here: an entry leaves it only when the recorder has
committed it (or moved it to `{prefix}:outbox:dead`), so nothing is lost while the
database is away. Redis must persist (AOF) for the outbox to survive a Redis restart.
A failed append raises the Redis error; the caller decides whether to retry.

A session actor appends through a `FencedOutbox`: each append checks, in the same
script, that the actor's generation is still the call's current one in the call
registry (`actors.registry`), so an actor that was replaced after a failure can no
longer add anything to the call's record.
"""

from __future__ import annotations

import redis.asyncio as redis

from db.events import (
    BaseEvent,
    CallEnded,
    CallError,
    CallFailed,
    CallStarted,
    CallUpdated,
    DoNotCall,
    FollowUpRecorded,
    StatusCallback,
    TierDecided,
    TransitionRecorded,
    TurnRecorded,
    encode,
)
from switchboard.models import (
    AgentTransition,
    CallFacts,
    CallSession,
    FollowUp,
    Outcome,
    TierDecision,
    TurnRecord,
)

# KEYS: the call's registry entry, the outbox stream. ARGV: generation, then the fields.
_FENCED_XADD = """
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[1] then return false end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
"""


class StaleWriter(RuntimeError):
    """A write from a generation that no longer serves the call; it was refused."""


def outbox_key(prefix: str) -> str:
    """The stream events are appended to."""
    return f"{prefix}:outbox"


def dead_letter_key(prefix: str) -> str:
    """The stream events the recorder could not apply are moved to."""
    return f"{prefix}:outbox:dead"


class Outbox:
    """Appends call events to the outbox stream; one instance per process is enough."""

    def __init__(self, redis: redis.Redis, prefix: str) -> None:
        self._redis = redis
        self.key = outbox_key(prefix)

    async def call_started(self, session: CallSession) -> str:
        return await self._append(CallStarted(session=session))

    async def turn(self, call_sid: str, turn: TurnRecord) -> str:
        return await self._append(TurnRecorded(call_sid=call_sid, turn=turn))

    async def transition(self, call_sid: str, seq: int, transition: AgentTransition) -> str:
        return await self._append(
            TransitionRecorded(call_sid=call_sid, seq=seq, transition=transition)
        )

    async def tier_decision(self, call_sid: str, seq: int, decision: TierDecision) -> str:
        return await self._append(TierDecided(call_sid=call_sid, seq=seq, decision=decision))

    async def call_updated(
        self,
        call_sid: str,
        *,
        current_agent: str,
        facts: CallFacts,
        qualification_score: float,
        outcome: Outcome | None,
        tier: str,
    ) -> str:
        """A snapshot of the call's state mid-call; a later snapshot replaces it."""
        return await self._append(
            CallUpdated(
                call_sid=call_sid,
                current_agent=current_agent,
                facts=facts,
                qualification_score=qualification_score,
                outcome=outcome,
                tier=tier,  # type: ignore[arg-type]  # validated by the model
            )
        )

    async def call_ended(
        self,
        session: CallSession,
        *,
        facts: CallFacts,
        qualification_score: float,
        cost_usd: float,
        cost_breakdown: dict[str, float],
    ) -> str:
        """The final state of the call; `session.status` and `session.outcome` are final."""
        return await self._append(
            CallEnded(
                session=session,
                facts=facts,
                qualification_score=qualification_score,
                cost_usd=cost_usd,
                cost_breakdown=cost_breakdown,
            )
        )

    async def call_failed(self, event: CallFailed) -> str:
        """The call could not be carried on; it ends `failed` (see `CallFailed`)."""
        return await self._append(event)

    async def status_callback(self, call_sid: str, call_status: str, params: dict[str, str]) -> str:
        """A Twilio status callback (`CallStatus` and the form's parameters)."""
        return await self._append(
            StatusCallback(call_sid=call_sid, call_status=call_status, params=params)
        )

    async def error(self, call_sid: str, message: str) -> str:
        return await self._append(CallError(call_sid=call_sid, message=message))

    async def follow_up(self, call_sid: str, follow_up: FollowUp) -> str:
        """The call's follow-up as it now stands; a later one replaces it."""
        return await self._append(FollowUpRecorded(call_sid=call_sid, follow_up=follow_up))

    async def do_not_call(self, number: str, call_sid: str | None) -> str:
        return await self._append(DoNotCall(number=number, call_sid=call_sid))

    async def _append(self, event: BaseEvent) -> str:
        """Append `event`; returns its stream id."""
        entry_id = await self._redis.xadd(self.key, encode(event))  # type: ignore[arg-type]
        return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


class FencedOutbox(Outbox):
    """An `Outbox` whose appends are refused once `generation` no longer serves the call."""

    def __init__(self, redis: redis.Redis, prefix: str, *, fence_key: str, generation: int):
        super().__init__(redis, prefix)
        self.fence_key = fence_key
        self.generation = generation
        self._xadd = redis.register_script(_FENCED_XADD)

    async def _append(self, event: BaseEvent) -> str:
        fields = encode(event)
        args: list[str | int] = [self.generation]
        for name, value in fields.items():
            args += [name, value]
        entry_id = await self._xadd(keys=[self.fence_key, self.key], args=args)
        if entry_id is None:
            raise StaleWriter(f"generation {self.generation} no longer serves the call")
        return entry_id.decode() if isinstance(entry_id, bytes) else entry_id
