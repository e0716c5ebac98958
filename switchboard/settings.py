"""Settings: `VoiceAgentIntegrationConfig`, read from `SWITCHBOARD_*` variables.

The fixed names of DESIGN.md (`SWITCHBOARD_TWILIO_AUTH_TOKEN`, `SWITCHBOARD_PUBLIC_URL`,
`REDIS_URL`, ...) are top-level fields. Groups (agent integration, tier escalation,
performance, circuit breaker, monitoring, qualification policy, the script's wording,
the LLM's models and prompt additions, calls, speech, campaigns) are nested models set
with a double underscore, e.g. `SWITCHBOARD_TIER_ESCALATION__PER_CALL_CAP_USD=0.5`.
An optional YAML file named by `SWITCHBOARD_SETTINGS_FILE` supplies values the
environment does not.

Secrets are `SecretStr`: they never appear in `repr`, logs or API answers.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from datetime import time
from functools import lru_cache
from ipaddress import ip_address
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

SETTINGS_FILE_ENV = "SWITCHBOARD_SETTINGS_FILE"


class SettingsError(RuntimeError):
    """A setting has a bad value; the message names the setting."""


class QualificationPolicy(BaseModel):
    """The default qualification policy of DESIGN.md; every number may be changed."""

    min_budget_usd: float = Field(10_000, ge=0)
    max_timeline_months: float = Field(6, gt=0)
    premium_score: float = Field(0.75, ge=0, le=1)
    premium_budget_usd: float = Field(50_000, ge=0)


class AgentIntegrationSettings(BaseModel):
    """How calls reach the agents."""

    enabled: bool = True
    reprompt_after_s: float = Field(6.0, gt=0)
    max_reprompts: int = Field(3, ge=1)
    max_words_per_turn: int = Field(45, ge=5)
    # A caller's line the recogniser is less sure of than this (0-1, as
    # `actors.speech.confidence` reads it) is never made a fact or an action: the agent
    # asks again. 0 gates nothing; text-mode lines have no confidence and are never gated.
    # Chosen on load_tests/bench_recognition's tuning set only (PocketSphinx, phone
    # path): of 0.1-0.5, 0.3 stopped the most answers read wrong for the fewest read
    # right (3 of 13 for 2 of 72); the held-out figures are in actors/speech/README.md.
    # Deepgram's own confidences run on another scale: measure before trusting 0.3 there.
    min_stt_confidence: float = Field(0.3, ge=0, le=1)
    company_name: str = "Switchboard"
    agent_name: str = "Alex"
    # "Send me some information": the link texted to a caller who asks for it
    # (`SWITCHBOARD_AGENT_INTEGRATION__INFO_LINK`). Unset, such a caller is offered an
    # email from a person instead.
    info_link: str | None = None
    # The text's words: `{link}` is required; `{company}` and `{agent}` may be used.
    info_sms_body: str = "Thanks for your interest in {company}! Here are the details: {link}"
    # What the text is sent from: a number of the account, or a Messaging Service SID
    # ("MG..."). Unset: the number the call is on (the agent's number).
    info_sms_from: str | None = None

    @field_validator("info_link")
    @classmethod
    def _a_link(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parsed = urlparse(value.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("must be an http(s) URL such as https://example.com/pricing")
        return value.strip()

    @field_validator("info_sms_body")
    @classmethod
    def _a_body(cls, value: str) -> str:
        try:
            value.format(link="", company="", agent="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"may use only {{link}}, {{company}} and {{agent}} ({exc})") from None
        if "{link}" not in value:
            raise ValueError("must contain {link}")
        return value

    def info_sms_text(self, link: str) -> str:
        """The text a caller who asked for information is sent."""
        return self.info_sms_body.format(link=link, company=self.company_name,
                                         agent=self.agent_name)


# The script's replies a deployment or an experiment's variant may word its own way
# (`script.replies`): the ones said the same way to every caller, so a variant's wording
# is all that differs. `graph.workflow.replies.Replies` has a method of each name.
ReplyName = Literal[
    "greeting", "reintroduction", "purpose", "ai_disclosure", "rebuttal", "declined",
    "meeting_deferred", "voicemail", "hello_silence", "silence_goodbye",
]
# The qualifying questions, in the order the script asks them by default.
BantQuestion = Literal["need", "budget", "authority", "timeline"]
DEFAULT_QUESTION_ORDER: tuple[BantQuestion, ...] = ("need", "budget", "authority", "timeline")
_SCRIPT_PLACEHOLDERS = {"company": "Switchboard", "agent": "Alex"}


class ScriptSettings(BaseModel):
    """The script's own wording and question order, over the built-in templates.

    `replies`: a reply's sentences by name (`{company}` and `{agent}` may be used);
    `questions`: a qualifying question's full wording; `question_order`: the order the
    qualifying questions are asked in (facts the caller volunteers are taken in any
    order either way)."""

    replies: dict[ReplyName, list[str]] = {}
    questions: dict[BantQuestion, str] = {}
    question_order: list[BantQuestion] = list(DEFAULT_QUESTION_ORDER)

    @field_validator("replies")
    @classmethod
    def _sentences(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, sentences in value.items():
            if not sentences or not all(s.strip() for s in sentences):
                raise ValueError(f"{name}: needs at least one sentence, none empty")
            for sentence in sentences:
                _placeholders_known(sentence)
        return value

    @field_validator("questions")
    @classmethod
    def _wording(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not text.strip():
                raise ValueError(f"{name}: must not be empty")
            _placeholders_known(text)
        return value

    @field_validator("question_order")
    @classmethod
    def _every_question_once(cls, value: list[str]) -> list[str]:
        if sorted(value) != sorted(DEFAULT_QUESTION_ORDER):
            raise ValueError(f"must name each of {list(DEFAULT_QUESTION_ORDER)} once")
        return value


def _placeholders_known(text: str) -> None:
    try:
        text.format(**_SCRIPT_PLACEHOLDERS)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{text!r}: only {{company}} and {{agent}} may be filled in ({exc!r})"
                         ) from None


# A model's name as OpenAI-compatible endpoints spell them: gpt-4o-mini,
# meta-llama/Llama-3.1-8B-Instruct, llama3.1:8b, ft:gpt-4o-mini:acme::abc123.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
_MAX_INSTRUCTIONS_CHARS = 2000


class LLMSettings(BaseModel):
    """What a call asks of the LLM: the model of each tier, and words added to the
    built-in prompts (`graph.llm`). A live setting (`user_config.llm`) and an
    experiment variant's to override, so variants may differ in model and prompt.

    `economy_model`, `premium_model`: unset, the environment's
    (`SWITCHBOARD_LLM_ECONOMY_MODEL`, `SWITCHBOARD_LLM_PREMIUM_MODEL`).
    `reply_instructions`: added, as written, to the system prompt of the agent's replies
    (tone, emphasis); `extract_instructions`: to the one that reads the caller's line.
    They add to the built-in prompts rather than replace them: those carry what the code
    relies on (the draft's meaning and question, the word limit, the schema).

    The endpoint and its key are the deployment's (`SWITCHBOARD_LLM_BASE_URL`,
    `SWITCHBOARD_LLM_API_KEY`) and are not here: a deploy or a variant picks a model and
    words, never where they are sent. Tokens are priced per tier
    (`tier_escalation.economy_usd_per_1k_tokens`, `premium_usd_per_1k_tokens`) whatever
    model answers, so a variant on another model costs what its tier's price says."""

    economy_model: str | None = None
    premium_model: str | None = None
    reply_instructions: str = Field("", max_length=_MAX_INSTRUCTIONS_CHARS)
    extract_instructions: str = Field("", max_length=_MAX_INSTRUCTIONS_CHARS)

    @field_validator("economy_model", "premium_model")
    @classmethod
    def _a_model_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "://" in value:
            raise ValueError("a model's name, not an endpoint (the endpoint is the "
                             "deployment's SWITCHBOARD_LLM_BASE_URL)")
        if not _MODEL_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a model name such as gpt-4o-mini "
                             "(letters, digits, . _ : / @ + -)")
        return value

    @field_validator("reply_instructions", "extract_instructions")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()


