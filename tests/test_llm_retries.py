"""An LLM that hangs or answers 500 costs the caller nothing but phrasing, and is seen.

Against the local OpenAI-compatible server (`test_llm_openai_double`): connection
errors, timed-out attempts, 429 and 5xx are retried within the call's deadline; other
4xx, answers off the schema and replies the caller already heard part of are not.
What finally fails is answered by the rules and templates, named once in the turn's
`errors`, and counted in `switchboard_llm_failures`.

The Ray counters are real; a spy records what each was given on its way to Ray
(nothing here runs a Ray metrics exporter to read them back from).
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from typing import Any, get_args

import pytest
import redis.asyncio as aioredis

from graph.llm import FailureReason, RetryPolicy
from graph.workflow.orchestrator import AgentOrchestrator
from switchboard.metrics import LLM_FAILURE_REASONS, VoiceAgentIntegrationMetrics
from tests.test_llm_agents import OPENING, VAGUE_BUDGET, converse, make_orchestrator, new_call
from tests.test_llm_openai_double import OpenAIDouble, openai_double

# the qualifier's template for OPENING's last line read by the rules alone: what the
# caller hears when the LLM fails
TEMPLATE_AFTER_NEED = ["That makes sense, and it's a common problem.",
                       "Roughly what budget do you have for this each year?"]
LLM_REPLY = "Thanks, that helps a lot. What budget do you have for this each year?"
LLM_SENTENCES = ["Thanks, that helps a lot.", "What budget do you have for this each year?"]


@pytest.fixture
async def double() -> AsyncIterator[OpenAIDouble]:
    async with openai_double() as running:
        yield running


@pytest.fixture
async def orchestrator(double: OpenAIDouble, redis_client: aioredis.Redis, redis_prefix: str
                       ) -> AsyncIterator[AgentOrchestrator]:
    running = make_orchestrator(double, redis_client, redis_prefix)
    yield running
    await running.aclose()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, str]]]:
    """(counter, tags) for every count of the LLM counters, passed on to Ray's counter."""
    metrics = VoiceAgentIntegrationMetrics.get()
    seen: list[tuple[str, dict[str, str]]] = []
    for name in ("llm_failures", "llm_retries"):
        counter = getattr(metrics, name)

        def spy(value: float = 1.0, tags: dict[str, str] | None = None, *,
                _name: str = name, _inc: Any = counter.inc) -> None:
            seen.append((_name, dict(tags or {})))
            _inc(value, tags=tags)  # Ray checks the tag keys

        monkeypatch.setattr(counter, "inc", spy)
    return seen


def failures(counted: list[tuple[str, dict[str, str]]]) -> list[tuple[str, str]]:
    return [(tags["call"], tags["reason"]) for name, tags in counted if name == "llm_failures"]


def retries(counted: list[tuple[str, dict[str, str]]]) -> list[str]:
    return [tags["call"] for name, tags in counted if name == "llm_retries"]


async def open_call(orchestrator: AgentOrchestrator, double: OpenAIDouble) -> str:
    """A call up to the caller's need, the LLM healthy; its requests forgotten."""
    call_id = new_call()
    await converse(orchestrator, call_id, OPENING[:2])
    double.requests.clear()
    return call_id


async def test_two_server_errors_then_an_answer_give_the_llms_answer(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
    counted: list[tuple[str, dict[str, str]]],
) -> None:
    double.extract = lambda line, request: {"budget_usd": 50000} if "five figures" in line else {}
    double.reply = lambda draft, request: LLM_REPLY
    call_id = new_call()
    await converse(orchestrator, call_id, OPENING)
    double.requests.clear()
    double.fail_next = [500, 500]  # the extraction's first two attempts

    result = await orchestrator.process_voice_input(call_id, VAGUE_BUDGET, {"event": "text"})

    assert len(double.extraction_requests()) == 3
    assert result["facts"]["budget_usd"] == 50000  # the LLM's reading, on its third attempt
    assert result["errors"] == []
    assert failures(counted) == [] and retries(counted) == ["extract", "extract"]


async def test_a_server_that_always_fails_is_answered_by_the_template_within_the_deadline(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
    counted: list[tuple[str, dict[str, str]]],
) -> None:
    call_id = await open_call(orchestrator, double)
    double.fail_status = 500
    turn_timeout = orchestrator.settings.performance.turn_timeout_s

    started = time.monotonic()
    result = await orchestrator.process_voice_input(call_id, OPENING[2], {"event": "text"})
    elapsed = time.monotonic() - started

    assert elapsed < turn_timeout + 1.0
    assert not result["fallback"] and result["sentences"] == TEMPLATE_AFTER_NEED
    # once per failure, one readable line each
    assert result["errors"] == ["llm extract failed after 3 attempts: HTTP 500 unavailable",
                                "llm reply failed after 3 attempts: HTTP 500 unavailable"]
    assert len(double.extraction_requests()) == 3 and len(double.reply_requests()) == 3
    assert failures(counted) == [("extract", "http_5xx"), ("reply", "http_5xx")]

    double.fail_status = None  # the LLM is back: the next turn's errors are its own
    following = await orchestrator.process_voice_input(
        call_id, "About fifty thousand a year.", {"event": "text"})
    assert following["errors"] == []


