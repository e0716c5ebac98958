"""Many text-mode calls against a running Switchboard, a few at a time.

`place_calls` plays generated callers (`switchboard.caller.generated`) as real text
calls (`WS /v1/text/stream`, the same sessions, agents and records as phone calls),
`concurrency` at once, and reports each as it finishes. A call whose SID the server
already has a record of is not placed again, so an interrupted batch is resumed by
running it again with the same seed. A person's repeat calls are placed after every
first call, so they never overlap their earlier call.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from switchboard.caller.command import run_call
from switchboard.caller.generated import GeneratedCall
from switchboard.caller.result import CallFailed


@dataclass(frozen=True)
class PlacedCall:
    """What became of one generated call."""

    call: GeneratedCall
    outcome: str | None  # from the call record; None when there is no final record
    variant: str | None
    duration_s: float
    skipped: bool = False  # it had been placed before (a record exists)
    error: str | None = None  # why it could not be placed


Progress = Callable[[PlacedCall], None]


async def place_calls(
    calls: Sequence[GeneratedCall],
    *,
    base_url: str,
    api_token: str,
    concurrency: int,
    progress: Progress | None = None,
) -> list[PlacedCall]:
    """Place `calls` in text mode, `concurrency` at a time; their results, in order."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    base_url = base_url.rstrip("/")
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {api_token}"}, timeout=10
    ) as api:

        async def place(call: GeneratedCall) -> PlacedCall:
            async with slots:
                placed = await _place_one(call, api, base_url=base_url, api_token=api_token)
            if progress is not None:
                progress(placed)
            return placed

        firsts = [call for call in calls if not call.repeat]
        repeats = [call for call in calls if call.repeat]
        placed = await asyncio.gather(*(place(call) for call in firsts))
        placed += await asyncio.gather(*(place(call) for call in repeats))
    order = {id(p.call): p for p in placed}
    return [order[id(call)] for call in calls]


async def _place_one(
    call: GeneratedCall, api: httpx.AsyncClient, *, base_url: str, api_token: str
) -> PlacedCall:
    try:
        existing = await api.get(f"/v1/calls/{call.call_sid}")
    except httpx.HTTPError as exc:
        return PlacedCall(call, None, None, 0.0, error=f"cannot reach {base_url}: {exc}")
    if existing.status_code == 200:
        record = existing.json()
        return PlacedCall(call, record.get("outcome"), record.get("variant"), 0.0, skipped=True)
    started = time.monotonic()
    try:
        result = await run_call(
            call.scenario,
            base_url=base_url,
            text=True,
            json_path=None,
            auth_token="",  # text mode signs nothing
            api_token=api_token,
            account_sid="",
            out=io.StringIO(),
            call_sid=call.call_sid,
        )
    except CallFailed as exc:
        return PlacedCall(call, None, None, time.monotonic() - started, error=str(exc))
    record = result.record or {}
    error = None if result.record_final else "no final call record"
    return PlacedCall(call, record.get("outcome"), record.get("variant"),
                      time.monotonic() - started, error=error)
