"""The agents with an LLM, against a local OpenAI-compatible server (`test_llm_openai_double`).

Extraction by structured output fills what the rules miss; replies are the LLM's words,
streamed and shaped for the ear; the premium model answers once the call is escalated;
token usage is reported per turn and tier; a slow, broken or forgetful LLM costs the
caller nothing but phrasing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
import redis.asyncio as aioredis

from graph.llm import Extraction, combine
from graph.understanding.caller_line import understand
from graph.workflow.orchestrator import AgentOrchestrator
from graph.workflow.script import QualificationScript
from graph.workflow.state import ConversationState
from switchboard.settings import load_settings
from tests.test_llm_openai_double import OpenAIDouble, empty_extraction, openai_double

WEDNESDAY = date(2025, 3, 12)
OPENING = ["This is Dana.", "Sure.", "We lose leads after hours."]
VAGUE_BUDGET = "We have set aside something in the mid five figures."


@pytest.fixture
async def double() -> AsyncIterator[OpenAIDouble]:
    async with openai_double() as running:
        yield running


def make_orchestrator(double: OpenAIDouble, client: aioredis.Redis, prefix: str,
                      **overrides: Any) -> AgentOrchestrator:
    settings = load_settings(
        transfer_number="+15557650100", redis_prefix=prefix, llm_base_url=double.base_url,
        llm_economy_model="economy-model", llm_premium_model="premium-model", **overrides)
    return AgentOrchestrator(settings, redis=client, today=lambda: WEDNESDAY)


@pytest.fixture
async def orchestrator(double: OpenAIDouble, redis_client: aioredis.Redis, redis_prefix: str
                       ) -> AsyncIterator[AgentOrchestrator]:
    running = make_orchestrator(double, redis_client, redis_prefix)
    yield running
    await running.aclose()


async def converse(orchestrator: AgentOrchestrator, call_id: str, lines: list[str],
                   **metadata: Any) -> list[dict[str, Any]]:
    results = [await orchestrator.process_voice_input(call_id, "", {"event": "start"})]
    for line in lines:
        results.append(await orchestrator.process_voice_input(
            call_id, line, {"event": "text", **metadata}))
    return results


def new_call() -> str:
    return f"CA{uuid.uuid4().hex}"


async def test_the_llm_fills_a_fact_the_rules_missed(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
) -> None:
    assert understand(VAGUE_BUDGET, expecting="budget").budget_usd != 50000  # rules cannot
    double.extract = lambda line, request: {"budget_usd": 50000} if "five figures" in line else {}

    results = await converse(orchestrator, new_call(), [*OPENING, VAGUE_BUDGET])

    assert results[-1]["facts"]["budget_usd"] == 50000
    assert results[-1]["wants_premium"]
    extraction = double.extraction_requests()[-1]
    assert extraction["response_format"]["type"] == "json_schema"
    assert extraction["response_format"]["json_schema"]["strict"] is True
    assert "budget" in extraction["messages"][-1]["content"]  # it knows what was asked


async def test_replies_are_the_llms_words_shaped_for_the_ear(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
) -> None:
    double.reply = lambda draft, request: (
        "**Got it!** Teams like yours save 20% - see https://example.com/roi.\n"
        "- Roughly what budget do you have for this each year?")

    results = await converse(orchestrator, new_call(), OPENING)

    assert results[-1]["sentences"] == [
        "Got it!", "Teams like yours save twenty percent, see our website.",
        "Roughly what budget do you have for this each year?"]
    assert results[-1]["tokens"]["economy"] > 0


async def test_the_premium_model_answers_once_the_call_is_escalated(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
) -> None:
    call_id = new_call()
    economy = await converse(orchestrator, call_id, OPENING)
    asked = len(double.usage)
    premium = await orchestrator.process_voice_input(
        call_id, "About fifty thousand dollars a year.", {"event": "text", "tier": "premium"})

    assert {model for model, _ in double.usage[:asked]} == {"economy-model"}
    assert {model for model, _ in double.usage[asked:]} == {"premium-model"}
    assert len(double.usage[asked:]) == 2  # one extraction, one reply
    assert premium["tokens"] == {"premium": sum(n for _, n in double.usage[asked:])}
    assert set(economy[-1]["tokens"]) == {"economy"}
    assert premium["tier"] == "premium"


async def test_openings_and_goodbyes_are_said_as_written(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
) -> None:
    double.reply = lambda draft, request: "Something else entirely."
    call_id = new_call()
    opening = await orchestrator.process_voice_input(call_id, "", {"event": "start"})
    assert double.requests == []  # no caller line yet: nothing to read, nothing to rewrite
    assert opening["sentences"][1] == "This call may be recorded."

    goodbye = await orchestrator.process_voice_input(
        call_id, "Take me off your list and never call again.", {"event": "text"})
    assert goodbye["outcome"] == "opted_out" and goodbye["end_call"]
    assert goodbye["sentences"] == [
        "Understood.", "We'll take your number off our list and won't call you again.",
        "Sorry for the trouble. Goodbye."]
    assert double.reply_requests() == []


async def test_a_broken_llm_costs_the_caller_nothing_but_phrasing(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
) -> None:
    double.fail_status = 500
    results = await converse(orchestrator, new_call(), [*OPENING, "About fifty grand a year."])

    final = results[-1]
    assert not final["fallback"]
    assert final["facts"]["budget_usd"] == 50000  # the rules' reading
    assert final["sentences"] == ["Got it, about fifty thousand dollars a year.",
                                  "Will you be the one making the decision on this?"]
    assert any(error.startswith("llm extract failed") for error in final["errors"])
    assert any(error.startswith("llm reply failed") for error in final["errors"])
    assert final["tokens"] == {}


async def test_a_slow_llm_is_given_up_on_within_the_turn(
    double: OpenAIDouble, redis_client: aioredis.Redis, redis_prefix: str,
) -> None:
    orchestrator = make_orchestrator(double, redis_client, redis_prefix,
                                     performance={"turn_timeout_s": 1.0})
    call_id = new_call()
    await orchestrator.process_voice_input(call_id, "", {"event": "start"})
    double.delay_s = 10
    started = time.monotonic()
    result = await orchestrator.process_voice_input(call_id, "This is Dana.", {"event": "text"})
    elapsed = time.monotonic() - started
    await orchestrator.aclose()

    assert elapsed < 5  # the LLM would take 10 s per call; both calls gave up
    assert result["sentences"] == ["Nice to meet you, Dana.",
                                   "Do you have two minutes for a few quick questions?"]
    assert len(result["errors"]) == 2 and all("timeout" in e for e in result["errors"])


async def test_a_reply_cut_mid_stream_still_asks_the_question(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
) -> None:
    call_id = new_call()
    await converse(orchestrator, call_id, OPENING[:2])
    double.reply = lambda draft, request: "That makes sense. Lots of teams say the same thing."
    double.cut_stream_after = 4  # "That makes sense. Lots" and then the line drops

    result = await orchestrator.process_voice_input(call_id, OPENING[2], {"event": "text"})

    assert result["sentences"] == [
        "That makes sense.", "Roughly what budget do you have for this each year?"]
    assert any("cut short" in error for error in result["errors"])


async def test_a_reply_that_forgets_the_question_gets_the_templates_question(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
) -> None:
    double.reply = lambda draft, request: "Lovely to meet you, Dana. Thanks for picking up."
    results = await converse(orchestrator, new_call(), OPENING[:1])

    assert results[-1]["sentences"] == [
        "Lovely to meet you, Dana.", "Thanks for picking up.",
        "Do you have two minutes for a few quick questions?"]


async def test_a_long_winded_reply_is_cut_to_the_word_limit_keeping_its_question(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
) -> None:
    filler = " ".join(f"We help with point number {n}." for n in range(1, 30))
    double.reply = lambda draft, request: f"{filler} What is your biggest challenge?"
    results = await converse(orchestrator, new_call(), OPENING[:2])

    sentences = results[-1]["sentences"]
    limit = orchestrator.settings.agent_integration.max_words_per_turn
    assert sentences[-1] == "What is your biggest challenge?"
    assert sum(len(s.split()) for s in sentences[:-1]) <= limit
    assert len(sentences) < 30


async def test_sentences_stream_before_the_turn_ends(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
) -> None:
    double.reply = lambda draft, request: "Great. Thanks Dana. Do you have two minutes?"
    call_id = new_call()
    await orchestrator.process_voice_input(call_id, "", {"event": "start"})

    items = [item async for item in orchestrator.stream_voice_input(
        call_id, "This is Dana.", {"event": "text"})]

    assert [item["type"] for item in items] == ["sentence"] * 3 + ["result"]
    assert [item["text"] for item in items[:-1]] == items[-1]["result"]["sentences"]
    assert {item["agent"] for item in items[:-1]} == {"qualifier"}


def test_the_llm_reads_the_line_and_the_rules_fill_what_it_missed() -> None:
    rules = understand("Call me Dana. We spend about twenty thousand a year, I decide.",
                       expecting="budget")
    extracted = Extraction(**{**empty_extraction(), "budget_usd": 25_000,
                              "timeline_months": 3})
    heard = combine(rules, extracted)

    assert heard.budget_usd == 25_000 and heard.timeline_months == 3  # the LLM's reading
    assert heard.decision_maker is True and heard.caller_name == "Dana"  # the rules' reading


def test_what_the_llm_says_is_checked_before_it_counts() -> None:
    rules = understand("hmm")
    extracted = Extraction(**{**empty_extraction(), "budget_usd": -5, "timeline_months": 900,
                              "meeting_time": "whenever the stars align",
                              "caller_name": "not a name", "opt_out": True,
                              "callback_later": True, "wants_human": True})
    heard = combine(rules, extracted, expecting_meeting=True)

    # nothing it said passes its check, and the rules heard nothing in "hmm"
    assert heard.budget_usd is None and heard.timeline_months is None
    assert heard.meeting_time is None and heard.caller_name is None
    assert heard.opt_out  # either reader hearing an opt-out is enough
    assert not heard.callback_later and not heard.wants_human  # an opt-out overrides them


def test_a_meeting_time_from_the_llm_is_one_the_scheduler_can_say_back() -> None:
    extracted = Extraction(**{**empty_extraction(), "meeting_time": "Tuesday at 10 AM"})
    heard = combine(understand("the usual slot"), extracted, expecting_meeting=True)
    script = QualificationScript(load_settings().qualification, transfer_number=None,
                                 company_name="Switchboard", agent_name="Alex",
                                 today=lambda: WEDNESDAY)
    state = ConversationState(direction="inbound", current_agent="scheduler", asked="meeting")
    state, reply = script.on_understanding(state, heard, "the usual slot")

    assert heard.meeting_time == "Tuesday at 10 AM"
    assert state.pending_meeting == "Tuesday at 10 AM"
    assert reply.sentences[0] == "Just to confirm, that's Tuesday at ten in the morning."


def test_a_bare_figure_stays_a_question_when_the_llm_reads_it_the_same_way() -> None:
    rules = understand("around six", expecting="timeline", today=WEDNESDAY)
    same = combine(rules, Extraction(**{**empty_extraction(), "timeline_months": 6}))
    assert same.timeline_months is None and same.bare_months == 6  # asked: six months?
    weeks = combine(rules, Extraction(**{**empty_extraction(), "timeline_months": 1.5}))
    assert weeks.timeline_months == 1.5 and weeks.bare_months is None
