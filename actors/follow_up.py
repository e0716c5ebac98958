"""Texting the link a caller asked for, once per call, however often its turn is replayed.

The caller's "yes" may be answered more than once: a session actor that dies after the
text went out but before its turn was checkpointed is replaced, the replacement replays
the caller's words, and the agents (or the script) answer them again, asking again for
the text. Twilio's Messages API has no idempotency key, so the call's follow-up is
claimed in Redis (`{prefix}:follow_up:{CallSid}`, SET NX) before it is sent, and the
result kept there:

- a claim that holds a result: the text was sent (or refused) already; that result is
  the answer, and nothing is sent;
- a claim without a result (its sender died between Twilio and Redis): Twilio is asked
  whether that text went out (`Messaging.find`: same `To`, `From` and body since the
  claim); if it did, that message is the answer, else it is sent now;
- no claim: this one sends.

A Redis that does not answer does not stop the text: a caller who asked for the link is
better served by a rare second text than by none. Whatever happens ends in a `FollowUp`
record (`sent` with Twilio's `SM...` SID, or `failed` with Twilio's code and message),
which the session writes to the call's record.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from actors.messaging import Messaging, MessagingError
from switchboard.models import FollowUp

logger = logging.getLogger("ray")

# Twilio's `DateSent` filter has whole seconds, and clocks differ a little.
_LOOKBACK_S = 120.0


def follow_up_key(prefix: str, call_sid: str) -> str:
    return f"{prefix}:follow_up:{call_sid}"


class FollowUpSender:
    """Sends a call's follow-up text at most once (see the module docstring)."""

    def __init__(self, redis: aioredis.Redis, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s

    async def send_link(self, messaging: Messaging, call_sid: str, *, to: str, sender: str,
                        body: str, link: str, generation: int) -> FollowUp:
        """Text `body` (which holds `link`) to `to`; the record of how it went."""
        key = follow_up_key(self._prefix, call_sid)
        record = FollowUp(kind="sms_link", to=to, status="pending", link=link)
        claim = {"state": "sending", "claimed_at": time.time(), "generation": generation}
        earlier = await self._claim(key, claim)
        if earlier is not None:
            if earlier.get("state") == "done":
                logger.info(f"call {call_sid}: the follow-up text was already sent; not again")
                return FollowUp.model_validate(earlier["follow_up"])
            found = await self._already_sent(messaging, to, body, sender,
                                             float(earlier.get("claimed_at") or 0))
            if found is not None:
                done = record.model_copy(update={"status": "sent", "message_sid": found,
                                                 "updated_at": time.time()})
                await self._keep(key, done)
                return done
            await self._write(key, claim)  # ours now: the earlier sender is gone
        try:
            sent = await messaging.send(to, body, sender=sender)
        except MessagingError as exc:
            logger.warning(f"call {call_sid}: the follow-up text to {to} failed: {exc}")
            done = record.model_copy(update={
                "status": "failed", "error": _short(str(exc)), "updated_at": time.time()})
        else:
            logger.info(f"call {call_sid}: follow-up text {sent.sid} to {to} ({sent.status})")
            done = record.model_copy(update={
                "status": "sent", "message_sid": sent.sid, "updated_at": time.time()})
        await self._keep(key, done)
        return done

    async def _claim(self, key: str, claim: dict[str, Any]) -> dict[str, Any] | None:
        """None when this sender holds the claim now; else the claim found."""
        try:
            if await self._redis.set(key, json.dumps(claim), nx=True, ex=self._ttl_s):
                return None
            raw = await self._redis.get(key)
        except (RedisError, OSError) as exc:
            logger.warning(f"follow-up claim {key} not checked ({exc!r}); sending anyway")
            return None
        return json.loads(raw) if raw else None

    async def _already_sent(self, messaging: Messaging, to: str, body: str, sender: str,
                            claimed_at: float) -> str | None:
        """The SID of the text an earlier attempt got to Twilio, if it did."""
        since = datetime.fromtimestamp(max(claimed_at - _LOOKBACK_S, 0), tz=UTC)
        try:
            found = await messaging.find(to, body, sender=sender, since=since)
        except MessagingError as exc:
            # Cannot tell: sending again risks a second text, not sending a lost one.
            logger.warning(f"could not look up an earlier follow-up text to {to}: {exc}")
            return None
        return found.sid if found is not None else None

    async def _keep(self, key: str, done: FollowUp) -> None:
        await self._write(key, {"state": "done", "follow_up": done.model_dump(mode="json")})

    async def _write(self, key: str, value: dict[str, Any]) -> None:
        try:
            await self._redis.set(key, json.dumps(value), ex=self._ttl_s)
        except (RedisError, OSError) as exc:
            logger.warning(f"follow-up state {key} not saved: {exc!r}")


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
