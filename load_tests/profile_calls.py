"""Where a call's CPU goes: py-spy on Serve's proxy, the ingress and a session actor.

Starts Switchboard with a warm actor per call, places `--calls` audio conversations
(the benchmark's, 0.5 s apart) and, while they run, samples each process (the busiest
session actor) with `py-spy record --gil` for `--seconds`. Prints
each process's CPU share (from /proc) and its top frames by own time; the raw
profiles (py-spy's `raw` format: collapsed stacks) stay in load_tests/results/.

    .venv/bin/python -m load_tests.profile_calls --calls 4 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from load_tests.bench_voice import conversation_calls, switchboard_target
from load_tests.process_usage import CLOCK_TICKS, cpu_ticks
from load_tests.results import RESULTS
from tests.chaos import warm_pool
from tests.e2e import RunningSwitchboard, run_switchboard

PY_SPY = Path(sys.executable).with_name("py-spy")
PROCESSES = {"proxy": "ProxyActor", "ingress": "TwilioIngress", "session": "CallSessionActor"}


def _pids(server: RunningSwitchboard, pattern: str) -> list[int]:
    return sorted(server.replica_pids(pattern))


def top_frames(raw: Path, count: int) -> list[tuple[float, str]]:
    """The frames that held the GIL on top of the stack most often, as shares of the
    samples."""
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        total += int(samples)
        own[stack.split(";")[-1]] += int(samples)
    return [(n / total, frame) for frame, n in own.most_common(count)] if total else []


async def _busiest(pids: list[int]) -> int:
    """Of several processes (the session actors, some idle in the pool), the one that
    used the most CPU over the next second."""
    before = {pid: cpu_ticks(pid) for pid in pids}
    await asyncio.sleep(1.0)
    return max(pids, key=lambda pid: cpu_ticks(pid) - before[pid])


async def _profile(server: RunningSwitchboard, calls: int, seconds: float) -> None:
    await warm_pool(server, calls)
    calling = asyncio.create_task(conversation_calls(switchboard_target(server), calls, 0.5))
    await asyncio.sleep(calls * 0.5 + 3)  # every call connected and talking
    targets = {name: _pids(server, pattern) for name, pattern in PROCESSES.items()}
    busy = {name: await _busiest(pids) for name, pids in targets.items() if pids}
    before = {name: cpu_ticks(pid) for name, pid in busy.items()}
    started = time.monotonic()
    RESULTS.mkdir(exist_ok=True)
    recorders = {
        name: subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--gil",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(RESULTS / f"profile_{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for name, pid in busy.items()
    }
    await asyncio.to_thread(lambda: [recorder.wait() for recorder in recorders.values()])
    elapsed = time.monotonic() - started
    after = {name: cpu_ticks(pid) for name, pid in busy.items()}
    result = await calling
    print(f"{calls} calls: {result}")
    for name, pid in busy.items():
        share = (after[name] - before[name]) / CLOCK_TICKS / elapsed
        print(f"\n{name} (pid {pid}): {share:.1%} of a core over {elapsed:.0f} s "
              f"(py-spy's own sampling included)")  # fmt: skip
        for fraction, frame in top_frames(RESULTS / f"profile_{name}.txt", 12):
            print(f"  {fraction:6.1%}  {frame}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as workdir,
        run_switchboard(
            Path(workdir), SWITCHBOARD_PERFORMANCE__WARM_POOL_SIZE=str(args.calls)
        ) as server,
    ):
        asyncio.run(_profile(server, args.calls, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
