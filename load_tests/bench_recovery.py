"""Recovery benchmark: how long a caller waits when the session actor serving the call dies.

Places audio calls with the simulated caller (real 20 ms μ-law frames at real time) on a
real `switchboard serve`. In each call, the session actor is SIGKILLed a random moment
(0.05–0.5 s) after the caller finishes one of its lines — before the agent has answered
it, the moment a crash costs the caller most — and the benchmark measures, from the
caller's side of the line:

- kill → the caller hears the agent again (its replacement answering that line);
- end of the caller's line → the answer, beside the same figure for lines of the same
  calls answered with no crash (what the caller is used to);
- calls lost: calls that did not reach their expected outcome, are not final, or did
  not count exactly one recovery.

    .venv/bin/python -m load_tests.bench_recovery --kills 20

Results are printed and written to `load_tests/results/bench_recovery.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from load_tests.bench_voice import percentile
from load_tests.results import save_results
from switchboard.caller.turns import TurnObserver
from switchboard.caller.twilio_protocol import new_sid
from switchboard.scenario import parse_scenario
from tests.chaos import final_report, kill_serving, warm_pool
from tests.e2e import RunningSwitchboard, run_switchboard

# Written for the benchmark: a call that qualifies, with a fact in every line.
CONVERSATION = {
    "name": "bench-recovery",
    "from": "+15551110002",
    "to": "+15557650000",
    "lines": [
        "Hi, this is Morgan.",
        "Yes, I have a minute.",
        "Our front desk misses too many calls.",
        "We could spend about sixty thousand dollars a year.",
        "I own the business, so it is my decision.",
        "Within two months.",
        {"hangup": True},
    ],
    "expect": {"outcome": "qualified", "budget_usd": 60000},
}


@dataclass
class Kill:
    call_sid: str
    line: str
    killed_after_line_s: float
    heard_again_s: float | None  # kill → first agent audio
    answer_s: float | None  # end of the line → first agent audio
    recovered: int
    outcome: str | None
    status: str


async def one_killed_call(server: RunningSwitchboard, rng: random.Random) -> tuple[Kill, list]:
    scenario = parse_scenario(CONVERSATION)
    spoken = [line for line in scenario.lines if isinstance(line, str)]
    target = rng.choice(spoken[1:])  # after the greeting has been answered
    delay = rng.uniform(0.05, 0.5)
    call_sid = new_sid("CA")
    line_ends: dict[str, float] = {}
    heard: list[float] = []
    kill_at: list[float] = []
    tasks: list[asyncio.Task] = []

    async def kill_after_the_line() -> None:
        await asyncio.sleep(delay)
        kill_at.append(time.monotonic())
        await kill_serving(server, call_sid)

    def on_caller_turn(line: str) -> None:
        line_ends[line] = time.monotonic()
        if line == target and not tasks:
            tasks.append(asyncio.create_task(kill_after_the_line()))

    observer = TurnObserver(on_caller_turn=on_caller_turn, on_agent_heard=heard.append)
    await warm_pool(server, 2)
    result = await server.call(scenario, text=False, call_sid=call_sid, observer=observer)
    await asyncio.gather(*tasks, return_exceptions=True)
    report = await final_report(server, call_sid)

    def first_heard_after(moment: float) -> float | None:
        later = [at for at in heard if at > moment]
        return round(min(later) - moment, 3) if later else None

    killed = kill_at[0] if kill_at else None
    measured = Kill(
        call_sid=call_sid,
        line=target,
        killed_after_line_s=round(delay, 3),
        heard_again_s=first_heard_after(killed) if killed else None,
        answer_s=first_heard_after(line_ends[target]) if target in line_ends else None,
        recovered=report["recovered"],
        outcome=report["outcome"],
        status=report["status"],
    )
    # Lines of the same call answered with no crash, for comparison.
    undisturbed = [
        timing.latency_ms / 1000
        for timing in result.timings
        if timing.line != target and timing.latency_ms is not None
    ]
    return measured, undisturbed


async def bench(server: RunningSwitchboard, kills: int, seed: int) -> dict:
    rng = random.Random(seed)
    results: list[Kill] = []
    normal: list[float] = []
    for index in range(kills):
        kill, undisturbed = await one_killed_call(server, rng)
        results.append(kill)
        normal += undisturbed
        print(
            f"{index + 1:>2}/{kills} killed {kill.killed_after_line_s:.2f} s after "
            f"{kill.line!r}: heard again after {kill.heard_again_s} s; "
            f"{kill.outcome}, {kill.status}, recovered {kill.recovered}",
            flush=True,
        )
    expected = CONVERSATION["expect"]["outcome"]
    lost = [
        k for k in results if k.outcome != expected or k.status != "completed" or k.recovered != 1
    ]
    heard_again = [k.heard_again_s for k in results if k.heard_again_s is not None]
    answers = [k.answer_s for k in results if k.answer_s is not None]
    summary = {
        "kills": kills,
        "kill_to_heard_again_s": {
            "p50": percentile(heard_again, 0.5),
            "p95": percentile(heard_again, 0.95),
            "max": max(heard_again, default=None),
        },
        "line_end_to_answer_after_a_kill_s": {
            "p50": percentile(answers, 0.5),
            "p95": percentile(answers, 0.95),
        },
        "line_end_to_answer_without_a_kill_s": {
            "p50": percentile(normal, 0.5),
            "p95": percentile(normal, 0.95),
            "turns": len(normal),
        },
        "calls_lost": len(lost),
        "lost": [asdict(k) for k in lost],
        "calls": [asdict(k) for k in results],
    }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # The server is started and stopped outside the event loop: stopping it runs its own.
    with (
        tempfile.TemporaryDirectory() as workdir,
        run_switchboard(Path(workdir), SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE="3") as server,
    ):
        summary = asyncio.run(bench(server, args.kills, args.seed))
    save_results("bench_recovery", summary)
    printable = {k: v for k, v in summary.items() if k not in ("calls", "lost")}
    print(json.dumps(printable, indent=2))


if __name__ == "__main__":
    main()
