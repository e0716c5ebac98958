"""Twilio's final status for a call, on real Redis and PostgreSQL: a call whose actor
may still serve it is left to the actor, even one too busy to answer at once or one Ray
cannot reach for now (it ends the call `completed` itself, or the sweeper does once its
heartbeats stop); a call whose actor is gone ends `failed` at once.

The session actors here are stand-ins for Ray's actor handles: what is under test is the
ingress's reading of the three answers Ray gives (an answer, no answer yet, the actor
is dead), not Ray's delivery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
import redis.asyncio as redis
from ray.exceptions import ActorDiedError, ActorUnavailableError

from actors.call_sweeper import CallSweeper
from actors.registry import CallRegistry
from db.queries import call_report
from db.recorder import Recorder
from deployments.call_ending import CallEnding
from switchboard.settings import load_settings
from tests.test_call_sweeper import QUALIFIED, _live_call

ACTOR = "session-7"


@pytest.fixture
def sweeper(redis_client: redis.Redis, redis_prefix: str) -> CallSweeper:
    return CallSweeper(redis_client, load_settings(redis_prefix=redis_prefix))


class Remote:
    """A method of a Ray actor handle: `.remote()` gives an awaitable answer."""

    def __init__(self, answer_after_s: float, error: Exception | None = None) -> None:
        self.told: list[tuple[str, str]] = []
        self._after_s, self._error = answer_after_s, error

    def remote(self, call_sid: str, call_status: str) -> asyncio.Task[None]:
        self.told.append((call_sid, call_status))
        return asyncio.ensure_future(self._answer())

    async def _answer(self) -> None:
        await asyncio.sleep(self._after_s)
        if self._error is not None:
            raise self._error


class SessionActor:
    def __init__(self, twilio_ended: Remote) -> None:
        self.twilio_ended = twilio_ended


def no_such_actor(name: str) -> SessionActor:
    raise ValueError(f"Failed to look up actor with name '{name}'")


@pytest.fixture
async def served(redis_client: redis.Redis, redis_prefix: str, call_sid: str) -> str:
    """A live call, qualified so far, that actor `ACTOR` heartbeats: its CallSid."""
    await _live_call(redis_client, redis_prefix, call_sid, facts=QUALIFIED)
    registry = CallRegistry(redis_client, redis_prefix, ttl_s=300)
    assert await registry.heartbeat(registry.fence(call_sid, 1), call_sid, actor=ACTOR)
    return call_sid


Report = Callable[[CallEnding, str], Awaitable[dict]]


@pytest.fixture
def report_after_ending(recorder: Recorder, db_pool: asyncpg.Pool) -> Report:
    """Twilio says the call is over; the call's report once the recorder wrote it."""
    async def report(ending: CallEnding, call_sid: str) -> dict:
        await ending.twilio_ended(call_sid, "completed")
        await recorder.drain_once()
        written = await call_report(db_pool, call_sid)
        assert written is not None
        return written

    return report


@pytest.mark.parametrize(("answer_after_s", "error"), [
    (0.0, None),  # it answers
    (0.5, None),  # a busy actor answers after the ingress stopped waiting
    (0.0, ActorUnavailableError("the actor's node is being checked", b"\x01" * 16)),
], ids=["answers", "slow", "unreachable"])
async def test_a_call_its_actor_may_still_serve_is_left_to_the_actor(
    answer_after_s: float,
    error: Exception | None,
    sweeper: CallSweeper,
    served: str,
    report_after_ending: Report,
) -> None:
    told = Remote(answer_after_s, error)
    ending = CallEnding(sweeper.registry, sweeper, lambda name: SessionActor(told),
                        actor_timeout_s=0.1)
    assert (await report_after_ending(ending, served))["status"] == "in_progress"
    assert told.told == [(served, "completed")]
    entry = await sweeper.registry.entry(served)
    assert entry is not None and entry.live  # the actor ends it, with what it heard


@pytest.mark.parametrize("gone", ["no such actor", "actor died"])
async def test_a_call_whose_actor_is_gone_ends_failed_at_once(
    gone: str, sweeper: CallSweeper, served: str, report_after_ending: Report
) -> None:
    died = SessionActor(Remote(0.0, ActorDiedError()))
    ending = CallEnding(sweeper.registry, sweeper,
                        no_such_actor if gone == "no such actor" else lambda name: died,
                        actor_timeout_s=0.1)
    report = await report_after_ending(ending, served)
    assert report["status"] == "failed" and report["outcome"] == "qualified"
    assert any("Twilio reported the call completed" in error for error in report["errors"])
    entry = await sweeper.registry.entry(served)
    assert entry is not None and entry.state == "ended"


async def test_a_call_already_ended_is_not_ended_again(
    sweeper: CallSweeper, served: str, report_after_ending: Report
) -> None:
    registry = sweeper.registry
    assert await registry.end(registry.fence(served, 1), served)
    told = Remote(0.0)
    ending = CallEnding(registry, sweeper, lambda name: SessionActor(told))
    assert (await report_after_ending(ending, served))["status"] == "in_progress"
    assert told.told == []
