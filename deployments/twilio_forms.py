"""What the ingress takes from Twilio's webhook forms, checked before anything trusts it.

This module owns the parsing of the two forms Twilio posts to the ingress: the voice
webhook (`VoiceWebhook`, which also reads the `?attempt=KEY` a campaign dialer puts in
the voice URL) and the status callback (`StatusCallbackForm`). It is pure: no I/O, no
signature check (the ingress checks the signature first, then hands the form here).
Each `from_form` returns a model whose every field satisfies the rules below, or raises
one `WebhookFormError` whose message starts with the name of the bad field.

- `CallSid`: `CA` and 32 lowercase hex digits.
- `Direction`: `inbound`, `outbound-api` or `outbound-dial`. On an outbound call the
  lead is Twilio's `To` and the agent its `From`; on an inbound call the other way round.
- `From`/`To`: bounded text. E.164 numbers, `client:`/`sip:` identities, "anonymous"
  and odd values all pass; control and invisible format characters are removed and the
  ends trimmed. Only a value longer than `MAX_NUMBER_CHARS` is refused.
- `AnsweredBy`: one of Twilio's answering-machine-detection results, or absent.
- `CallStatus`: one of Twilio's call statuses.
- `attempt` (query string): a dialer's idempotency key, `ATTEMPT_KEY_PATTERN`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args

from db.call_attempts import campaign_of_key
from deployments.stream_tokens import PendingCall
from switchboard.models import Direction

TwilioDirection = Literal["inbound", "outbound-api", "outbound-dial"]
AnsweredBy = Literal[
    "human",
    "machine_start",
    "machine_end_beep",
    "machine_end_silence",
    "machine_end_other",
    "fax",
    "unknown",
]
CallStatus = Literal[
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
]

TWILIO_DIRECTIONS: Final[frozenset[str]] = frozenset(get_args(TwilioDirection))
ANSWERED_BY_VALUES: Final[frozenset[str]] = frozenset(get_args(AnsweredBy))
CALL_STATUSES: Final[frozenset[str]] = frozenset(get_args(CallStatus))
# Statuses after which the call is over (Twilio's final status callback).
FINAL_CALL_STATUSES: Final[frozenset[str]] = frozenset(
    {"completed", "busy", "failed", "no-answer", "canceled"}
)

CALL_SID_PATTERN: Final = re.compile(r"CA[0-9a-f]{32}")
ATTEMPT_KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# E.164 needs 16 characters; SIP URIs and client identities need more, but not this many.
MAX_NUMBER_CHARS: Final = 256
# Twilio's counters are small; more digits than this is not a count Twilio sent.
MAX_COUNT_DIGITS: Final = 10
_COUNT_PATTERN: Final = re.compile(rf"[0-9]{{1,{MAX_COUNT_DIGITS}}}")
# Control, format (zero-width, bidi overrides), surrogate, private-use and unassigned
# characters, and the Unicode line and paragraph separators: never part of a number.
_STRIPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SHOWN_CHARS: Final = 40


class WebhookFormError(ValueError):
    """A webhook form the ingress refuses; `field` names the bad parameter."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class VoiceWebhook:
    """The voice webhook of one call, as the ingress uses it."""

    call_sid: str
    direction: Direction
    twilio_direction: TwilioDirection
    lead_number: str
    agent_number: str
    answered_by: AnsweredBy | None = None
    call_status: CallStatus | None = None
    attempt: str | None = None

    @classmethod
    def from_form(
        cls, form: Mapping[str, str], query: Mapping[str, str] | None = None
    ) -> VoiceWebhook:
        """The webhook in `form` (with the voice URL's `query`), or `WebhookFormError`."""
        call = _CallParties.from_form(form)
        return cls(
            call_sid=call.call_sid,
            direction=call.direction,
            twilio_direction=call.twilio_direction,
            lead_number=call.lead_number,
            agent_number=call.agent_number,
            answered_by=_answered_by(form),
            call_status=_optional_call_status(form),
            attempt=_attempt(query),
        )

    def pending_call(self) -> PendingCall:
        """What the stream of this call needs to know (`from` is the lead, as in text mode)."""
        return PendingCall(
            call_sid=self.call_sid,
            from_number=self.lead_number,
            to_number=self.agent_number,
            direction=self.direction,
            answered_by=self.answered_by,
            campaign=self.campaign,
        )

    @property
    def campaign(self) -> str | None:
        """The id of the campaign that dialled this call, as text; None when none did."""
        campaign_id = campaign_of_key(self.attempt)
        return None if campaign_id is None else str(campaign_id)


