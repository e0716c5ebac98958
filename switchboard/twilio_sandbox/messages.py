"""The sandbox's messages: Twilio Message resources, kept in memory and rendered as Twilio does.

A message the application sends (`POST Messages.json`) is accepted as Twilio accepts
one: `queued`, with a new `SM...` SID, or refused with Twilio's error code (21211 for a
`To` that is not a phone number, 21604 without one, 21602 without a body, ...). The
sandbox delivers nothing: tests read what was sent with `GET Messages.json` (filtered by
`To`, `From` and `DateSent` as Twilio filters them) or `GET Messages/{Sid}.json`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from switchboard.twilio_sandbox import clock
from switchboard.twilio_sandbox.calls import API_VERSION, rfc2822
from switchboard.twilio_sandbox.paging import list_page

# What Twilio takes for a phone number: E.164, a plus and up to fifteen digits.
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-f]{32}$")
MESSAGE_SID = re.compile(r"^(?:SM|MM)[0-9a-f]{32}$")
MAX_BODY_CHARS = 1600  # Twilio's limit (error 21617 above it)


class MessageRefused(ValueError):
    """Twilio would refuse this message: its HTTP status, error code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class SandboxMessage:
    """One message the application asked Twilio to send."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status: str
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None = None

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"

    def resource(self) -> dict[str, Any]:
        """The Message resource JSON, with Twilio's field names."""
        base = self.uri.removesuffix(".json")
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.date_created),
            "date_sent": rfc2822(self.date_sent),
            "date_updated": rfc2822(self.date_updated),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(segments(self.body)),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
            "to": self.to,
            "uri": self.uri,
        }


def segments(body: str) -> int:
    """SMS segments `body` takes: 160 GSM characters (153 when split), else 70 (67)."""
    gsm = all(ord(char) < 128 for char in body)
    single, part = (160, 153) if gsm else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // part)


def _when(value: str) -> datetime | date | None:
    """A `DateSent` filter value: `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`."""
    try:
        if "T" in value:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        return date.fromisoformat(value)
    except ValueError:
        return None


def _compare(sent: datetime, bound: datetime | date) -> int:
    """-1, 0 or 1 as `sent` is before, at or after `bound` (a day compares by day)."""
    left: datetime | date = sent.date() if not isinstance(bound, datetime) else sent
    return (left > bound) - (left < bound)  # type: ignore[operator]


class MessageBook:
    """Every message the sandbox was asked to send, oldest first."""

    def __init__(self) -> None:
        self._messages: dict[str, SandboxMessage] = {}

    def get(self, sid: str) -> SandboxMessage | None:
        return self._messages.get(sid)

    def create(self, account_sid: str, form: dict[str, str]) -> SandboxMessage:
        """Check a `POST Messages.json` form as Twilio does; the message, queued."""
        to = form.get("To", "").strip()
        sender = form.get("From", "").strip() or None
        service = form.get("MessagingServiceSid", "").strip() or None
        body = form.get("Body", "")
        if not to:
            raise MessageRefused(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            raise MessageRefused(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if sender is None and service is None:
            raise MessageRefused(400, 21603, "A 'From' phone number is required.")
        if sender is not None and not E164.match(sender):
            raise MessageRefused(400, 21212, f"Invalid 'From' Phone Number: {sender}")
        if service is not None and not MESSAGING_SERVICE_SID.match(service):
            raise MessageRefused(404, 21701, "The Messaging Service Sid is invalid.")
        if sender is not None and sender == to:
            raise MessageRefused(400, 21266, "'To' and 'From' number cannot be the same")
        if not body.strip() and not form.get("MediaUrl") and not form.get("ContentSid"):
            raise MessageRefused(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_CHARS:
            raise MessageRefused(400, 21617, "The concatenated message body exceeds the "
                                 f"{MAX_BODY_CHARS} character limit.")
        now = clock.now()
        message = SandboxMessage(
            sid="SM" + secrets.token_hex(16),
            account_sid=account_sid,
            to=to,
            from_=sender,
            messaging_service_sid=service,
            body=body,
            status="queued",
            date_created=now,
            date_updated=now,
            # Twilio sets `date_sent` once the carrier takes it; the sandbox takes it at once.
            date_sent=now,
        )
        self._messages[message.sid] = message
        return message

    def matching(self, query: dict[str, str]) -> list[SandboxMessage]:
        """The messages a list request's filters select, newest first (as Twilio lists)."""
        found = list(self._messages.values())
        if query.get("To"):
            found = [m for m in found if m.to == query["To"]]
        if query.get("From"):
            found = [m for m in found if m.from_ == query["From"]]
        for name, keep in (("DateSent", (0,)), ("DateSent<", (-1, 0)), ("DateSent>", (0, 1))):
            bound = _when(query.get(name, ""))
            if bound is not None:
                found = [m for m in found
                         if m.date_sent is not None and _compare(m.date_sent, bound) in keep]
        return found[::-1]  # kept in the order they were made: newest first

    def page(self, account_sid: str, query: dict[str, str]) -> dict[str, Any]:
        """A page of `GET Messages.json`, with Twilio's paging keys."""
        path = f"/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        found = [message.resource() for message in self.matching(query)]
        return list_page("messages", found, path, query)
