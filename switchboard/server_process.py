"""A local server in a child process that reports its port: start it, wait for it, stop it.

The local doubles of Twilio and of the speech engines run this way, for
`switchboard serve`, the tests and the benchmarks. The child binds its socket first
(port 0 picks a free port), then writes the port to a file the parent waits for, so
the parent connects at once and never races the bind. Secrets go to the child in its
environment, never on its command line, where any user of the machine could read them
in the process list.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

STARTUP_TIMEOUT_S = 20.0


class ServerStartError(RuntimeError):
    """The server process did not come up; the message says what it printed or why."""


def listen(host: str, port: int) -> socket.socket:
    """A listening socket; bound before uvicorn starts so the port is known and taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def write_port_file(path: Path, port: int) -> None:
    # Written whole then renamed, so a reader never sees a half-written number.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{port}\n", encoding="utf-8")
    partial.replace(path)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """`--host`, `--port` and `--port-file`, as `ServerProcess.launch` passes them."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the chosen port to this file")


def serve(
    app: Any, *, name: str, host: str, port: int, port_file: Path | None, **options: Any
) -> None:
    """Run the ASGI `app` with uvicorn on `host:port` (0: a free port) until stopped; the
    port goes to `port_file` once the socket listens. `options` go to `uvicorn.Config`."""
    import uvicorn  # the parent side of this module does not need it

    sock = listen(host, port)
    chosen = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, **options))
    if port_file:
        write_port_file(port_file, chosen)
    print(f"{name} listening on http://{host}:{chosen}", flush=True)
    server.run(sockets=[sock])


class ServerProcess:
    """A running local server; `url` is its base URL (`http://host:port`)."""

    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url

    @classmethod
    def launch(
        cls,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        host: str = "127.0.0.1",
        timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> Self:
        """Run `command` plus `--port-file PATH` and wait until it has written its port.

        Raises:
            ServerStartError: it exited or did not listen within `timeout_s`.
        """
        with tempfile.TemporaryDirectory(prefix="switchboard-server-") as folder:
            port_file = Path(folder) / "port"
            # Its errors go to our stderr: nothing is buffered that could fill and block it.
            process = subprocess.Popen(
                [*command, "--port-file", str(port_file)], env=dict(env), stdout=subprocess.DEVNULL
            )
            deadline = time.monotonic() + timeout_s
            while not port_file.exists():
                if process.poll() is not None:
                    raise ServerStartError(
                        f"the {name} exited at start with status {process.returncode} "
                        "(its error is printed above)"
                    )
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise ServerStartError(f"the {name} did not start in {timeout_s:g} s")
                time.sleep(0.05)
            chosen = int(port_file.read_text().strip())
        return cls(process, f"http://{host}:{chosen}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
