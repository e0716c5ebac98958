"""The agents' LLM: facts by structured output, replies streamed, one model per tier.

Owns talking to any OpenAI-compatible chat-completions endpoint
(`SWITCHBOARD_LLM_BASE_URL`): the economy model by default, the premium model once
the call is escalated. The models, and words added to the built-in prompts, are the
call's settings (`llm`: the environment's, a live version's or an experiment
variant's; `TieredLLM.for_settings`); the endpoint and key are the deployment's. Two
calls per caller line:

- `extract` — what the line says, as JSON that must match `Extraction`'s schema
  (`response_format` json_schema, strict). `combine` checks it and merges it with
  the deterministic reading: what the LLM reads counts once checked (a meeting
  time must be one our scheduler can read, amounts and months must be sane), the
  rules fill whatever it missed, and an opt-out either of them heard counts;
- `write_reply` — the agent's words for the turn, streamed; sentences are handed
  on as they complete and shaped for the ear (`graph.workflow.voice`).

Every call reports its token usage, which the budget turns into cost.

Each call has a deadline (`extract_timeout_s`, `reply_timeout_s`: shares of the
turn's timeout) and, inside it, a few attempts (`RetryPolicy`): a connection
error, an attempt that timed out, HTTP 429 or 5xx is tried again after a short
jittered backoff; any other 4xx, an answer off the schema or an empty one is not.
Each attempt has its own limit, a share of the deadline, so one hung request
leaves room for another; no attempt starts that could not get `min_attempt_s`
before the deadline, and a reply is never retried once the caller heard part of
it. What finally fails raises `LLMError`, one readable line (`llm extract failed
after 3 attempts: HTTP 500 ...`), and is counted in `switchboard_llm_failures`
(`call`, `reason`); retries in `switchboard_llm_retries`. The agents then fall
back to rules and templates, so a slow or broken LLM costs a caller nothing but
phrasing, and the turn's `errors` say what happened.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx
from openai import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    OpenAIError,
)
from pydantic import BaseModel, Field, ValidationError

from graph.understanding.caller_line import Understanding
from graph.understanding.meeting import read_meeting_time
from graph.understanding.text import split_sentences as caller_sentences
from graph.workflow.voice import SentenceStream, optimize_sentences
from switchboard import tracing
from switchboard.metrics import VoiceAgentIntegrationMetrics
from switchboard.models import Tier
from switchboard.settings import VoiceAgentIntegrationConfig

logger = logging.getLogger(__name__)

_MAX_BUDGET_USD = 1e10
_MAX_TIMELINE_MONTHS = 120
_MAX_NEED_WORDS = 25
_MIN_PART_WORDS = 12  # an agent speaking after others still gets room for a question
_NAME = re.compile(r"^[A-Z][a-zA-Z'-]{1,30}$")


LLMCall = Literal["extract", "reply"]
FailureReason = Literal["timeout", "connection", "http_5xx", "http_429", "http_4xx",
                        "invalid_output", "empty"]
# What may go better on another attempt: the request never got a real answer.
RETRYABLE: frozenset[FailureReason] = frozenset({"timeout", "connection", "http_5xx",
                                                 "http_429"})
_DETAIL_CHARS = 160  # an error line is read by people, in a call record
_T = TypeVar("_T")


class LLMError(RuntimeError):
    """The LLM did not answer usefully (down, slow, or off-schema), after every attempt
    the deadline allowed. `str()` is the line for the turn's `errors`."""

    def __init__(self, call: LLMCall, reason: FailureReason, detail: str, attempts: int,
                 *, heard: bool = False) -> None:
        self.call = call
        self.reason = reason
        self.detail = detail
        self.attempts = attempts
        self.heard = heard  # part of the answer was already spoken
        if heard:
            line = f"llm {call} cut short on attempt {attempts}: {detail}"
        else:
            plural = "attempt" if attempts == 1 else "attempts"
            line = f"llm {call} failed after {attempts} {plural}: {detail}"
        super().__init__(line)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one LLM call tries within its deadline.

    Attempt n (from 1) waits `backoff_s * 2**(n-2)`, capped at `max_backoff_s`, times a
    random factor in [0.5, 1) ("equal jitter": never zero, so a burst of 5xx does not
    come back all at once, never more than the cap). A 429's `Retry-After` is waited
    when it fits in the deadline. Each attempt may take `attempt_share` of the call's
    deadline before its first answer (at most what is left): with 0.6, a first attempt
    that hangs leaves 40 % of the deadline for a second."""

    max_attempts: int = 3
    backoff_s: float = 0.05
    max_backoff_s: float = 0.4
    attempt_share: float = 0.6
    min_attempt_s: float = 0.2  # less than this before the deadline: not worth starting

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The pause before attempt number `attempt` (2 for the first retry)."""
        ceiling = min(self.max_backoff_s, self.backoff_s * 2 ** max(attempt - 2, 0))
        return ceiling * rng.uniform(0.5, 1.0)