class TierEscalationSettings(BaseModel):
    """When a call earns the premium tier, and what usage costs."""

    per_call_cap_usd: float = Field(0.25, ge=0)
    daily_budget_usd: float = Field(50.0, ge=0)
    # What one premium grant holds against the daily budget until the call ends: about
    # what a call's premium turns cost (six turns of ~1,200 tokens at $0.01/1k is $0.07).
    premium_reservation_usd: float = Field(0.10, gt=0)
    # A grant's hold is a lease: a live call renews it (each usage update, each request,
    # `renew_hold`); one not renewed for this long is returned to the day, so a call
    # whose session died without `end_call` cannot keep budget from other calls.
    hold_lease_s: float = Field(90.0, gt=0)
    telephony_usd_per_minute: float = Field(0.0085, ge=0)
    stt_usd_per_second: float = Field(0.0001, ge=0)
    tts_usd_per_character: float = Field(0.000015, ge=0)
    # Per tier, whatever model the tier's calls use (`llm.economy_model`, a variant's
    # included): a variant on a dearer model is costed, and capped, at its tier's price.
    economy_usd_per_1k_tokens: float = Field(0.0006, ge=0)
    premium_usd_per_1k_tokens: float = Field(0.01, ge=0)


class PerformanceSettings(BaseModel):
    """Capacity and deadlines."""

    max_calls_per_replica: int = Field(24, ge=1)
    # Warm session actors per ingress replica: at least `warm_pool_size` (0: no pool,
    # every call starts its actor cold), more while calls arrive faster than actors
    # start, at most `warm_pool_max`; started `warm_pool_concurrent_starts` at a time
    # (on 2 cores, two starting side by side slowed a live call's greeting from about
    # 0.35 s to 0.9 s; raise it on larger nodes).
    warm_pool_size: int = Field(3, ge=0)
    warm_pool_max: int = Field(12, ge=0)
    warm_pool_concurrent_starts: int = Field(1, ge=1)
    # A session actor whose call ended goes back to the pool for the next call (a new
    # process costs seconds of CPU), until it has served `session_max_calls` or holds
    # more than `session_max_rss_mb`; then it is replaced, which bounds whatever a call
    # leaves behind in its process. 1: a process per call.
    session_max_calls: int = Field(50, ge=1)
    session_max_rss_mb: int = Field(400, ge=100)
    # A new inbound call waits this long at most for a warm actor, else it is answered
    # `<Reject reason="busy">` rather than left in silence while one starts.
    warm_wait_s: float = Field(1.0, ge=0)
    turn_timeout_s: float = Field(4.0, gt=0)
    frame_batch_ms: int = Field(40, ge=20, le=200)
    # The agent's audio goes to the caller in media messages of this length. Twilio
    # plays whatever length it is sent; each message costs a serialization in the
    # session and a WebSocket write in the ingress, so 20 ms messages cost five times
    # what 100 ms ones do. The end of an utterance is padded to a whole message.
    audio_out_chunk_ms: int = Field(100, ge=20, le=400, multiple_of=10)
    session_ttl_s: int = Field(3600, ge=60)
    max_message_bytes: int = Field(64 * 1024, ge=1024)
    # A new socket must send `start` within this; slower ones are closed and counted.
    start_timeout_s: float = Field(5.0, gt=0)
    # Sockets open but not yet started, per replica: more are refused at once, so a
    # flood of idle connections cannot take the `max_ongoing_requests` slots calls need
    # (serve_config.yaml leaves room for these beside the calls).
    max_unstarted_streams: int = Field(8, ge=1)
    # A media stream sends a frame every 20 ms; one silent this long is gone.
    stream_idle_timeout_s: float = Field(5.0, gt=0)
    # A text-mode caller silent (no message at all) this long has left.
    text_idle_timeout_s: float = Field(300.0, gt=0)

    @model_validator(mode="after")
    def _pool_ceiling_above_floor(self) -> PerformanceSettings:
        if self.warm_pool_max < self.warm_pool_size:
            raise ValueError(
                f"warm_pool_max ({self.warm_pool_max}) must be at least warm_pool_size "
                f"({self.warm_pool_size})"
            )
        return self


