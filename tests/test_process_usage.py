"""The benchmarks' memory readings from /proc (load_tests/process_usage.py)."""

from __future__ import annotations

import secrets
import subprocess
import sys

from load_tests.process_usage import private_of, rss_of


def test_a_process_found_by_its_command_line_holds_what_it_wrote_as_private_memory() -> None:
    marker = f"sbtest-usage-{secrets.token_hex(4)}"
    script = (
        f"import sys, time; held = b'x' * (64 << 20); print('{marker}', flush=True); "
        "time.sleep(60)"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline()  # written by now
        private, rss = private_of(marker), rss_of(marker)
        assert len(private) == len(rss) == 1
        assert 64 <= private[0] <= rss[0]
    finally:
        process.kill()
        process.wait()
    assert private_of(marker) == []
