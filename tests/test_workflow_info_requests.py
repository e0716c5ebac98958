""""Send me some information" through the agents' workflow, with and without an LLM.

The agents decide as the script does (one feature, one place): the offer, then a reply
asking the session to text the link (`follow_up`), said as written. A turn replayed
after a session actor died asks for the text again, answered from the checkpoint: the
session's once-per-call claim (`actors.follow_up`) is what keeps it to one text. With
an LLM, a request only the LLM understood is offered the same way. Real Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from graph.workflow.orchestrator import AgentOrchestrator
from tests.test_llm_agents import make_orchestrator
from tests.test_llm_openai_double import OpenAIDouble, openai_double
from tests.test_workflow_orchestrator import new_call, orchestrator_on

LINK = "https://acme.example/details"
LINES = ["This is Sam.", "Sure.", "Can you just send me some information?"]
INFO = {"agent_integration": {"info_link": LINK}}


@pytest.fixture
async def orchestrator(redis_client: aioredis.Redis, redis_prefix: str
                       ) -> AsyncIterator[AgentOrchestrator]:
    running = orchestrator_on(redis_client, redis_prefix, **INFO)
    yield running
    await running.aclose()


async def play(orchestrator: AgentOrchestrator, call_id: str, lines: list[str],
               **metadata: Any) -> list[dict[str, Any]]:
    """Turns 0 (start), 1, 2, ... of an inbound call from a number that takes texts."""
    base = {"direction": "inbound", "can_text": True, **metadata}
    results = [await orchestrator.process_voice_input(
        call_id, "", {**base, "event": "start", "turn": 0})]
    for number, line in enumerate(lines, start=1):
        results.append(await orchestrator.process_voice_input(
            call_id, line, {**base, "event": "text", "turn": number}))
    return results


async def test_the_agents_offer_the_link_and_a_yes_asks_the_session_to_text_it(
    orchestrator: AgentOrchestrator,
) -> None:
    *_, offer, yes = await play(orchestrator, new_call(), [*LINES, "Yes please."])
    assert offer["sentences"][-1].endswith("Would you like that?")
    assert offer["follow_up"] is None
    assert yes["follow_up"] == "sms_link"
    assert yes["sentences"] == ["Great, I'm texting you the link now."]
    assert yes["agent"] == "wrap_up" and not yes["end_call"]
    assert yes["outcome"] == "nurture"
    assert yes["conversation"]["follow_up"] == "sms_link"  # the direct path mirrors it


async def test_a_replayed_yes_asks_for_the_text_again_from_the_checkpoint(
    orchestrator: AgentOrchestrator,
) -> None:
    call_id = new_call()
    *_, yes = await play(orchestrator, call_id, [*LINES, "Yes please."])
    again = await orchestrator.process_voice_input(
        call_id, "Yes please.", {"direction": "inbound", "can_text": True, "event": "text",
                                 "turn": len(LINES) + 1})
    assert again["replayed"] and again["follow_up"] == "sms_link"
    assert again["sentences"] == yes["sentences"]


async def test_a_number_that_cannot_take_a_text_is_offered_an_email(
    orchestrator: AgentOrchestrator,
) -> None:
    *_, offer, yes = await play(orchestrator, new_call(), [*LINES, "Yes."], can_text=False)
    assert "email you the details" in " ".join(offer["sentences"])
    assert yes["follow_up"] == "email" and yes["end_call"] and yes["outcome"] == "nurture"


async def test_a_no_carries_on_with_the_questions(orchestrator: AgentOrchestrator) -> None:
    *_, no = await play(orchestrator, new_call(), [*LINES, "No thanks."])
    assert no["follow_up"] is None and no["outcome"] is None
    assert no["sentences"][-1] == (
        "What's your biggest challenge with handling calls or leads today?")


@pytest.fixture
async def double() -> AsyncIterator[OpenAIDouble]:
    async with openai_double() as running:
        yield running


async def test_with_an_llm_a_request_only_it_understood_gets_the_same_offer_and_text(
    double: OpenAIDouble, redis_client: aioredis.Redis, redis_prefix: str,
) -> None:
    odd = "Could you fire over a one-page thing about it?"
    double.extract = lambda line, request: ({"wants_info": True} if "one-page" in line
                                            else {"affirmative": True} if line == "Go on then."
                                            else {})
    double.reply = lambda draft, request: "Rewritten by the model. " + draft
    orchestrator = make_orchestrator(double, redis_client, redis_prefix, **INFO)
    try:
        *_, offer, yes = await play(orchestrator, new_call(), [*LINES[:2], odd, "Go on then."])
    finally:
        await orchestrator.aclose()
    assert "text you a link" in " ".join(offer["sentences"])
    assert yes["follow_up"] == "sms_link"
    # it says what is being done to the caller's phone: as written, never rephrased
    assert yes["sentences"] == ["Great, I'm texting you the link now."]
