"""`POST /v1/calls/{call_sid}/tier`: an admin forces or revokes the premium tier of a
live call.

The budget deployment makes the decision (it is pinned for the rest of the call and
becomes a row of `tier_escalation_events`); the call's session actor is then told, so
the very next turn uses the new tier. Only a call that is live, bound in the call
registry, can be changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Literal

import ray
from pydantic import BaseModel, Field, ValidationError
from ray.serve.handle import DeploymentHandle
from starlette.responses import JSONResponse

from actors.registry import CallRegistry
from deployments.api_errors import api_error, validation_problems
from switchboard.logging_setup import bind_call
from switchboard.models import TierDecision

logger = logging.getLogger("ray.serve")

BUDGET_TIMEOUT_S = 5.0


class TierChange(BaseModel):
    """The request body."""

    model_config = {"extra": "forbid"}

    tier: Literal["economy", "premium"]
    reason: str = Field(min_length=1, max_length=500)


def parse_tier_change(body: bytes) -> TierChange | str:
    """The change asked for, or why the body is not one."""
    try:
        return TierChange.model_validate(json.loads(body or b"null"))
    except json.JSONDecodeError:
        return "the body is not JSON"
    except ValidationError as exc:
        return validation_problems(exc, "body")


async def change_tier(
    *,
    call_sid: str,
    change: TierChange,
    registry: CallRegistry,
    budget: DeploymentHandle,
    namespace: str,
) -> JSONResponse:
    """Force or revoke the tier of a live call; the response says what was decided."""
    bind_call(call_sid)
    actor_name = await registry.lookup(call_sid)
    if actor_name is None:
        return api_error(f"call {call_sid} is not live", 404)
    try:
        decision: TierDecision = await asyncio.wait_for(
            budget.force_tier.remote(call_sid, change.tier, change.reason), BUDGET_TIMEOUT_S
        )
    except Exception as exc:
        logger.error(f"tier change of {call_sid} failed: {exc!r}")
        return api_error("the budget is unavailable, nothing was changed", 503)
    body = {"call_sid": call_sid, **decision.model_dump(mode="json")}
    if not decision.approved:
        return JSONResponse(body, status_code=409)
    logger.info(f"admin set the tier of {call_sid} to {change.tier}: {change.reason}")
    try:
        session = ray.get_actor(actor_name, namespace=namespace)
        await asyncio.wait_for(session.apply_tier.remote(call_sid, change.tier), BUDGET_TIMEOUT_S)
        body["session_notified"] = True
    except Exception as exc:
        # The decision holds; the session learns it with its next usage update.
        logger.warning(f"session {actor_name} of {call_sid} not told of its tier: {exc!r}")
        body["session_notified"] = False
    return JSONResponse(body)
