"""Against a real `serve run` with an LLM configured (a local OpenAI-compatible server):
the agents in the orchestrator deployment call the economy model, the budget grants
the premium tier and the next turns call the premium model, and the tokens the
server reported become the call's LLM cost, exactly; and a reply the LLM writes slowly
reaches the caller sentence by sentence, the first before the LLM has finished."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from switchboard.scenario import parse_scenario
from switchboard.settings import TierEscalationSettings
from tests.e2e import RunningSwitchboard, live_text_call, run_switchboard
from tests.test_llm_openai_double import OpenAIDouble, openai_double, user_payload

pytestmark = pytest.mark.slow


def priced(tokens: int, usd_per_1k: float) -> Decimal:
    """What the ledger charges for `tokens`: exact, rounded half-up to the micro-dollar."""
    cost = Decimal(tokens) * Decimal(str(usd_per_1k)) / 1000
    return cost.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)


@asynccontextmanager
async def _llm_switchboard(tmp_path: Path, **env: str
                           ) -> AsyncIterator[tuple[OpenAIDouble, RunningSwitchboard]]:
    """A local OpenAI server and a Switchboard whose LLM it is; `env` adds to or
    overrides the Switchboard's settings."""
    async with openai_double() as double:
        running = run_switchboard(tmp_path, **{
            "SWITCHBOARD_LLM_BASE_URL": double.base_url,
            "SWITCHBOARD_LLM_API_KEY": "test-key",
            "SWITCHBOARD_LLM_ECONOMY_MODEL": "economy-model",
            "SWITCHBOARD_LLM_PREMIUM_MODEL": "premium-model",
            # A slow shared machine must not turn LLM turns into fallback turns.
            "SWITCHBOARD_PERFORMANCE__TURN_TIMEOUT_S": "15",
            **env,
        })
        # Started in a thread: the double answers in this event loop meanwhile.
        switchboard = await asyncio.to_thread(running.__enter__)
        try:
            yield double, switchboard
        finally:
            await asyncio.to_thread(running.__exit__, None, None, None)


@pytest.fixture(scope="module")
async def llm_switchboard(tmp_path_factory: pytest.TempPathFactory
                          ) -> AsyncIterator[tuple[OpenAIDouble, RunningSwitchboard]]:
    """One Switchboard with the default LLM settings, for the tests that need no other;
    each starts from a double with no requests recorded and no delay (`fresh`)."""
    async with _llm_switchboard(tmp_path_factory.mktemp("llm")) as running:
        yield running


def fresh(double: OpenAIDouble) -> OpenAIDouble:
    """`double` as a new one would be, its server and port kept."""
    double.word_delay_s = 0.0
    for record in (double.requests, double.usage, double.streams_done):
        record.clear()
    return double


async def test_llm_tiers_switch_models_after_the_grant_and_tokens_become_cost(
    llm_switchboard: tuple[OpenAIDouble, RunningSwitchboard],
) -> None:
    double, switchboard = fresh(llm_switchboard[0]), llm_switchboard[1]
    report = await place_a_premium_worthy_call(switchboard)

    assert report["fallback_turns"] == 0, report["errors"]
    grants = [d for d in report["tier_history"] if d["approved"] and d["tier"] == "premium"]
    assert len(grants) == 1, report["tier_history"]

    models = [model for model, _ in double.usage]
    first_premium = models.index("premium-model")
    assert set(models[:first_premium]) == {"economy-model"}
    assert set(models[first_premium:]) == {"premium-model"}, models

    tiers = TierEscalationSettings()
    economy = sum(n for model, n in double.usage if model == "economy-model")
    premium = sum(n for model, n in double.usage if model == "premium-model")
    expected = priced(economy, tiers.economy_usd_per_1k_tokens) + priced(
        premium, tiers.premium_usd_per_1k_tokens
    )
    assert Decimal(str(report["cost_breakdown"]["llm"])) == expected