async def test_a_hung_server_is_abandoned_at_the_deadline_and_the_template_answers(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
    counted: list[tuple[str, dict[str, str]]],
) -> None:
    call_id = await open_call(orchestrator, double)
    double.delay_s = 60  # released when the double stops
    turn_timeout = orchestrator.settings.performance.turn_timeout_s

    started = time.monotonic()
    result = await orchestrator.process_voice_input(call_id, OPENING[2], {"event": "text"})
    elapsed = time.monotonic() - started

    assert elapsed < turn_timeout + 1.0
    assert result["sentences"] == TEMPLATE_AFTER_NEED
    # a hung first attempt takes only its share of the deadline: a second one was tried
    assert len(double.extraction_requests()) == 2 and len(double.reply_requests()) == 2
    extract_error, reply_error = result["errors"]
    assert extract_error.startswith("llm extract failed after 2 attempts: timeout after")
    assert reply_error.startswith("llm reply failed after 2 attempts: timeout after")
    assert failures(counted) == [("extract", "timeout"), ("reply", "timeout")]


async def test_a_bad_request_is_not_retried(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
    counted: list[tuple[str, dict[str, str]]],
) -> None:
    call_id = await open_call(orchestrator, double)
    double.fail_next = [400]  # the extraction's; the reply is answered
    double.reply = lambda draft, request: LLM_REPLY

    result = await orchestrator.process_voice_input(call_id, OPENING[2], {"event": "text"})

    assert len(double.extraction_requests()) == 1
    assert result["errors"] == ["llm extract failed after 1 attempt: HTTP 400 unavailable"]
    assert result["sentences"] == LLM_SENTENCES
    assert failures(counted) == [("extract", "http_4xx")] and retries(counted) == []


async def test_a_rate_limited_request_is_retried(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
    counted: list[tuple[str, dict[str, str]]],
) -> None:
    call_id = await open_call(orchestrator, double)
    double.fail_next = [429]
    double.reply = lambda draft, request: LLM_REPLY

    result = await orchestrator.process_voice_input(call_id, OPENING[2], {"event": "text"})

    assert len(double.extraction_requests()) == 2
    assert result["errors"] == [] and result["sentences"] == LLM_SENTENCES
    assert retries(counted) == ["extract"]


async def test_an_answer_off_the_schema_is_not_retried(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
    counted: list[tuple[str, dict[str, str]]],
) -> None:
    call_id = await open_call(orchestrator, double)
    double.extract = lambda line, request: {"budget_usd": "plenty"}

    result = await orchestrator.process_voice_input(call_id, OPENING[2], {"event": "text"})

    assert len(double.extraction_requests()) == 1
    assert result["errors"] == [
        "llm extract failed after 1 attempt: answer off the schema (1 errors)"]
    assert result["facts"]["need"]  # the rules' reading stands
    assert failures(counted) == [("extract", "invalid_output")]


async def test_a_stream_cut_after_the_first_sentence_is_not_retried(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
    counted: list[tuple[str, dict[str, str]]],
) -> None:
    call_id = await open_call(orchestrator, double)
    double.reply = lambda draft, request: "That makes sense. Lots of teams say the same thing."
    double.cut_stream_after = 4  # "That makes sense. Lots" and then the line drops

    heard = [item async for item in orchestrator.stream_voice_input(
        call_id, OPENING[2], {"event": "text"})]
    result = heard[-1]["result"]

    assert len(double.reply_requests()) == 1  # the caller heard a sentence: no second go
    assert [item["text"] for item in heard[:-1]] == result["sentences"] == [
        "That makes sense.", "Roughly what budget do you have for this each year?"]
    [error] = result["errors"]
    assert error.startswith("llm reply cut short on attempt 1: connection:")
    assert failures(counted) == [("reply", "connection")] and retries(counted) == []


async def test_a_stream_cut_before_any_sentence_is_retried(
    double: OpenAIDouble, orchestrator: AgentOrchestrator,
    counted: list[tuple[str, dict[str, str]]],
) -> None:
    call_id = await open_call(orchestrator, double)
    double.reply = lambda draft, request: LLM_REPLY
    double.cut_stream_after, double.cut_streams = 2, 1  # "Thanks, that", then it drops, once

    result = await orchestrator.process_voice_input(call_id, OPENING[2], {"event": "text"})

    assert len(double.reply_requests()) == 2
    assert result["sentences"] == LLM_SENTENCES and result["errors"] == []
    assert retries(counted) == ["reply"] and failures(counted) == []


def test_backoff_grows_with_jitter_and_stays_under_its_cap() -> None:
    policy = RetryPolicy()
    rng = random.Random(7)
    for attempt, ceiling in ((2, 0.05), (3, 0.1), (4, 0.2), (5, 0.4), (9, 0.4)):
        pauses = [policy.backoff(attempt, rng) for _ in range(50)]
        assert all(ceiling * 0.5 <= pause <= ceiling for pause in pauses)
        assert len(set(pauses)) > 1  # jittered


def test_every_failure_reason_is_a_valid_tag_set() -> None:
    assert set(LLM_FAILURE_REASONS) == set(get_args(FailureReason))
    metrics = VoiceAgentIntegrationMetrics.get()
    for call in ("extract", "reply"):
        metrics.llm_retried(call)
        for reason in LLM_FAILURE_REASONS:
            metrics.llm_failed(call, reason)  # Ray raises on a tag key it does not know
