"""The agents' LLM: facts by structured output, replies streamed, one model per tier.

Owns talking to any OpenAI-compatible chat-completions endpoint
(`SWITCHBOARD_LLM_BASE_URL`): the economy model by default, the premium model once
the call is escalated. Two calls per caller line:

- `extract` — what the line says, as JSON that must match `Extraction`'s schema
  (`response_format` json_schema, strict). `combine` checks it and merges it with
  the deterministic reading: what the LLM reads counts once checked (a meeting
  time must be one our scheduler can read, amounts and months must be sane), the
  rules fill whatever it missed, and an opt-out either of them heard counts;
- `write_reply` — the agent's words for the turn, streamed; sentences are handed
  on as they complete and shaped for the ear (`graph.voice`).

Every call reports its token usage, which the budget turns into cost. Failures
raise `LLMError`; the agents then fall back to rules and templates, so a slow or
broken LLM costs a caller nothing but phrasing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from openai import AsyncOpenAI, OpenAIError
from pydantic import BaseModel, Field, ValidationError

from graph.meeting import read_meeting_time
from graph.text import split_sentences as caller_sentences
from graph.understanding import Understanding
from graph.voice import SentenceStream, optimize_sentences
from switchboard.models import Tier
from switchboard.settings import VoiceAgentIntegrationConfig

_MAX_BUDGET_USD = 1e10
_MAX_TIMELINE_MONTHS = 120
_MAX_NEED_WORDS = 25
_MIN_PART_WORDS = 12  # an agent speaking after others still gets room for a question
_NAME = re.compile(r"^[A-Z][a-zA-Z'-]{1,30}$")


class LLMError(RuntimeError):
    """The LLM did not answer usefully (down, slow, or off-schema)."""


class Extraction(BaseModel):
    """What one caller line says, as the LLM reports it (the `response_format` schema)."""

    budget_usd: float | None = Field(description="Yearly budget in US dollars, if stated")
    no_budget: bool = Field(description="The caller says there is no budget for this")
    decision_maker: bool | None = Field(
        description="True if the caller decides or shares the decision, false if someone "
        "else decides")
    role: str | None = Field(description="The caller's job title, if stated")
    need: str | None = Field(
        description="The problem the caller has with calls or leads, in their words")
    no_need: bool = Field(description="The caller says they do not have that problem")
    timeline_months: float | None = Field(
        description="Months from now until they want a solution in place")
    meeting_time: str | None = Field(
        description="A day and/or time the caller proposes or accepts, e.g. 'Tuesday at 10 AM'")
    affirmative: bool | None = Field(description="The line answers yes (true) or no (false)")
    opt_out: bool = Field(description="The caller asks not to be called again")
    wants_human: bool = Field(description="The caller asks to speak to a person")
    callback_later: bool = Field(
        description="The caller asks to be called back another time (offering another meeting "
        "time than the one proposed is not this)")
    callback_when: str | None = Field(description="When to call back, as said")
    not_interested: bool = Field(description="The caller says they are not interested")
    voicemail_greeting: bool = Field(description="The line is an answering machine greeting")
    closing: bool = Field(description="The caller is saying goodbye or has nothing more")
    repeat_request: bool = Field(description="The caller asks to hear that again")
    caller_name: str | None = Field(description="The caller's first name, if they give it")
    asks_purpose: bool = Field(description="The caller asks who is calling or why")
    asks_if_ai: bool = Field(description="The caller asks whether they are talking to a robot")
    unsure: bool = Field(description="The caller does not know the answer")
    asks_to_wait: bool = Field(description="The caller asks the agent to hold on")
    asks_question: bool = Field(description="The caller asks a question of their own")


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema in the form strict structured output accepts: every field
    required (nullable where optional), no extra properties, no titles or defaults."""
    schema = copy.deepcopy(model.model_json_schema())

    def clean(node: Any) -> None:
        if isinstance(node, dict):
            node.pop("title", None)
            node.pop("default", None)
            if node.get("type") == "object":
                node["required"] = list(node.get("properties", {}))
                node["additionalProperties"] = False
            for value in node.values():
                clean(value)
        elif isinstance(node, list):
            for value in node:
                clean(value)

    clean(schema)
    return schema


EXTRACTION_SCHEMA = strict_schema(Extraction)