async def place_a_premium_worthy_call(switchboard: RunningSwitchboard) -> dict:
    scenario = parse_scenario(
        {
            "name": "llm-premium",
            "from": "+15553330201",
            "to": "+15557650000",
            "lines": [
                "Hello, this is Casey at the warehouse.",
                "Sure, go ahead.",
                "Orders come in by phone at night and nobody picks up.",
                "We could put about ninety thousand dollars a year into it.",
                "I sign off on purchases like this myself.",
                "Within two months ideally.",
                "That's everything, thanks.",
            ],
        }
    )
    result = await switchboard.call(scenario, text=True)
    report = await switchboard.report(result.call_sid)
    return report


LINE = "Hi, this is Casey at the warehouse."


async def test_the_caller_hears_the_first_sentence_before_the_llm_has_written_the_rest(
    llm_switchboard: tuple[OpenAIDouble, RunningSwitchboard],
) -> None:
    double, switchboard = fresh(llm_switchboard[0]), llm_switchboard[1]
    async with live_text_call(switchboard, from_number="+15553330202") as call:
        double.word_delay_s = 0.2  # a reply of ~15 words takes the LLM ~3 s
        said_at = time.monotonic()
        heard = await call.say(LINE)
        reply_written_at = double.streams_done[-1]
    double.word_delay_s = 0.0
    report = await switchboard.report(call.call_sid)

    assert len(heard.sentences) >= 2, heard.sentences
    first_heard_at = said_at + heard.waited_s
    assert first_heard_at < reply_written_at, (
        f"first sentence {first_heard_at - said_at:.2f} s after the line, the LLM's "
        f"reply done at {reply_written_at - said_at:.2f} s")
    [turn] = [turn for turn in report["turns"] if turn["user_text"] == LINE]
    assert not turn["fallback"], report["errors"]
    assert turn["agent_text"].startswith(heard.sentences[0]), (turn, heard.sentences)


async def test_with_the_orchestrator_down_the_direct_path_asks_the_llm_itself(
    tmp_path: Path,
) -> None:
    async with _llm_switchboard(
        tmp_path,
        SWITCHBOARD_PERFORMANCE__TURN_TIMEOUT_S="4",
        SWITCHBOARD_CIRCUIT_BREAKER__FAIL_MAX="2",
        SWITCHBOARD_CIRCUIT_BREAKER__RESET_TIMEOUT_S="600",  # stays open
    ) as (double, switchboard):
        double.reply = lambda draft, request: f"Right then. {draft}"
        async with live_text_call(switchboard, from_number="+15553330203") as call:
            await call.say("Hi, this is Casey at the warehouse.")
            before_hang = len(double.requests)
            pids = switchboard.replica_pids("OrchestratorDeployment")
            assert pids, "no orchestrator replica found"
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)  # hangs: every turn times out
            try:
                # Two turns use up their deadline (the templates answer), and open
                # the breaker; the next fails at once and has the time for the LLM.
                timed_out = [await call.say("Sure, go ahead."),
                             await call.say("Orders come in at night and nobody answers.")]
                requests_while_timing_out = len(double.requests) - before_hang
                asked = len(double.reply_requests())
                direct = await call.say("We could spend ninety thousand dollars a year.")
                # Read before the orchestrator wakes: it then runs the turns it was sent
                # while stopped, and its agents ask the LLM too.
                asked_directly = double.reply_requests()[asked:]
            finally:
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
        report = await switchboard.report(call.call_sid)

    # A turn whose deadline the orchestrator used up is answered at once, unwritten.
    assert requests_while_timing_out == 0
    assert all(not turn.sentences[0].startswith("Right then") for turn in timed_out)
    assert direct.sentences[0] == "Right then.", direct.sentences
    [request] = asked_directly
    assert "ninety thousand" in user_payload(request)["caller_said"]
    assert report["facts"]["budget_usd"] == 90000
    last = report["turns"][-1]
    assert last["fallback"] and last["agent_text"].startswith("Right then."), last
    assert report["fallback_turns"] == 3
