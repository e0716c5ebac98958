"""One-time tokens that tie a media stream to the webhook that answered its call.

The voice webhook (signed by Twilio) issues a token and puts it in the TwiML as a
`<Parameter>`; the stream's `start` message must present it. A token works once and
expires quickly, so a replayed or forged stream finds nothing to attach to. The
`<Connect action>` webhook issues one the same way for a call that resumes on a new
stream (`resume`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

TOKEN_TTL_S = 120


@dataclass(frozen=True)
class PendingCall:
    """What the voice webhook learned about a call, for its stream to use."""

    call_sid: str
    from_number: str
    to_number: str
    direction: str
    answered_by: str | None = None
    # The campaign that dialled the call (its id, as flags and experiments target it).
    campaign: str | None = None
    # The stream resumes a live call (issued by /twilio/voice/continue).
    resume: bool = False
    # For a resume: when the call's previous stream last served the caller (wall clock),
    # and what was lost, for the call's record.
    last_served_at: float | None = None
    failure: str | None = None


class StreamTokens:
    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def issue(self, call: PendingCall) -> str:
        token = secrets.token_urlsafe(24)
        await self._redis.set(
            f"{self._prefix}:stream-token:{token}", json.dumps(asdict(call)), ex=TOKEN_TTL_S
        )
        return token

    async def redeem(self, token: str) -> PendingCall | None:
        """The call the token was issued for; None if unknown, used or expired."""
        if not token or len(token) > 128:
            return None
        raw = await self._redis.getdel(f"{self._prefix}:stream-token:{token}")
        return PendingCall(**json.loads(raw)) if raw else None