class RecoverySettings(BaseModel):
    """How a call survives the failure of the parts serving it (DESIGN.md "Failure and
    recovery")."""

    # No answer from a session actor for this long, and none to the liveness check that
    # follows (as long again): it is taken for dead and its call moves to a new actor.
    actor_deadline_s: float = Field(3.0, gt=0)
    # An actor past its deadline that shows it is alive (its process answers, its event
    # loop ran within this long) is only late, and is waited for up to this long in all.
    actor_hung_s: float = Field(15.0, gt=0)
    # What the ingress keeps of the caller's messages since the last finished turn, to
    # replay to a replacement actor.
    replay_window_s: float = Field(30.0, gt=0)
    # How long a call whose media stream closed without a `stop` (or whose actor and
    # socket are both gone) waits to be resumed before it is ended.
    resume_grace_s: float = Field(30.0, gt=0)
    # Reconnects of one call `/twilio/voice/continue` accepts before it apologises and
    # hangs up.
    max_resumes: int = Field(3, ge=0)
    # How often a session actor tells the call registry it still serves its call.
    heartbeat_s: float = Field(2.0, gt=0)
    # How often each ingress replica looks for calls nobody serves any more.
    sweep_interval_s: float = Field(5.0, gt=0)
    # How long a replacement actor waits for the replayed audio to become a caller turn
    # before it says a short bridge and asks its last question again.
    resume_settle_s: float = Field(1.0, ge=0)


