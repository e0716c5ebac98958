"""The sandbox's calls: Twilio Call resources, kept in memory and rendered as Twilio does.

Inbound calls reach the application from the phone network, which the sandbox does not
see: a well-formed Call SID it has never heard of is taken to be such a live call
("adopted") the first time the application updates it, as Twilio would find it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from switchboard.twilio_sandbox import clock

API_VERSION = "2010-04-01"
CALL_SID = re.compile(r"^CA[0-9a-f]{32}$")
ENDED = frozenset({"completed", "canceled", "busy", "no-answer", "failed"})


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's date format: `Tue, 31 Aug 2010 20:36:28 +0000`."""
    return format_datetime(moment) if moment else None


@dataclass
class SandboxCall:
    """What Twilio knows about one call, and what the application last told it to do."""

    sid: str
    account_sid: str
    to: str
    from_: str
    direction: str
    status: str
    date_created: datetime
    date_updated: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    url: str | None = None
    twiml: str | None = None
    # Set once a call the sandbox placed is answered: human or machine_end_beep.
    answered_by: str | None = None
    # Why a call the sandbox placed failed, and what was said on it (for tests).
    error: str | None = None
    transcript: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}.json"

    def resource(self) -> dict[str, Any]:
        """The Call resource JSON, with Twilio's field names."""
        duration = None
        if self.start_time and self.end_time:
            duration = str(int((self.end_time - self.start_time).total_seconds()))
        base = self.uri.removesuffix(".json")
        return {
            "sid": self.sid,
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(self.date_created),
            "date_updated": rfc2822(self.date_updated),
            "direction": self.direction,
            "duration": duration,
            "end_time": rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": self.from_,
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "start_time": rfc2822(self.start_time),
            "status": self.status,
            "subresource_uris": {
                name: f"{base}/{name.title().replace('_', '')}.json"
                for name in ("notifications", "recordings", "events", "streams", "payments")
            },
            "to": self.to,
            "to_formatted": self.to,
            "trunk_sid": None,
            "uri": self.uri,
        }


class CallBook:
    """Every call the sandbox knows, by SID."""

    def __init__(self) -> None:
        self._calls: dict[str, SandboxCall] = {}

    def get(self, sid: str) -> SandboxCall | None:
        return self._calls.get(sid)

    def create(
        self, account_sid: str, to: str, from_: str, url: str | None, twiml: str | None
    ) -> SandboxCall:
        """A call the application places (`POST Calls.json`): queued, as Twilio answers."""
        now = clock.now()
        call = SandboxCall(
            sid="CA" + secrets.token_hex(16),
            account_sid=account_sid,
            to=to,
            from_=from_,
            direction="outbound-api",
            status="queued",
            date_created=now,
            date_updated=now,
            url=url,
            twiml=twiml,
        )
        self._calls[call.sid] = call
        return call

    def matching(self, query: dict[str, str]) -> list[SandboxCall]:
        """The calls a list request's `To`, `From` and `Status` select, newest first
        (as Twilio lists them)."""
        found = list(self._calls.values())
        for name, field in (("To", "to"), ("From", "from_"), ("Status", "status")):
            if query.get(name):
                found = [call for call in found if getattr(call, field) == query[name]]
        return found[::-1]  # kept in the order they were made: newest first

    def adopt(self, sid: str, account_sid: str) -> SandboxCall:
        """A live call that reached the application from the phone network."""
        now = clock.now()
        call = SandboxCall(
            sid=sid,
            account_sid=account_sid,
            to="",
            from_="",
            direction="inbound",
            status="in-progress",
            date_created=now,
            date_updated=now,
            start_time=now,
        )
        self._calls[sid] = call
        return call

    def hang_up(self, call: SandboxCall, status: str) -> None:
        """`Status=completed` ends the call; `canceled` only ends one not yet answered."""
        if status == "canceled" and call.status not in ("queued", "ringing"):
            return
        now = clock.now()
        call.status = status
        call.end_time = now
        call.date_updated = now

    def redirect(self, call: SandboxCall, url: str | None, twiml: str | None) -> None:
        """New instructions for a live call: it leaves its media stream and follows them."""
        call.url, call.twiml = url, twiml
        call.date_updated = clock.now()
