"""`switchboard call`: place one simulated call, then print and save its report.

`run_call` is the whole call for programs (tests, the benchmark); `call_command` is what
the command line runs: it finds the scenario and the secrets, and turns the result
into an exit status — 0 when the call completed, whatever its outcome (also when the
agent ended it), 1 when it could not be placed, 2 when it could not even be tried.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path
from typing import TextIO

from switchboard.caller.audio_caller import run_audio_call
from switchboard.caller.demo import DEMO_SCENARIO
from switchboard.caller.report import fetch_call_record, print_call_record
from switchboard.caller.result import CallFailed, CallResult
from switchboard.caller.text_caller import run_text_call
from switchboard.caller.tokens import CredentialsError, resolve_credentials
from switchboard.caller.transcript import Transcript
from switchboard.caller.turns import TurnObserver
from switchboard.caller.twilio_protocol import new_sid
from switchboard.scenario import Scenario, ScenarioError, load_scenario
from switchboard.settings import SettingsError, get_settings

EXIT_COMPLETED = 0
EXIT_NOT_PLACED = 1
EXIT_USAGE = 2


async def run_call(
    scenario: Scenario,
    *,
    base_url: str,
    text: bool,
    json_path: Path | None,
    auth_token: str,
    api_token: str,
    account_sid: str,
    out: TextIO,
    call_sid: str | None = None,
    observer: TurnObserver | None = None,
) -> CallResult:
    """Place the call the scenario describes; raises `CallFailed` if it cannot be placed.

    `observer` is told what happens on the line as it happens (drills and benchmarks
    time things to it)."""
    base_url = base_url.rstrip("/")
    account_sid = account_sid or new_sid("AC")
    call_sid = call_sid or new_sid("CA")
    transcript = Transcript(out)
    mode = "text" if text else "audio"
    transcript.note(f"{scenario.name}: {scenario.direction} {mode} call {call_sid} via {base_url}")
    if text:
        leg = await run_text_call(
            scenario,
            base_url=base_url,
            api_token=api_token,
            call_sid=call_sid,
            transcript=transcript,
            observer=observer,
        )
    else:
        leg = await run_audio_call(
            scenario,
            base_url=base_url,
            auth_token=auth_token,
            account_sid=account_sid,
            call_sid=call_sid,
            transcript=transcript,
            observer=observer,
        )
    latencies = [t.latency_ms for t in leg.timings if t.latency_ms is not None]
    if latencies:
        transcript.note(
            f"agent started answering {statistics.median(latencies):.0f} ms (median) after the "
            f"caller finished, over {len(latencies)} turns"
        )

    fetched = await fetch_call_record(base_url, call_sid, api_token)
    if fetched.record is not None:
        print_call_record(fetched.record, out)
    if fetched.problem:
        transcript.note(fetched.problem)
    if json_path is not None:
        if fetched.record is not None:
            json_path.write_text(json.dumps(fetched.record, indent=2) + "\n", encoding="utf-8")
        else:
            transcript.note(f"no call record to write to {json_path}")
    return CallResult(
        call_sid=call_sid,
        mode=mode,
        ended_by=leg.ended_by,
        duration_s=leg.duration_s,
        timings=leg.timings,
        record=fetched.record,
        record_final=fetched.final,
        first_agent_audio_ms=leg.first_agent_audio_ms,
        playback_gaps_ms=leg.playback_gaps_ms,
        streams=leg.streams,
    )


def call_command(args: argparse.Namespace) -> int:
    """Run `switchboard call [SCENARIO.yaml] [--url BASE_URL] [--text] [--json FILE]`."""
    scenario_path = getattr(args, "scenario", None)
    text = bool(getattr(args, "text", False))
    # The command line names the --json destination `json_path`.
    json_arg = getattr(args, "json_path", None) or getattr(args, "json", None)
    try:
        scenario = load_scenario(scenario_path) if scenario_path else DEMO_SCENARIO
        settings = get_settings()
        credentials = resolve_credentials(settings, need_auth_token=not text)
    except (ScenarioError, SettingsError, CredentialsError) as exc:
        print(f"switchboard call: {exc}", file=sys.stderr)
        return EXIT_USAGE
    base_url = getattr(args, "url", None) or settings.public_url
    try:
        asyncio.run(
            run_call(
                scenario,
                base_url=base_url,
                text=text,
                json_path=Path(json_arg) if json_arg else None,
                auth_token=credentials.auth_token,
                api_token=credentials.api_token,
                account_sid=credentials.account_sid,
                out=sys.stdout,
            )
        )
    except CallFailed as exc:
        print(f"switchboard call: the call could not be placed: {exc}", file=sys.stderr)
        return EXIT_NOT_PLACED
    except KeyboardInterrupt:
        return 130
    return EXIT_COMPLETED
