"""Text messages through Twilio's Messages API: the link a caller asked to be sent.

`Messaging` is the official `twilio` client's Messages resource, on the same account,
client and settings as call control (`actors.call_control.TwilioAccount`:
`SWITCHBOARD_TWILIO_API_BASE_URL` points it at the local Twilio sandbox in development
and tests). A refusal or an unreachable API is raised as `MessagingError` with Twilio's
code (21211: not a valid number; 21614: not a mobile number; 21610: the recipient
replied STOP), never swallowed: the caller is told what happened.

Twilio's Messages API has no idempotency key, so `find` looks for a message already
sent (by `To`, `From`, `DateSent` and body) before one whose first attempt was cut off
is sent again (`actors.follow_up`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from actors.call_control import TwilioAccount, TwilioRequestError

# A follow-up text waits on Twilio for no longer than this per request: the caller hears
# how it went before the goodbye.
MESSAGE_TIMEOUT_S = 5.0
# Numbers Twilio gives for a caller who withheld theirs, and addresses that are not
# phone numbers: nothing can be texted to them.
_WITHHELD = frozenset({"", "anonymous", "restricted", "unknown", "private", "unavailable",
                       "+266696687", "+7378742833", "+2562533", "+8656696"})
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-.]{5,20}$")
MESSAGING_SERVICE = re.compile(r"^MG[0-9a-fA-F]{32}$")


class MessagingError(TwilioRequestError):
    """Twilio did not take a text."""


@dataclass(frozen=True)
class SentMessage:
    """A message Twilio accepted."""

    sid: str
    status: str  # "queued" or "accepted" at first
    to: str
    body: str


def can_receive_texts(number: str | None) -> bool:
    """Whether a text to `number` is worth trying: a phone number, not withheld and not
    a SIP or client address. Whether it is a mobile Twilio says when we send."""
    value = (number or "").strip()
    return value.lower() not in _WITHHELD and bool(_PHONE.match(value))


class Messaging(TwilioAccount):
    """Texts sent from one Twilio account."""

    error = MessagingError

    def __init__(self, account_sid: str, auth_token: str, *, api_base_url: str | None = None,
                 timeout_s: float = MESSAGE_TIMEOUT_S) -> None:
        super().__init__(account_sid, auth_token, api_base_url=api_base_url,
                         timeout_s=timeout_s)

    async def send(self, to: str, body: str, *, sender: str) -> SentMessage:
        """Text `body` to `to` from `sender`: a number of the account, or a Messaging
        Service SID (`MG...`)."""
        origin = ({"messaging_service_sid": sender} if MESSAGING_SERVICE.match(sender)
                  else {"from_": sender})
        message = await self._request(
            f"text {to}", self._rest().messages.create_async(to=to, body=body, **origin))
        return SentMessage(sid=message.sid or "", status=message.status or "queued",
                           to=message.to or to, body=message.body or body)

    async def find(self, to: str, body: str, *, sender: str,
                   since: datetime) -> SentMessage | None:
        """A message with `body` already sent to `to` since `since` (an attempt whose
        answer never came back), or None."""
        origin = {} if MESSAGING_SERVICE.match(sender) else {"from_": sender}
        messages = await self._request(
            f"list the texts to {to}",
            self._rest().messages.list_async(to=to, date_sent_after=since, limit=50, **origin))
        for message in messages:
            if message.body == body and message.status not in ("failed", "undelivered"):
                return SentMessage(sid=message.sid or "", status=message.status or "queued",
                                   to=to, body=body)
        return None
