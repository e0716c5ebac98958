"""The benchmarks' memory readings from /proc (load_tests/process_usage.py)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys

from load_tests.process_usage import memory_of

# Writes 64 MB, says so, forks when told (the pages are then shared by two processes),
# says so again, and waits.
HOLDER = """
import os, sys, time
held = b"x" * (64 << 20)
print("written", flush=True)
sys.stdin.readline()
os.fork()
print("forked", flush=True)
time.sleep(60)
"""


def test_private_memory_is_what_a_process_holds_alone_not_what_it_shares() -> None:
    marker = f"sbtest-usage-{secrets.token_hex(4)}"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, marker], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        start_new_session=True, text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        assert process.stdout.readline() == "written\n"
        [rss], [private] = memory_of(marker)
        assert 64 <= private <= rss

        process.stdin.write("fork\n")
        process.stdin.flush()
        assert process.stdout.readline() == process.stdout.readline() == "forked\n"
        rss_both, private_both = memory_of(marker)
        assert len(rss_both) == len(private_both) == 2
        assert all(size >= 64 for size in rss_both)
        assert all(size < 32 for size in private_both)  # the 64 MB are shared now
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
