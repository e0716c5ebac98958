"""What the ingress does when Twilio's status callback says a call is over.

A call whose session actor still serves it is the actor's to end: it is told, and ends
the call `completed` with everything it heard. Only a call nobody serves (its actor
died, and it waits for a reconnect that will not come now) is finalised here, `failed`,
by the sweeper. An actor that does not answer in time is busy, not gone, and one Ray
cannot reach for now is not known to be dead: Ray delivers the message once it can,
and an actor that never answers stops heartbeating the call, which the sweeper ends
after its grace period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ray.exceptions import ActorDiedError, RayError

from actors.call_sweeper import CallSweeper
from actors.registry import CallRegistry

logger = logging.getLogger("ray.serve")

ACTOR_TIMEOUT_S = 2.0


class CallEnding:
    """Ends a call Twilio reports over, through its actor while it has one."""

    def __init__(
        self,
        registry: CallRegistry,
        sweeper: CallSweeper,
        session_actor: Callable[[str], Any],
        *,
        actor_timeout_s: float = ACTOR_TIMEOUT_S,
    ) -> None:
        self._registry = registry
        self._sweeper = sweeper
        self._session_actor = session_actor  # a name → its Ray actor handle; ValueError if none
        self._actor_timeout_s = actor_timeout_s

    async def twilio_ended(self, call_sid: str, call_status: str) -> None:
        """Twilio says the call is over (`call_status`: completed, busy, …)."""
        entry = await self._registry.entry(call_sid)
        if entry is None or not entry.live:
            return
        if entry.actor is not None and await self._actor_told(entry.actor, call_sid, call_status):
            return
        stale_for = time.time() - entry.heartbeat_at
        await self._sweeper.finalise(
            call_sid,
            f"Twilio reported the call {call_status} while it waited to be resumed "
            f"({stale_for:.0f} s after it was last served)",
        )

    async def _actor_told(self, name: str, call_sid: str, call_status: str) -> bool:
        """Tells actor `name` the call is over; False if there is no such actor any more."""
        try:
            ended = self._session_actor(name).twilio_ended.remote(call_sid, call_status)
            await asyncio.wait_for(ended, self._actor_timeout_s)
        except TimeoutError:
            logger.info(f"call {call_sid}: its actor {name} is slow to hear the call is "
                        f"{call_status}; it ends the call when it does")
            return True
        except (ValueError, ActorDiedError) as exc:  # ValueError: no actor by that name
            logger.info(f"call {call_sid}: its actor is gone ({exc!r})")
            return False
        except RayError as exc:
            # Unreachable is not dead (a node being checked, a GCS hiccup): if the actor
            # is gone after all, its heartbeats stop and the sweeper ends the call.
            logger.warning(f"call {call_sid}: could not tell its actor {name} the call is "
                           f"{call_status} ({exc!r}); left to the sweeper if it is gone")
            return True
        return True