@dataclass(frozen=True)
class StatusCallbackForm:
    """One status callback: how a call stands (or ended), in Twilio's words."""

    call_sid: str
    call_status: CallStatus
    direction: Direction
    twilio_direction: TwilioDirection
    lead_number: str
    agent_number: str
    answered_by: AnsweredBy | None = None
    call_duration_s: int | None = None
    sequence_number: int | None = None
    attempt: str | None = None

    @property
    def final(self) -> bool:
        """True when this status ends the call."""
        return self.call_status in FINAL_CALL_STATUSES

    @classmethod
    def from_form(
        cls, form: Mapping[str, str], query: Mapping[str, str] | None = None
    ) -> StatusCallbackForm:
        """The callback in `form` (with the callback URL's `query`), or `WebhookFormError`."""
        call = _CallParties.from_form(form)
        return cls(
            call_sid=call.call_sid,
            call_status=_call_status(form),
            direction=call.direction,
            twilio_direction=call.twilio_direction,
            lead_number=call.lead_number,
            agent_number=call.agent_number,
            answered_by=_answered_by(form),
            call_duration_s=_count(form, "CallDuration"),
            sequence_number=_count(form, "SequenceNumber"),
            attempt=_attempt(query),
        )


@dataclass(frozen=True)
class _CallParties:
    """The fields both forms share: the call, its direction, and who the lead is."""

    call_sid: str
    direction: Direction
    twilio_direction: TwilioDirection
    lead_number: str
    agent_number: str

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> _CallParties:
        call_sid, twilio_direction = _call_sid(form), _direction(form)
        from_number, to_number = _number(form, "From"), _number(form, "To")
        if twilio_direction == "inbound":
            return cls(call_sid, "inbound", twilio_direction, from_number, to_number)
        # On an outbound call the lead is Twilio's `To`.
        return cls(call_sid, "outbound", twilio_direction, to_number, from_number)


def clean_number(value: str) -> str:
    """`value` without control or invisible characters and trimmed; never raises."""
    return "".join(
        char for char in value if unicodedata.category(char) not in _STRIPPED_CATEGORIES
    ).strip()


# One parser per field; each raises `WebhookFormError` naming its field.


def _optional(form: Mapping[str, str], name: str) -> str | None:
    if name not in form:
        return None
    value = form[name]
    if not isinstance(value, str):
        raise WebhookFormError(name, f"must be text, not {type(value).__name__}")
    return value


def _required(form: Mapping[str, str], name: str) -> str:
    value = _optional(form, name)
    if value is None:
        raise WebhookFormError(name, "missing")
    return value


def _shown(value: str) -> str:
    """A bad value as an error message may quote it: short and escaped."""
    if len(value) > _SHOWN_CHARS:
        return repr(value[:_SHOWN_CHARS]) + "…"
    return repr(value)


def _one_of(name: str, value: str, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise WebhookFormError(name, f"{_shown(value)} is not one of {sorted(allowed)}")
    return value


def _call_sid(form: Mapping[str, str]) -> str:
    value = _required(form, "CallSid")
    if not CALL_SID_PATTERN.fullmatch(value):
        raise WebhookFormError("CallSid", f"{_shown(value)} is not 'CA' and 32 lowercase hex")
    return value


def _direction(form: Mapping[str, str]) -> TwilioDirection:
    value = _one_of("Direction", _required(form, "Direction"), TWILIO_DIRECTIONS)
    return cast(TwilioDirection, value)


def _call_status(form: Mapping[str, str]) -> CallStatus:
    return cast(CallStatus, _one_of("CallStatus", _required(form, "CallStatus"), CALL_STATUSES))


def _optional_call_status(form: Mapping[str, str]) -> CallStatus | None:
    return None if "CallStatus" not in form else _call_status(form)


def _answered_by(form: Mapping[str, str]) -> AnsweredBy | None:
    value = _optional(form, "AnsweredBy")
    if value is None:
        return None
    return cast(AnsweredBy, _one_of("AnsweredBy", value, ANSWERED_BY_VALUES))


def _number(form: Mapping[str, str], name: str) -> str:
    value = _required(form, name)
    if len(value) > MAX_NUMBER_CHARS:
        raise WebhookFormError(name, f"{len(value)} characters, more than {MAX_NUMBER_CHARS}")
    return clean_number(value)


def _count(form: Mapping[str, str], name: str) -> int | None:
    value = _optional(form, name)
    if value is None:
        return None
    if not _COUNT_PATTERN.fullmatch(value):
        raise WebhookFormError(name, f"{_shown(value)} is not a whole number")
    return int(value)


def _attempt(query: Mapping[str, str] | None) -> str | None:
    value = None if query is None else _optional(query, "attempt")
    if value is not None and not ATTEMPT_KEY_PATTERN.fullmatch(value):
        raise WebhookFormError(
            "attempt", f"{_shown(value)} is not an attempt key ({ATTEMPT_KEY_PATTERN.pattern})"
        )
    return value
