"""A session actor serves one call after another: a word about a call that arrives after
the actor moved on (Twilio's status callback racing the end of the call, an admin's tier
change) must not touch the call it serves next. Seen on the cluster: a late "completed"
ended the actor's next call right after its greeting, as abandoned."""

from __future__ import annotations

from types import SimpleNamespace

from actors.session import CallSessionActor
from actors.transport import CallLink

# The actor's class as written, without Ray: these methods touch no Ray state.
SessionClass = CallSessionActor.__ray_metadata__.modified_class


def idle_actor() -> CallSessionActor:
    actor = SessionClass.__new__(SessionClass)
    actor._name = "session-test"
    actor._session = None
    actor._link = CallLink()
    actor._tiering = None
    return actor


async def test_twilio_ending_the_previous_call_leaves_the_next_one_alone() -> None:
    actor = idle_actor()
    await actor.twilio_ended("CAprevious", "completed")  # arrives while the actor waits
    actor._session = SimpleNamespace(call_sid="CAnext")
    await actor.twilio_ended("CAprevious", "completed")  # or once it serves the next
    assert actor._link.inbound.empty()


async def test_twilio_ending_the_call_served_ends_it() -> None:
    actor = idle_actor()
    actor._session = SimpleNamespace(call_sid="CAnow")
    await actor.twilio_ended("CAnow", "completed")
    assert actor._link.inbound.get_nowait() is None  # the caller is gone


async def test_a_tier_change_reaches_only_the_call_it_was_made_for() -> None:
    applied: list[str] = []
    actor = idle_actor()
    actor._tiering = SimpleNamespace(apply=applied.append)
    actor._session = SimpleNamespace(call_sid="CAnow")
    await actor.apply_tier("CAprevious", "premium")
    await actor.apply_tier("CAnow", "premium")
    assert applied == ["premium"]
