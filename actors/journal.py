"""A call's journal: everything the record must show, appended to the outbox as it
happens (turns, agent transitions, facts, the end), and mirrored on the `CallSession`."""

from __future__ import annotations

from actors.conversation import TurnOutcome
from actors.responder import ResponderView
from db.outbox import Outbox
from switchboard.models import CallSession, TurnRecord


class CallJournal:
    """Writes the record of one call through the outbox."""

    def __init__(self, outbox: Outbox, session: CallSession) -> None:
        self._outbox = outbox
        self._session = session

    async def started(self) -> None:
        await self._outbox.call_started(self._session)

    async def turn(self, outcome: TurnOutcome, *, fallback: bool) -> None:
        session = self._session
        session.turns_taken += 1
        if fallback:
            session.fallback_turns += 1
        await self._outbox.turn(
            session.call_sid,
            TurnRecord(
                seq=session.turns_taken,
                user_text=outcome.event.describe(),
                agent_text=" ".join(outcome.reply.sentences),
                agent=outcome.reply.agent,
                latency_ms=outcome.latency_ms,
                fallback=fallback,
            ),
        )

    async def progress(self, view: ResponderView) -> None:
        """Transitions and facts after a step of the responder."""
        session = self._session
        for transition in view.new_transitions:
            session.agent_transition_history.append(transition)
            await self._outbox.transition(
                session.call_sid, len(session.agent_transition_history), transition
            )
        session.current_agent = view.current_agent
        await self._outbox.call_updated(
            session.call_sid,
            current_agent=view.current_agent,
            facts=view.facts,
            qualification_score=view.qualification_score,
            outcome=view.outcome,
            tier=session.tier,
        )

    async def error(self, message: str) -> None:
        self._session.errors.append(message)
        await self._outbox.error(self._session.call_sid, message)

    async def opted_out(self) -> None:
        """The caller asked never to be called again: the number goes on the list."""
        await self._outbox.do_not_call(self._session.from_number, self._session.call_sid)

    async def ended(
        self, view: ResponderView, *, cost_usd: float, cost_breakdown: dict[str, float]
    ) -> None:
        await self._outbox.call_ended(
            self._session,
            facts=view.facts,
            qualification_score=view.qualification_score,
            cost_usd=cost_usd,
            cost_breakdown=cost_breakdown,
        )
