"""Caller benchmark: outcome and fact accuracy of whole calls over the phone.

Plays the caller set of `scenarios/phone/` (written for issue 10 from how people talk
on sales calls — fillers, restarts, self-corrections, facts out of order or two at once,
vague answers, refusals, voicemail, asking for a person, opt-outs of many phrasings,
meeting times with corrections, short and long callers; not the public scenarios of
`scenarios/*.yaml`) against a Switchboard it starts, a few calls at a time. In audio
mode the simulated caller of `switchboard call` speaks each line with eSpeak at 8 kHz
μ-law over Twilio's media-stream protocol, so what the agents understand is what the
recogniser heard; text mode sends the same lines as text, the ceiling audio is
measured against.

Reported per mode:
- outcome accuracy: the share of calls ending with the scenario's expected outcome;
- fact accuracy: per fact key (`budget_usd`, `decision_maker`, `timeline_months`,
  `meeting_time`), the share of the calls expecting that fact whose record has it;
- turns per call (caller turns in the record): mean, median, max;
- the misses: scenario, expected vs got (outcome and facts), what was heard and said;
- safety, which must hold whatever the recogniser mishears (the slow-tier test
  `tests/test_e2e_phone_callers.py` asserts it through `safety_problems`): every call
  completed with a final record and none lost; no caller who opted out ends
  `qualified` or `abandoned`; no meeting booked that the agent had not said back to
  the caller (its proposal, or a read-back) before booking it.

Each call is a fresh lead: the scenario's `from` number is replaced by a new one per
call, so a number an earlier call put on the do-not-call list (an outbound opt-out
played twice) never answers for the next one.

    .venv/bin/python -m load_tests.bench_callers [--modes audio text] [--concurrency 2]
        [--only NAME ...] [--json FILE]

Results are printed and written to `load_tests/results/bench_callers.json` (or FILE).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graph.understanding.meeting import speak_meeting_time
from load_tests.results import RESULTS, save_results
from switchboard.caller import CallFailed, CallResult
from switchboard.scenario import Scenario, load_scenario
from tests.e2e import ROOT, RunningSwitchboard, run_switchboard

#: The caller set written for issue 10 (the public scenarios stay in `scenarios/*.yaml`).
PHONE_SCENARIOS = ROOT / "scenarios" / "phone"
PHONE_SCENARIO_FILES = sorted(PHONE_SCENARIOS.glob("*.yaml"))
#: The facts scored, where a scenario's `expect` names them.
SCORED_FACTS = ("budget_usd", "decision_maker", "timeline_months", "meeting_time")
#: How long after a call ends its report may take to be final (DESIGN.md: within 5 s),
#: with room for a busy 2-core machine.
REPORT_TIMEOUT_S = 20.0
#: A call answered busy is placed again this many times, this long apart.
BUSY_RETRIES = 3
BUSY_PAUSE_S = 5.0


def phone_scenarios(names: list[str] | None = None) -> list[Scenario]:
    """The caller set, or the scenarios of it named in `names` (all must exist)."""
    scenarios = [load_scenario(path) for path in PHONE_SCENARIO_FILES]
    if not names:
        return scenarios
    by_name = {s.name: s for s in scenarios}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise SystemExit(f"no such scenario in {PHONE_SCENARIOS}: {', '.join(unknown)}")
    return [by_name[name] for name in names]


def fresh_lead(scenario: Scenario, taken: set[str]) -> Scenario:
    """The scenario played by a lead never called before (a new `from` number)."""
    while True:
        number = f"+1555{secrets.randbelow(10**7):07d}"
        if number not in taken and number != scenario.to_number:
            taken.add(number)
            return scenario.model_copy(update={"from_number": number})


@dataclass
class CallScore:
    """One call of the set: what was expected, what the record shows."""

    scenario: str
    mode: str
    expected_outcome: str
    outcome: str | None = None
    status: str | None = None
    call_sid: str | None = None
    # per scored fact the scenario expects: (expected, got)
    facts: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    turns: int = 0
    duration_s: float = 0.0
    error: str | None = None  # the call could not be placed or has no final report
    meeting_unconfirmed: str | None = None  # a booked time never said back first
    heard: list[str] = field(default_factory=list)  # the caller turns as recognised
    said: list[str] = field(default_factory=list)  # the agent's answer to each
    busy_retries: int = 0  # times the call was answered busy before it was taken

    @property
    def outcome_right(self) -> bool:
        return self.outcome == self.expected_outcome

    def fact_right(self, key: str) -> bool:
        expected, got = self.facts[key]
        return same_fact(key, expected, got)

    @property
    def lost(self) -> bool:
        return self.error is not None or self.status != "completed"


def same_fact(key: str, expected: Any, got: Any) -> bool:
    if got is None:
        return False
    if key == "meeting_time":
        return str(got).strip().casefold() == str(expected).strip().casefold()
    if isinstance(expected, bool) or isinstance(got, bool):
        return expected is got
    return abs(float(got) - float(expected)) < 1e-6


def unconfirmed_meeting(report: dict) -> str | None:
    """Why the booked meeting was booked unconfirmed, or None (also when none was).

    A time may only be booked as the caller's answer to a question of the agent naming
    that very time: its own proposal ("Could we book ... on Monday at ten in the
    morning?") or a read-back of what it heard ("Just to confirm, that's Wednesday at
    two in the afternoon. Is that right?"). The booking turn is the one whose agent
    text says "booked for <time>" (or "moved it to <time>"); its caller line answered
    the agent text of the turn before, which must name the time and ask."""
    when = (report.get("facts") or {}).get("meeting_time")
    if not when:
        return None
    spoken = speak_meeting_time(when).casefold()
    turns = report.get("turns") or []
    texts = [(t.get("agent_text") or "").casefold() for t in turns]
    booked_at = next(
        (i for i, text in enumerate(texts)
         if f"booked for {spoken}" in text or f"moved it to {spoken}" in text),
        None,
    )
    if booked_at is None:
        return f"{when}: no turn says it was booked"
    asked = texts[booked_at - 1] if booked_at > 0 else ""
    if not (re.search(rf"\b{re.escape(spoken)}\b", asked) and "?" in asked):
        return (f"{when}: booked on {turns[booked_at]['user_text']!r}, an answer to "
                f"{asked!r}, which did not ask about that time")
    return None


def score_call(scenario: Scenario, mode: str, report: dict, duration_s: float) -> CallScore:
    expect = scenario.expect
    assert expect is not None, f"{scenario.name} expects nothing"
    facts = report.get("facts") or {}
    score = CallScore(
        scenario=scenario.name,
        mode=mode,
        expected_outcome=str(expect.outcome),
        outcome=report.get("outcome"),
        status=report.get("status"),
        call_sid=report.get("call_sid"),
        turns=len(report.get("turns") or []),
        duration_s=round(duration_s, 1),
        meeting_unconfirmed=unconfirmed_meeting(report),
        heard=[t.get("user_text") or "" for t in report.get("turns") or []],
        said=[t.get("agent_text") or "" for t in report.get("turns") or []],
    )
    for key in SCORED_FACTS:
        wanted = getattr(expect, key)
        if wanted is not None:
            score.facts[key] = (wanted, facts.get(key))
    return score


async def call_until_taken(server: RunningSwitchboard, scenario: Scenario, *, text: bool,
                           busy: list[CallFailed] | None = None) -> CallResult:
    """Place `scenario`'s call; answered busy (no warm session free yet), place it again
    after a pause, as a caller who hears busy rings back, up to `BUSY_RETRIES` times.
    Each busy answer is added to `busy`, whether the call is taken in the end or not."""
    busy = [] if busy is None else busy
    while True:
        try:
            return await server.call(scenario, text=text)
        except CallFailed as exc:
            if "busy" not in str(exc) or len(busy) >= BUSY_RETRIES:
                raise
            busy.append(exc)
            await asyncio.sleep(BUSY_PAUSE_S)


async def play_one(server: RunningSwitchboard, scenario: Scenario, *, text: bool,
                   taken: set[str]) -> CallScore:
    """Place one call of the set and score its final record; a call that cannot be
    placed, or whose record never becomes final, is scored as lost (`error`). A call
    answered busy (no warm session free yet) is placed again after a pause, as a caller
    who hears busy rings back; `busy_retries` counts those."""
    mode = "text" if text else "audio"
    lead = fresh_lead(scenario, taken)
    started = time.monotonic()
    busy: list[CallFailed] = []
    try:
        result = await call_until_taken(server, lead, text=text, busy=busy)
        report = await server.report(result.call_sid, timeout_s=REPORT_TIMEOUT_S)
    except Exception as exc:  # a lost call is a result of the benchmark, not its end
        assert scenario.expect is not None
        return CallScore(scenario=scenario.name, mode=mode,
                         expected_outcome=str(scenario.expect.outcome),
                         duration_s=round(time.monotonic() - started, 1),
                         error=f"{type(exc).__name__}: {exc}"[:500], busy_retries=len(busy))
    score = score_call(scenario, mode, report, time.monotonic() - started)
    score.busy_retries = len(busy)
    return score


async def play_set(server: RunningSwitchboard, scenarios: list[Scenario], *, text: bool,
                   concurrency: int, progress: bool = False) -> list[CallScore]:
    """Every scenario once, `concurrency` calls at a time; scores in scenario order."""
    gate = asyncio.Semaphore(concurrency)
    taken: set[str] = set()

    async def one(scenario: Scenario) -> CallScore:
        async with gate:
            score = await play_one(server, scenario, text=text, taken=taken)
        if progress:
            mark = "ok  " if score.outcome_right else "MISS"
            print(f"  {mark} {score.mode:5} {score.scenario}: expected "
                  f"{score.expected_outcome}, got {score.outcome} ({score.turns} turns, "
                  f"{score.duration_s:g} s){' ' + score.error if score.error else ''}",
                  flush=True)
        return score

    return list(await asyncio.gather(*(one(s) for s in scenarios)))


def safety_problems(scores: list[CallScore]) -> list[str]:
    """What must hold whatever the recogniser mishears; empty when all of it does."""
    problems = []
    for s in scores:
        if s.lost:
            problems.append(f"{s.scenario}: no final record ({s.error or s.status})")
            continue
        if s.expected_outcome == "opted_out" and s.outcome in ("qualified", "abandoned"):
            problems.append(f"{s.scenario}: the caller opted out, the call ended {s.outcome}")
        if s.meeting_unconfirmed:
            problems.append(f"{s.scenario}: meeting {s.meeting_unconfirmed}")
    return problems


def summary(scores: list[CallScore]) -> dict[str, Any]:
    """Outcome accuracy, fact accuracy per key, turns per call, the misses."""
    calls = len(scores)
    per_key: dict[str, dict[str, Any]] = {}
    for key in SCORED_FACTS:
        expecting = [s for s in scores if key in s.facts]
        if expecting:
            right = sum(s.fact_right(key) for s in expecting)
            per_key[key] = {"right": right, "of": len(expecting),
                            "accuracy": round(right / len(expecting), 3)}
    fact_right = sum(v["right"] for v in per_key.values())
    fact_total = sum(v["of"] for v in per_key.values())
    turns = [s.turns for s in scores if not s.lost]
    by_outcome: dict[str, dict[str, int]] = {}
    for s in scores:
        row = by_outcome.setdefault(s.expected_outcome, {"right": 0, "of": 0})
        row["of"] += 1
        row["right"] += s.outcome_right
    misses = []
    for s in scores:
        wrong_facts = {k: {"expected": e, "got": g} for k, (e, g) in s.facts.items()
                       if not same_fact(k, e, g)}
        if not s.outcome_right or wrong_facts or s.lost:
            misses.append({
                "scenario": s.scenario,
                "expected": s.expected_outcome,
                "got": s.outcome,
                "facts": wrong_facts,
                "error": s.error,
                "heard": s.heard,
                "said": s.said,
                "call_sid": s.call_sid,
            })
    outcome_right = sum(s.outcome_right for s in scores)
    return {
        "calls": calls,
        "completed": sum(not s.lost for s in scores),
        "outcome_accuracy": round(outcome_right / calls, 3) if calls else None,
        "outcome_right": outcome_right,
        "outcome_by_expected": by_outcome,
        "fact_accuracy": round(fact_right / fact_total, 3) if fact_total else None,
        "fact_right": fact_right,
        "fact_total": fact_total,
        "fact_accuracy_by_key": per_key,
        "turns_per_call": {
            "mean": round(statistics.mean(turns), 2) if turns else None,
            "median": statistics.median(turns) if turns else None,
            "max": max(turns, default=None),
        },
        "busy_retries": sum(s.busy_retries for s in scores),
        "safety_problems": safety_problems(scores),
        "misses": misses,
    }


def print_summary(mode: str, result: dict[str, Any]) -> None:
    print(f"\n== {mode}: {result['calls']} calls, {result['completed']} completed")
    print(f"outcome accuracy  {result['outcome_accuracy']:.1%} "
          f"({result['outcome_right']}/{result['calls']})")
    for outcome, row in sorted(result["outcome_by_expected"].items()):
        print(f"  {outcome:13} {row['right']}/{row['of']}")
    if result["fact_accuracy"] is not None:
        print(f"fact accuracy     {result['fact_accuracy']:.1%} "
              f"({result['fact_right']}/{result['fact_total']})")
    for key, row in result["fact_accuracy_by_key"].items():
        print(f"  {key:16} {row['accuracy']:.1%} ({row['right']}/{row['of']})")
    turns = result["turns_per_call"]
    print(f"turns per call    mean {turns['mean']}, median {turns['median']}, max {turns['max']}")
    print(f"answered busy     {result['busy_retries']} times (placed again)")
    print(f"safety problems   {len(result['safety_problems'])}")
    for problem in result["safety_problems"]:
        print(f"  {problem}")
    for miss in result["misses"]:
        facts = ", ".join(f"{k} {v['expected']!r} got {v['got']!r}"
                          for k, v in miss["facts"].items())
        print(f"  miss {miss['scenario']}: expected {miss['expected']}, got {miss['got']}"
              + (f"; {facts}" if facts else "") + (f"; {miss['error']}" if miss["error"] else ""))


async def bench(server: RunningSwitchboard, scenarios: list[Scenario], modes: list[str],
                concurrency: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for mode in modes:
        started = time.monotonic()
        load_before = os.getloadavg()
        scores = await play_set(server, scenarios, text=mode == "text",
                                concurrency=concurrency, progress=True)
        result = summary(scores)
        result["wall_s"] = round(time.monotonic() - started, 1)
        result["load_average_before"] = [round(x, 2) for x in load_before]
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        result["scores"] = [asdict(s) for s in scores]
        results[mode] = result
        print_summary(mode, result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", choices=("audio", "text"), default=["audio"])
    parser.add_argument("--concurrency", type=int, default=2,
                        help="calls at a time (default 2, for a 2-core machine)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these scenarios")
    parser.add_argument("--json", type=Path, help="where to write the results "
                        f"(default {RESULTS / 'bench_callers.json'})")
    args = parser.parse_args(argv)
    scenarios = phone_scenarios(args.only)
    started = time.monotonic()
    # The server is started and stopped outside the event loop: stopping it runs its own.
    with tempfile.TemporaryDirectory() as workdir, run_switchboard(Path(workdir)) as server:
        results = asyncio.run(bench(server, scenarios, args.modes, args.concurrency))
    output = {
        "scenarios": len(scenarios),
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "wall_s": round(time.monotonic() - started, 1),
        "modes": results,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(output, indent=2, default=str) + "\n")
        print(f"\nwritten to {args.json}")
    else:
        print(f"\nwritten to {save_results('bench_callers', output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