def combine(rules: Understanding, extracted: Extraction, *, expecting_meeting: bool = False
            ) -> Understanding:
    """The LLM's reading of a line, checked, with the rules' reading behind it.

    With an LLM configured it is the reader: each value it reports counts once it
    passes a check (a sane amount or number of months, a meeting time our scheduler
    can read and say back, something that looks like a first name); where it reports
    nothing, or fails a check, the rules' value stands. A conversational act either
    reader heard counts: an opt-out the LLM missed is still an opt-out."""

    def sane(value: float | None, top: float) -> float | None:
        return value if value is not None and 0 <= value <= top else None

    meeting = None
    if extracted.meeting_time:
        # only a time our scheduler can read and say back is a meeting time
        meeting = read_meeting_time(caller_sentences(extracted.meeting_time),
                                    expecting=expecting_meeting)
    meeting = meeting or rules.meeting_time
    need = None
    if extracted.need and not extracted.no_need:
        need = " ".join(extracted.need.split()[:_MAX_NEED_WORDS]).strip(" .") or None
    need = need or rules.need
    name = extracted.caller_name.strip() if extracted.caller_name else None
    name = name if name and _NAME.match(name) else rules.caller_name
    budget = sane(extracted.budget_usd, _MAX_BUDGET_USD)
    budget = budget if budget is not None else rules.budget_usd
    timeline = sane(extracted.timeline_months, _MAX_TIMELINE_MONTHS)
    timeline = timeline if timeline is not None else rules.timeline_months
    opt_out = rules.opt_out or extracted.opt_out
    # while a meeting is arranged, another time offered is a proposal, not a callback
    # (unless the caller asked for a call in so many words, which the rules keep)
    proposes_time = rules.proposes_time or (expecting_meeting and meeting is not None)
    callback = (rules.callback_later or (extracted.callback_later and not proposes_time)
                ) and not opt_out
    return Understanding(
        budget_usd=budget,
        no_budget=(rules.no_budget or extracted.no_budget) and budget is None,
        decision_maker=(extracted.decision_maker if extracted.decision_maker is not None
                        else rules.decision_maker),
        role=extracted.role or rules.role,
        need=need,
        no_need=(rules.no_need or extracted.no_need) and need is None,
        timeline_months=timeline,
        meeting_time=meeting,
        affirmative=(extracted.affirmative if extracted.affirmative is not None
                     else rules.affirmative),
        opt_out=opt_out,
        wants_human=(rules.wants_human or extracted.wants_human) and not opt_out,
        callback_later=callback,
        callback_when=(extracted.callback_when or rules.callback_when) if callback else None,
        not_interested=rules.not_interested or extracted.not_interested,
        voicemail_greeting=rules.voicemail_greeting or extracted.voicemail_greeting,
        closing=rules.closing or extracted.closing,
        repeat_request=rules.repeat_request or extracted.repeat_request,
        caller_name=name,
        asks_purpose=rules.asks_purpose or extracted.asks_purpose,
        asks_if_ai=rules.asks_if_ai or extracted.asks_if_ai,
        unsure=rules.unsure or extracted.unsure,
        asks_to_wait=rules.asks_to_wait or extracted.asks_to_wait,
        asks_question=rules.asks_question or extracted.asks_question,
        proposes_time=proposes_time,
        dtmf=rules.dtmf,
    )


@dataclass
class WrittenReply:
    """What `write_reply` produced: the sentences spoken and the tokens spent."""

    sentences: list[str] = field(default_factory=list)
    tokens: int = 0
    error: str | None = None  # the stream broke after some sentences were spoken


@dataclass(frozen=True)
class TurnContext:
    """What the LLM is told about the call when it reads a line or writes a reply."""

    agent: str
    role: str  # what this agent does, in a sentence
    pending_question: str | None  # the question the caller is answering
    facts: dict[str, Any]
    history: list[dict[str, str]]  # recent turns: {"caller": ..., "agent": ...}


