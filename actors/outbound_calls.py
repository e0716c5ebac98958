"""Placing outbound calls through Twilio's Calls API, and finding one already placed.

`OutboundCalls` is the official `twilio` client on the same account, client and
settings as call control (`actors.call_control.TwilioAccount`:
`SWITCHBOARD_TWILIO_API_BASE_URL` points it at the local Twilio sandbox).

Twilio's Calls API has no idempotency key. The dialer writes each attempt before it
asks for the call and puts the attempt's key in the voice URL (`?attempt=KEY`, which
the voice webhook reads); after a restart, `find` asks Twilio for the calls to the
lead's number made since the attempt was written. Twilio's Call resource does not
echo the voice URL, so a call is recognised by its number, its caller ID, its time and
its not being any other attempt's call: one attempt per lead is in flight at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from actors.call_control import TwilioAccount, TwilioRequestError

# Twilio's progress events the dialer follows (the status callback is sent for each).
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
# Answering machine detection: `AnsweredBy` on the voice webhook tells a person from a
# machine, and DetectMessageEnd waits for the greeting's beep before the webhook.
MACHINE_DETECTION = "DetectMessageEnd"
# Calls created before the attempt row by up to this much still count (clock skew
# between PostgreSQL and Twilio).
CLOCK_SKEW = timedelta(seconds=60)


class OutboundCallError(TwilioRequestError):
    """Twilio did not take the call. `status` is None when Twilio was not reached (the
    call may or may not exist: ask `find`)."""

    @property
    def refused(self) -> bool:
        """Twilio answered and did not create the call."""
        return self.status is not None


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str
    created_at: datetime | None


def voice_url(public_url: str, attempt_key: str) -> str:
    return f"{public_url}/twilio/voice?{urlencode({'attempt': attempt_key})}"


class OutboundCalls(TwilioAccount):
    """`calls.create` and `calls.list` for the dialer."""

    error = OutboundCallError

    async def place(
        self, *, to: str, from_: str, url: str, status_callback: str, timeout_s: int
    ) -> PlacedCall:
        """Ask Twilio to call `to`; the voice webhook is `url` once the lead answers."""
        call = await self._request(f"call {to}", self._rest().calls.create_async(
            to=to,
            from_=from_,
            url=url,
            status_callback=status_callback,
            status_callback_event=STATUS_EVENTS,
            machine_detection=MACHINE_DETECTION,
            timeout=timeout_s,
        ))
        return PlacedCall(call.sid or "", call.status or "queued", call.date_created)

    async def find(
        self, *, to: str, from_: str, since: datetime, known: set[str]
    ) -> PlacedCall | None:
        """The call to `to` from `from_` created since `since` that is none of the
        `known` calls, if Twilio has one (the oldest, if several)."""
        calls = await self._request(f"list the calls to {to}",
                                    self._rest().calls.list_async(to=to, from_=from_, limit=50))
        found = [
            PlacedCall(call.sid or "", call.status or "", call.date_created)
            for call in calls
            if call.sid not in known
            and call.date_created is not None
            and call.date_created >= since - CLOCK_SKEW
        ]
        return min(found, key=lambda call: call.created_at or since, default=None)

    async def status(self, call_sid: str) -> str | None:
        """Twilio's status of the call now (None if Twilio could not be asked)."""
        try:
            call = await self._request(f"fetch call {call_sid}",
                                       self._rest().calls(call_sid).fetch_async())
        except OutboundCallError:
            return None
        return call.status