class CircuitBreakerSettings(BaseModel):
    """pybreaker settings for the orchestrator path."""

    fail_max: int = Field(3, ge=1)
    reset_timeout_s: float = Field(15.0, gt=0)


class MonitoringSettings(BaseModel):
    """Metrics and logging."""

    metrics_enabled: bool = True
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class SpeechSettings(BaseModel):
    """Which Pipecat speech services a call uses; offline engines by default."""

    stt: Literal["pocketsphinx", "deepgram", "openai"] = "pocketsphinx"
    tts: Literal["espeak", "openai", "cartesia", "elevenlabs"] = "espeak"
    voice: str | None = None
    espeak_voice: str = "en-us"
    espeak_words_per_minute: int = Field(175, ge=80, le=450)
    deepgram_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    cartesia_api_key: SecretStr | None = None
    elevenlabs_api_key: SecretStr | None = None
    # Unset: the vendors' own endpoints. Set: a private deployment, a proxy, or the local
    # protocol servers (`python -m switchboard.speech_server`), e.g. ws://127.0.0.1:PORT
    # and http://127.0.0.1:PORT/v1.
    deepgram_base_url: str | None = None
    openai_base_url: str | None = None


class CampaignSettings(BaseModel):
    """Outbound campaigns' pacing defaults (`SWITCHBOARD_CAMPAIGNS__*`). A campaign is
    created with these unless `POST /v1/campaigns` names others, and keeps them."""

    # Calls of one campaign at once, and placed per minute.
    max_concurrent: int = Field(2, ge=1, le=1000)
    calls_per_minute: int = Field(10, ge=1, le=6000)
    # Attempts per lead (the first call included), and the wait before a retry of a
    # busy, unanswered, failed or voicemail attempt.
    max_attempts: int = Field(3, ge=1, le=20)
    retry_after_s: float = Field(3600.0, ge=0)
    # Calling hours in the lead's local time, `HH:MM-HH:MM` (the end excluded).
    window: str = "08:00-21:00"
    # Leads one CSV may hold.
    max_leads: int = Field(50_000, ge=1)
    # The dialer (deployments.dialer): the number it calls from, how long Twilio lets a
    # call ring, and how often it looks for work.
    caller_id: str = Field("+15557650000", pattern=r"^\+[1-9][0-9]{1,14}$")
    ring_timeout_s: int = Field(30, ge=5, le=600)
    dialer_tick_s: float = Field(1.0, gt=0)
    # Calls the ingress can answer at once, across its replicas, inbound included: the
    # dialer never dials beyond them. 0: the ingress replicas alive times
    # `performance.max_calls_per_replica` (`deployments.ingress_capacity`).
    ingress_capacity: int = Field(0, ge=0)
    # The zone of a lead whose time zone neither the CSV nor its number tells.
    fallback_timezone: str = "UTC"
    # An answered call whose record is still not final this long after Twilio said it
    # ended (or a dial Twilio said nothing of after ringing) is settled as failed.
    no_news_s: float = Field(300.0, gt=0)
    # One dialer works at a time: it holds a lease in Redis, renewed every tick; a
    # replica that dies without letting go leaves it to its successor after this long.
    lease_s: float = Field(10.0, gt=0)

    @field_validator("window")
    @classmethod
    def _a_window(cls, value: str) -> str:
        calling_window(value)
        return value

    @field_validator("fallback_timezone")
    @classmethod
    def _a_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/Chicago)") from None
        return value

    def calling_window(self) -> tuple[time, time]:
        """The window's start and end, local times."""
        return calling_window(self.window)