class TieredLLM:
    """An OpenAI-compatible endpoint with an economy and a premium model."""

    def __init__(
        self,
        settings: VoiceAgentIntegrationConfig,
        *,
        client: AsyncOpenAI | None = None,
        extract_timeout_s: float | None = None,
        reply_timeout_s: float | None = None,
    ) -> None:
        if settings.llm_base_url is None and client is None:
            raise ValueError("no LLM configured (SWITCHBOARD_LLM_BASE_URL)")
        turn_timeout = settings.performance.turn_timeout_s
        # both calls of a turn must fit in the turn's deadline, with room to speak
        self.extract_timeout_s = extract_timeout_s or turn_timeout * 0.35
        self.reply_timeout_s = reply_timeout_s or turn_timeout * 0.45
        self.models: dict[Tier, str] = {"economy": settings.llm_economy_model,
                                        "premium": settings.llm_premium_model}
        integration = settings.agent_integration
        self.company = integration.company_name
        self.agent_name = integration.agent_name
        self.max_words = integration.max_words_per_turn
        self.client = client or AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.secret("llm_api_key") or "not-needed",
            max_retries=0,  # a retry would miss the turn's deadline; templates are the retry
        )

    @classmethod
    def from_settings(cls, settings: VoiceAgentIntegrationConfig) -> TieredLLM | None:
        """The configured LLM, or None when the agents run on rules and templates."""
        return cls(settings) if settings.llm_configured else None

    def model(self, tier: Tier) -> str:
        return self.models[tier]

    async def aclose(self) -> None:
        await self.client.close()

    async def extract(self, tier: Tier, line: str, context: TurnContext
                      ) -> tuple[Extraction, int]:
        """What `line` says, and the tokens it cost."""
        messages = [
            {"role": "system", "content": (
                f"You read what a caller said on a phone call with {self.agent_name}, a "
                f"voice agent for {self.company} that qualifies sales leads (budget, "
                "decision maker, need, timeline) and books meetings. Report only what the "
                "caller's line says; use null or false for anything it does not say. The "
                "line may come from a speech recogniser: no punctuation, numbers as words.")},
            {"role": "user", "content": json.dumps({
                "agent_asked": context.pending_question,
                "known_facts": context.facts,
                "caller_said": line,
            })},
        ]
        try:
            async with asyncio.timeout(self.extract_timeout_s):
                response = await self.client.chat.completions.create(
                    model=self.model(tier),
                    messages=messages,  # type: ignore[arg-type]
                    response_format={"type": "json_schema", "json_schema": {
                        "name": "caller_turn", "strict": True, "schema": EXTRACTION_SCHEMA}},
                    temperature=0,
                    timeout=self.extract_timeout_s,
                )
            content = response.choices[0].message.content or ""
            extraction = Extraction.model_validate_json(content)
        except (OpenAIError, httpx.HTTPError, TimeoutError, ValidationError, IndexError) as exc:
            raise LLMError(f"extract: {type(exc).__name__}: {exc}") from exc
        tokens = response.usage.total_tokens if response.usage else 0
        return extraction, tokens

    async def write_reply(
        self,
        tier: Tier,
        *,
        line: str,
        draft: list[str],
        context: TurnContext,
        said: list[str] | None = None,
        on_sentence: Callable[[str], None] | None = None,
    ) -> WrittenReply:
        """The agent's words for a turn, in its own voice, saying what `draft` says
        (`said`: what other agents already said this turn).

        Sentences go to `on_sentence` as soon as each is complete and shaped. The
        word limit holds except that a closing question is always said; a reply that
        forgot the draft's question gets the draft's question."""
        reply = WrittenReply()
        # the turn's word limit, less what other agents already said this turn
        limit = max(self.max_words - sum(len(s.split()) for s in said or []), _MIN_PART_WORDS)
        spoken_words = 0
        held: list[str] = []

        def speak(raw: str) -> None:
            nonlocal spoken_words
            for sentence in optimize_sentences(raw, limit):
                words = len(sentence.split())
                if spoken_words + words > limit:
                    held.append(sentence)  # over the limit: only a closing question may go
                    continue
                spoken_words += words
                reply.sentences.append(sentence)
                if on_sentence is not None:
                    on_sentence(sentence)

        messages = [
            {"role": "system", "content": (
                f"You are {self.agent_name}, a voice agent for {self.company}, on a phone "
                f"call. Right now you are the {context.agent.replace('_', ' ')}: "
                f"{context.role} Rewrite the draft reply in your own natural words. Say "
                "what it says and nothing more: no new facts, prices or promises. End with "
                "the draft's question if it has one. Short sentences, plain words, no "
                "lists, no markdown, no links, numbers in words, at most "
                f"{limit} words.")},
            {"role": "user", "content": json.dumps({
                "recent_turns": context.history,
                "known_facts": context.facts,
                "caller_said": line,
                "already_said_this_turn": " ".join(said or []),
                "draft_reply": " ".join(draft),
            })},
        ]
        splitter = SentenceStream()
        try:
            # one deadline for the whole stream: httpx's timeout is per read
            async with asyncio.timeout(self.reply_timeout_s):
                stream = await self.client.chat.completions.create(
                    model=self.model(tier),
                    messages=messages,  # type: ignore[arg-type]
                    stream=True,
                    stream_options={"include_usage": True},
                    temperature=0.4,
                    max_tokens=limit * 3,
                    timeout=self.reply_timeout_s,
                )
                async for chunk in stream:
                    if chunk.usage is not None:
                        reply.tokens = chunk.usage.total_tokens
                    for choice in chunk.choices:
                        for sentence in splitter.feed(choice.delta.content or ""):
                            speak(sentence)
            for sentence in splitter.flush():
                speak(sentence)
        except (OpenAIError, httpx.HTTPError, TimeoutError) as exc:
            if not reply.sentences:
                raise LLMError(f"reply: {type(exc).__name__}: {exc}") from exc
            # the caller already heard part of it: finish that rather than start over
            reply.error = f"reply cut short: {type(exc).__name__}: {exc}"
        if not reply.sentences:
            raise LLMError("reply: the LLM said nothing")
        self._finish(reply, held, draft, on_sentence)
        return reply

    @staticmethod
    def _finish(reply: WrittenReply, held: list[str], draft: list[str],
                on_sentence: Callable[[str], None] | None) -> None:
        """Make sure the caller hears the question the agent waits on."""
        if any(sentence.endswith("?") for sentence in reply.sentences):
            return
        question = next((s for s in reversed(held) if s.endswith("?")), None)
        if question is None and reply.sentences and draft and draft[-1].endswith("?"):
            question = draft[-1]  # the LLM dropped it: the template's words
        if question is not None:
            reply.sentences.append(question)
            if on_sentence is not None:
                on_sentence(question)
