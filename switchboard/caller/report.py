"""The call report: fetched from `GET /v1/calls/{call_sid}` once final, and printed.

The server makes the record final within 5 s after the call ends (DESIGN.md), so the
caller polls until it shows `status: completed` and gives up after `RECORD_WAIT_S`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from switchboard.caller.transcript import AGENT, CALLER, utterance

RECORD_WAIT_S = 10.0
POLL_INTERVAL_S = 0.25


@dataclass
class FetchedRecord:
    """The record as last fetched (None if never), whether it was final, and any problem."""

    record: dict[str, Any] | None
    final: bool
    problem: str | None = None


async def fetch_call_record(
    base_url: str, call_sid: str, api_token: str, *, wait_s: float = RECORD_WAIT_S
) -> FetchedRecord:
    """Poll the call's record until it is final, or `wait_s` has passed."""
    url = f"{base_url}/v1/calls/{call_sid}"
    headers = {"Authorization": f"Bearer {api_token}"}
    deadline = time.monotonic() + wait_s
    record: dict[str, Any] | None = None
    problem = "no answer"
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            try:
                response = await http.get(url, headers=headers)
            except httpx.TransportError as exc:
                problem = f"{exc.__class__.__name__}: {exc}"
            else:
                if response.status_code in (401, 403):
                    return FetchedRecord(
                        record, False, f"{url} refused the API token (HTTP {response.status_code})"
                    )
                if response.status_code == 200 and _is_json_object(response):
                    record = response.json()
                    if record.get("status") == "completed":
                        return FetchedRecord(record, True)
                    problem = f"status is still {record.get('status')!r}"
                else:
                    # 404 until the server has written the record.
                    problem = f"HTTP {response.status_code}"
            if time.monotonic() >= deadline:
                problem = f"the call record at {url} was not final after {wait_s:g} s ({problem})"
                return FetchedRecord(record, False, problem)
            await asyncio.sleep(POLL_INTERVAL_S)


def _is_json_object(response: httpx.Response) -> bool:
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


def print_call_record(record: dict[str, Any], out: TextIO) -> None:
    """The agent's turns as the record shows them, then outcome, facts and cost."""
    lines = [f"\n── call record {record.get('call_sid', '')} ──"]
    for turn in record.get("turns") or []:
        if turn.get("user_text"):
            lines.append(utterance(CALLER, turn["user_text"]))
        notes = [turn.get("agent") or ""]
        if isinstance(turn.get("latency_ms"), (int, float)):
            notes.append(f"{turn['latency_ms']:.0f} ms")
        detail = ", ".join(note for note in notes if note)
        lines.append(utterance(AGENT, f"{turn.get('agent_text', '')}  [{detail}]"))
    score = record.get("qualification_score")
    lines.append(f"outcome  {record.get('outcome')}  (qualification score {score})")
    facts = {k: v for k, v in (record.get("facts") or {}).items() if v is not None}
    lines.append("facts    " + (", ".join(f"{k}={v}" for k, v in facts.items()) or "none"))
    for step in record.get("tier_history") or []:
        verdict = "granted" if step.get("approved") else "refused"
        lines.append(f"tier     {step.get('tier')} {verdict}: {step.get('reason', '')}")
    breakdown = ", ".join(
        f"{part} {_usd(value)}" for part, value in (record.get("cost_breakdown") or {}).items()
    )
    cost = _usd(record.get("cost_usd"))
    lines.append(f"cost     {cost} ({breakdown})" if breakdown else f"cost     {cost}")
    lines.extend(f"error    {error}" for error in record.get("errors") or [])
    print("\n".join(lines), file=out, flush=True)


def _usd(value: object) -> str:
    return f"${value:.4f}" if isinstance(value, (int, float)) else str(value)