def calling_window(window: str) -> tuple[time, time]:
    """`"08:00-21:00"` as (start, end); ValueError unless start is before end."""
    start, sep, end = window.partition("-")
    try:
        if not sep:
            raise ValueError
        bounds = (time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
    except ValueError:
        raise ValueError(f"{window!r} is not HH:MM-HH:MM, e.g. 08:00-21:00") from None
    if bounds[0] >= bounds[1]:
        raise ValueError(f"{window!r}: the start must be before the end")
    return bounds


# Post-call webhook event types (DESIGN.md "Campaigns"), in the order they are made.
WEBHOOK_EVENT_TYPES = ("call.completed", "lead.qualified", "meeting.booked", "lead.opted_out")


class WebhookEndpoint(BaseModel):
    """One receiver of post-call webhooks: an entry of `SWITCHBOARD_WEBHOOKS` (JSON)."""

    url: str
    # The HMAC key of `Switchboard-Signature` is its UTF-8 bytes.
    secret: SecretStr
    # The event types it is sent; all of them when not given.
    types: list[str] = Field(default_factory=lambda: list(WEBHOOK_EVENT_TYPES), min_length=1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("must be an http(s) URL such as https://crm.example.com/hooks")
        return value

    @field_validator("secret")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(WEBHOOK_EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown types {unknown}; known: {list(WEBHOOK_EVENT_TYPES)}")
        return value


class WebhookDeliverySettings(BaseModel):
    """How post-call webhooks are retried (`SWITCHBOARD_WEBHOOK_DELIVERY__*`)."""

    # Attempts before a delivery moves to the dead-letter list (then only a replay
    # sends it again). The defaults retry for about 40 minutes.
    max_attempts: int = Field(12, ge=1)
    # The wait after attempt n is backoff_base_s * 2**(n-1), at most backoff_max_s.
    backoff_base_s: float = Field(2.0, gt=0)
    backoff_max_s: float = Field(600.0, gt=0)
    # One request's timeout; a timeout is retried like a network error.
    timeout_s: float = Field(10.0, gt=0)
    # Due deliveries are also looked for this often (new ones wake the worker at once).
    poll_interval_s: float = Field(1.0, gt=0)
    # Deliveries one worker sends at once.
    batch_size: int = Field(20, ge=1)


class VoiceAgentIntegrationConfig(BaseSettings):
    """Every setting of Switchboard."""

    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    # Twilio
    twilio_auth_token: SecretStr | None = None
    twilio_account_sid: str | None = None
    twilio_api_base_url: str | None = None
    # Unset: where this server listens (`http://{host}:{port}`), which is right only on
    # this machine; Twilio needs the URL it reaches the server at.
    public_url: str = "http://127.0.0.1:8000"
    transfer_number: str | None = None

    # The HTTP API
    api_token: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    # LLM (OpenAI-compatible); unset, agents run on templates. The models here are the
    # deployment's defaults; `llm` (below) may name others, per version or variant.
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_economy_model: str = "gpt-4o-mini"
    llm_premium_model: str = "gpt-4o"

    # Stores (these two keep their conventional names, without the prefix)
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres", validation_alias="DATABASE_URL"
    )
    redis_prefix: str = "switchboard"
    ray_namespace: str = "switchboard"

    agent_integration: AgentIntegrationSettings = AgentIntegrationSettings()
    qualification: QualificationPolicy = QualificationPolicy()
    tier_escalation: TierEscalationSettings = TierEscalationSettings()
    performance: PerformanceSettings = PerformanceSettings()
    circuit_breaker: CircuitBreakerSettings = CircuitBreakerSettings()
    recovery: RecoverySettings = RecoverySettings()
    script: ScriptSettings = ScriptSettings()
    llm: LLMSettings = LLMSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    speech: SpeechSettings = SpeechSettings()
    # Post-call webhooks: `SWITCHBOARD_WEBHOOKS` is a JSON list of {"url", "secret",
    # "types"}; empty, no events are made.
    webhooks: list[WebhookEndpoint] = []
    webhook_delivery: WebhookDeliverySettings = WebhookDeliverySettings()
    campaigns: CampaignSettings = CampaignSettings()
    # Moves the dialer's clock (calling hours, retries), in seconds, for tests and drills.
    # Nothing else reads it.
    clock_offset_s: float = 0.0

    @field_validator("webhooks")
    @classmethod
    def _one_entry_per_url(cls, value: list[WebhookEndpoint]) -> list[WebhookEndpoint]:
        # A delivery is keyed by (call, type, url): one URL cannot have two secrets.
        urls = [endpoint.url for endpoint in value]
        if len(set(urls)) != len(urls):
            raise ValueError("each url may appear once")
        return value

    @field_validator("public_url", "llm_base_url", "twilio_api_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("must be an http(s) URL such as https://voice.example.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _public_url_follows_the_listener(self) -> VoiceAgentIntegrationConfig:
        if "public_url" not in self.model_fields_set:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
            self.public_url = f"http://{host}:{self.port}"
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if urlparse(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if urlparse(value).scheme not in ("postgres", "postgresql"):
            raise ValueError("must be a postgresql:// URL")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(SETTINGS_FILE_ENV)
        if path:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)

    # Derived facts

    @property
    def is_loopback(self) -> bool:
        """True when the public URL points at this machine (development)."""
        host = urlparse(self.public_url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def llm_configured(self) -> bool:
        return self.llm_base_url is not None

    def llm_model(self, tier: Literal["economy", "premium"]) -> str:
        """The model a call on these settings asks for at `tier`: the `llm` group's (a
        live block's or an experiment variant's), else the environment's."""
        if tier == "premium":
            return self.llm.premium_model or self.llm_premium_model
        return self.llm.economy_model or self.llm_economy_model

    def secret(self, name: str) -> str:
        """The plain value of a secret setting ('' when unset)."""
        value = getattr(self, name)
        return value.get_secret_value() if value is not None else ""


def load_settings(**overrides: object) -> VoiceAgentIntegrationConfig:
    """Read settings; a bad value raises `SettingsError` naming the setting."""
    path = os.environ.get(SETTINGS_FILE_ENV)
    if path and not os.path.isfile(path):
        raise SettingsError(f"{SETTINGS_FILE_ENV}: no such file: {path}")
    try:
        return VoiceAgentIntegrationConfig(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = "__".join(str(part) for part in error["loc"]).upper()
            name = (
                location if location in ("REDIS_URL", "DATABASE_URL") else f"SWITCHBOARD_{location}"
            )
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("bad setting: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> VoiceAgentIntegrationConfig:
    """Settings of this process, read once."""
    return load_settings()
