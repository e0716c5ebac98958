"""Running the sandbox in its own process, for `switchboard serve` and for tests.

The auth token goes to the child in its environment, not on its command line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from switchboard.server_process import STARTUP_TIMEOUT_S, ServerProcess


class SandboxProcess(ServerProcess):
    """A running `python -m switchboard.twilio_sandbox`; `url` is its base URL."""

    @property
    def requests_url(self) -> str:
        """Where the sandbox lists the requests it received."""
        return f"{self.url}/sandbox/requests"

    @classmethod
    def start(
        cls,
        account_sid: str,
        auth_token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout_s: float = STARTUP_TIMEOUT_S,
        leads_file: Path | None = None,
        ring_s: float | None = None,
    ) -> SandboxProcess:
        """Start the sandbox and wait until it listens (port 0 picks a free port).
        `leads_file` and `ring_s` default to `SWITCHBOARD_SANDBOX_LEADS` and
        `SWITCHBOARD_SANDBOX_RING_S`."""
        command = [
            sys.executable, "-m", "switchboard.twilio_sandbox",
            "--host", host, "--port", str(port), "--account-sid", account_sid,
        ]  # fmt: skip
        if leads_file is not None:
            command += ["--leads", str(leads_file)]
        if ring_s is not None:
            command += ["--ring-s", str(ring_s)]
        env = dict(os.environ, SWITCHBOARD_TWILIO_AUTH_TOKEN=auth_token)
        return cls.launch("Twilio sandbox", command, env=env, host=host, timeout_s=timeout_s)
