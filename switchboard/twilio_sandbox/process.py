"""Running the sandbox in its own process, for `switchboard serve` and for tests.

The auth token goes to the child in its environment, not on its command line, where
any user of the machine could read it in the process list.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

STARTUP_TIMEOUT_S = 20.0


class SandboxStartError(RuntimeError):
    """The sandbox process did not come up; the message carries what it printed."""


class SandboxProcess:
    """A running `python -m switchboard.twilio_sandbox`; `url` is its base URL."""

    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url

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
    ) -> SandboxProcess:
        """Start the sandbox and wait until it listens (port 0 picks a free port)."""
        with tempfile.TemporaryDirectory(prefix="twilio-sandbox-") as folder:
            port_file = Path(folder) / "port"
            env = dict(os.environ, SWITCHBOARD_TWILIO_AUTH_TOKEN=auth_token)
            command = [
                sys.executable, "-m", "switchboard.twilio_sandbox",
                "--host", host, "--port", str(port), "--port-file", str(port_file),
                "--account-sid", account_sid,
            ]  # fmt: skip
            # Its errors go to our stderr: nothing is buffered that could fill and block it.
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout_s
            while not port_file.exists():
                if process.poll() is not None:
                    raise SandboxStartError(
                        f"the Twilio sandbox exited at start with status {process.returncode} "
                        "(its error is printed above)"
                    )
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise SandboxStartError(f"the Twilio sandbox did not start in {timeout_s:g} s")
                time.sleep(0.05)
            chosen = int(port_file.read_text().strip())
        return cls(process, f"http://{host}:{chosen}")

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