@dataclass
class _Failure:
    reason: FailureReason
    detail: str
    retry_after_s: float | None = None  # what a 429 asked us to wait


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[:_DETAIL_CHARS - 3] + "..."


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds a 429 asks us to wait (`retry-after-ms` or `retry-after` in seconds)."""
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(float(response.headers[header]) * scale, 0.0)
        except (KeyError, ValueError):
            continue
    return None


def _status_message(exc: APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return exc.response.reason_phrase or ""


class _Empty(Exception):
    """The endpoint answered, with nothing in it."""


def classify(exc: BaseException, elapsed_s: float) -> _Failure | None:
    """Why an attempt failed, or None for an exception that is not the LLM's (a bug:
    it propagates). `elapsed_s`: how long the attempt ran, named when it timed out."""
    if isinstance(exc, _Empty):
        return _Failure("empty", str(exc))
    if isinstance(exc, (TimeoutError, APITimeoutError, httpx.TimeoutException)):
        return _Failure("timeout", f"timeout after {elapsed_s:.2f} s")
    if isinstance(exc, APIStatusError):
        status = exc.status_code
        message = _short(f"HTTP {status} {_status_message(exc)}".strip())
        if status == 429:
            return _Failure("http_429", message, _retry_after(exc.response))
        return _Failure("http_5xx" if status >= 500 else "http_4xx", message)
    if isinstance(exc, APIResponseValidationError):
        return _Failure("invalid_output", _short(f"invalid response: {exc}"))
    if isinstance(exc, (APIConnectionError, httpx.TransportError)):
        cause = exc.__cause__ if isinstance(exc, APIConnectionError) and exc.__cause__ else exc
        return _Failure("connection", _short(f"connection: {type(cause).__name__}: {cause}"))
    if isinstance(exc, APIError):  # an error event inside a stream: the server failed
        return _Failure("http_5xx", _short(f"server error mid-stream: {exc.message}"))
    if isinstance(exc, ValidationError):
        return _Failure("invalid_output",
                        f"answer off the schema ({exc.error_count()} errors)")
    if isinstance(exc, (OpenAIError, httpx.HTTPError)):
        return _Failure("invalid_output", _short(f"{type(exc).__name__}: {exc}"))
    return None


@dataclass
class _Attempt:
    """One try of an LLM call, as the code making the request sees it."""

    number: int
    timeout_s: float  # this attempt's own limit (also the HTTP client's, as a backstop)
    timer: asyncio.Timeout
    deadline: float  # loop time of the call's deadline
    heard: bool = False  # the caller heard part of this attempt's answer: never retry it
    _extended: bool = False

    def answering(self) -> None:
        """The endpoint has started streaming: let it finish within the call's deadline
        rather than this attempt's share (starting over would only be slower)."""
        if not self._extended:
            self._extended = True
            self.timer.reschedule(self.deadline)


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
    wants_info: bool = Field(
        description="The caller asks to be sent something to read instead of talking now "
        "(information, details, a brochure, a link, the website, an email); a caller who "
        "says they send information to their own customers is not asking")


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
    # the rules' bare "around six" is asked about, also when the LLM read it as months
    bare_months = rules.bare_months if timeline in (None, rules.bare_months) else None
    timeline = None if bare_months is not None else timeline
    opt_out = rules.opt_out or extracted.opt_out
    # while a meeting is arranged, another time offered is a proposal, not a callback
    # (unless the caller asked for a call in so many words, which the rules keep)
    proposes_time = rules.proposes_time or (expecting_meeting and meeting is not None)
    callback = (rules.callback_later or (extracted.callback_later and not proposes_time)
                ) and not opt_out
    return Understanding(
        budget_usd=budget,
        # the rules' bare "about fifty" stays unsized unless the LLM read it otherwise
        budget_unsized=rules.budget_unsized and budget == rules.budget_usd,
        no_budget=(rules.no_budget or extracted.no_budget) and budget is None,
        decision_maker=(extracted.decision_maker if extracted.decision_maker is not None
                        else rules.decision_maker),
        role=extracted.role or rules.role,
        need=need,
        no_need=(rules.no_need or extracted.no_need) and need is None,
        timeline_months=timeline,
        bare_months=bare_months,
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
        # only ever leads to a question ("shall I text you a link?"), never to a text
        # sent unasked: either reader hearing it is enough
        wants_info=(rules.wants_info or extracted.wants_info) and not opt_out,
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


def _prompt(built_in: str, instructions: str) -> str:
    """A system prompt: the built-in one, then the settings' words for it (if any)."""
    return f"{built_in}\n\n{instructions}" if instructions else built_in


class TieredLLM:
    """An OpenAI-compatible endpoint with an economy and a premium model.

    What it asks for is `settings`': the models (`settings.llm_model`), the instructions
    added to the prompts (`settings.llm`), the company's and agent's names and the word
    limit. `retry` bounds each call's attempts within its deadline. A `client` passed in
    should have `max_retries=0`: the SDK's own retries know nothing of the deadline."""

    def __init__(
        self,
        settings: VoiceAgentIntegrationConfig,
        *,
        client: AsyncOpenAI | None = None,
        extract_timeout_s: float | None = None,
        reply_timeout_s: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if settings.llm_base_url is None and client is None:
            raise ValueError("no LLM configured (SWITCHBOARD_LLM_BASE_URL)")
        turn_timeout = settings.performance.turn_timeout_s
        self._given_timeouts = (extract_timeout_s, reply_timeout_s)
        # both calls of a turn must fit in the turn's deadline, with room to speak
        self.extract_timeout_s = extract_timeout_s or turn_timeout * 0.35
        self.reply_timeout_s = reply_timeout_s or turn_timeout * 0.45
        self.models: dict[Tier, str] = {"economy": settings.llm_model("economy"),
                                        "premium": settings.llm_model("premium")}
        self.reply_instructions = settings.llm.reply_instructions
        self.extract_instructions = settings.llm.extract_instructions
        self._borrowed_client = False  # True: another TieredLLM's, closed by its owner
        integration = settings.agent_integration
        self.company = integration.company_name
        self.agent_name = integration.agent_name
        self.max_words = integration.max_words_per_turn
        self.retry = retry or RetryPolicy()
        self._rng = random.Random()
        self.metrics = VoiceAgentIntegrationMetrics.get()
        self.client = client or AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.secret("llm_api_key") or "not-needed",
            # our own retries (`RetryPolicy`) know the turn's deadline; the SDK's do not
            max_retries=0,
        )

    @classmethod
    def from_settings(cls, settings: VoiceAgentIntegrationConfig) -> TieredLLM | None:
        """The configured LLM, or None when the agents run on rules and templates."""
        return cls(settings) if settings.llm_configured else None

    def for_settings(self, settings: VoiceAgentIntegrationConfig) -> TieredLLM:
        """This LLM as a call on `settings` (a live version's, an experiment variant's)
        asks of it: their models, prompt instructions, names, word limit and deadlines,
        over this one's client (the same endpoint, key and connections, which stay the
        deployment's). Closing it leaves the client to this one."""
        extract_timeout_s, reply_timeout_s = self._given_timeouts
        derived = TieredLLM(settings, client=self.client, extract_timeout_s=extract_timeout_s,
                            reply_timeout_s=reply_timeout_s, retry=self.retry)
        derived._borrowed_client = True
        return derived

    def model(self, tier: Tier) -> str:
        return self.models[tier]

    async def aclose(self) -> None:
        if not self._borrowed_client:
            await self.client.close()

    async def _attempts(self, call: LLMCall, deadline_s: float,
                        run: Callable[[_Attempt], Awaitable[_T]]) -> _T:
        """`run` tried as `self.retry` allows, all of it within `deadline_s`, in one
        `llm` span (under the agent's node span; a final failure is recorded on it)."""
        with tracing.span("llm", attributes={"llm.call": call, "gen_ai.system": "openai"}):
            return await self._retried(call, deadline_s, run)

    async def _retried(self, call: LLMCall, deadline_s: float,
                       run: Callable[[_Attempt], Awaitable[_T]]) -> _T:
        loop = asyncio.get_running_loop()
        policy = self.retry
        deadline = loop.time() + deadline_s
        # a hung attempt may take its share of the deadline, and never more than is left
        share = max(deadline_s * policy.attempt_share, policy.min_attempt_s)
        number = 0
        while True:
            number += 1
            started = loop.time()
            limit = min(deadline - started, share)
            this: _Attempt | None = None
            try:
                async with asyncio.timeout_at(started + limit) as timer:
                    this = _Attempt(number, limit, timer, deadline)
                    return await run(this)
            except Exception as exc:
                failure = classify(exc, loop.time() - started)
                if failure is None:
                    raise  # not the LLM failing: a bug, for the orchestrator's holding line
                if this is not None and this.heard:
                    raise self._failed(call, failure, number, heard=True) from exc
                if failure.reason not in RETRYABLE or number >= policy.max_attempts:
                    raise self._failed(call, failure, number) from exc
                pause = policy.backoff(number + 1, self._rng)
                if failure.retry_after_s is not None:
                    pause = max(pause, failure.retry_after_s)
                if loop.time() + pause + policy.min_attempt_s > deadline:
                    # another attempt could not finish in time: give up now, and the
                    # template is said sooner than if we waited for the deadline
                    raise self._failed(call, failure, number) from exc
                logger.info("llm %s attempt %d failed (%s), retrying in %.3f s",
                            call, number, failure.detail, pause)
                self.metrics.llm_retried(call)
            await asyncio.sleep(pause)

    def _failed(self, call: LLMCall, failure: _Failure, attempts: int, *,
                heard: bool = False) -> LLMError:
        """The final failure of a call: counted, logged, and the error to raise."""
        error = LLMError(call, failure.reason, failure.detail, attempts, heard=heard)
        self.metrics.llm_failed(call, failure.reason)
        logger.warning("%s", error)
        return error

    async def extract(self, tier: Tier, line: str, context: TurnContext
                      ) -> tuple[Extraction, int]:
        """What `line` says, and the tokens it cost."""
        messages = [
            {"role": "system", "content": _prompt(
                f"You read what a caller said on a phone call with {self.agent_name}, a "
                f"voice agent for {self.company} that qualifies sales leads (budget, "
                "decision maker, need, timeline) and books meetings. Report only what the "
                "caller's line says; use null or false for anything it does not say. The "
                "line may come from a speech recogniser: no punctuation, numbers as words.",
                self.extract_instructions)},
            {"role": "user", "content": json.dumps({
                "agent_asked": context.pending_question,
                "known_facts": context.facts,
                "caller_said": line,
            })},
        ]

        async def attempt(this: _Attempt) -> tuple[Extraction, int]:
            response = await self.client.chat.completions.create(
                model=self.model(tier),
                messages=messages,  # type: ignore[arg-type]
                response_format={"type": "json_schema", "json_schema": {
                    "name": "caller_turn", "strict": True, "schema": EXTRACTION_SCHEMA}},
                temperature=0,
                timeout=this.timeout_s,
            )
            if not response.choices or not response.choices[0].message.content:
                raise _Empty("the LLM answered nothing")
            extraction = Extraction.model_validate_json(response.choices[0].message.content)
            return extraction, response.usage.total_tokens if response.usage else 0

        return await self._attempts("extract", self.extract_timeout_s, attempt)

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
        held: list[str] = []
        # the turn's word limit, less what other agents already said this turn
        limit = max(self.max_words - sum(len(s.split()) for s in said or []), _MIN_PART_WORDS)

        def speak(raw: str) -> bool:
            """Shape and hand on what `raw` says; True if the caller got any of it."""
            spoken = False
            for sentence in optimize_sentences(raw, limit):
                words = len(sentence.split())
                if sum(len(s.split()) for s in reply.sentences) + words > limit:
                    held.append(sentence)  # over the limit: only a closing question may go
                    continue
                reply.sentences.append(sentence)
                spoken = True
                if on_sentence is not None:
                    on_sentence(sentence)
            return spoken

        messages = [
            {"role": "system", "content": _prompt(
                f"You are {self.agent_name}, a voice agent for {self.company}, on a phone "
                f"call. Right now you are the {context.agent.replace('_', ' ')}: "
                f"{context.role} Rewrite the draft reply in your own natural words. Say "
                "what it says and nothing more: no new facts, prices or promises. End with "
                "the draft's question if it has one. Short sentences, plain words, no "
                "lists, no markdown, no links, numbers in words, at most "
                f"{limit} words.", self.reply_instructions)},
            {"role": "user", "content": json.dumps({
                "recent_turns": context.history,
                "known_facts": context.facts,
                "caller_said": line,
                "already_said_this_turn": " ".join(said or []),
                "draft_reply": " ".join(draft),
            })},
        ]

        async def attempt(this: _Attempt) -> WrittenReply:
            nonlocal reply, held
            # fresh for every attempt: nothing of a failed attempt was heard
            reply, held = WrittenReply(), []
            splitter = SentenceStream()

            def speak_now(raw: str) -> None:
                if speak(raw):
                    this.heard = True

            async with await self.client.chat.completions.create(
                model=self.model(tier),
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
                temperature=0.4,
                max_tokens=limit * 3,
                timeout=this.timeout_s,  # per read, for httpx; the attempt's timer is overall
            ) as stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        reply.tokens = chunk.usage.total_tokens
                    for choice in chunk.choices:
                        if choice.delta.content:
                            this.answering()
                        for sentence in splitter.feed(choice.delta.content or ""):
                            speak_now(sentence)
            for sentence in splitter.flush():
                speak_now(sentence)
            if not reply.sentences:
                raise _Empty("the LLM said nothing")
            return reply

        try:
            reply = await self._attempts("reply", self.reply_timeout_s, attempt)
        except LLMError as exc:
            if not exc.heard:
                raise
            # the caller already heard part of it: finish that rather than start over
            reply.error = str(exc)
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
