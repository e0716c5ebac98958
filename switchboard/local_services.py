"""Private Redis and PostgreSQL servers in a temporary folder, on free ports, and a
local Ray for tests and benchmarks that run deployments in process.

`switchboard serve` starts them when `REDIS_URL` / `DATABASE_URL` are unset, and tests
that must stop or restart a server start their own instead of touching the shared
ones. Redis keeps an append-only file so budget counters survive a restart.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class LocalServiceError(RuntimeError):
    """A private server could not be started; the message says what is missing."""


def start_local_ray(num_cpus: int = 2) -> None:
    """`ray.init` of a local cluster, tried twice: Ray gives its raylet 30 s to come up,
    which a busy two-core machine can miss."""
    import ray  # only what needs a local Ray pays for importing it

    for attempt in range(2):
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
            return
        except Exception:
            ray.shutdown()
            if attempt:
                raise


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout_s: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    detail = f"; see {log}" if log else ""
    raise LocalServiceError(f"{what} did not start on port {port}{detail}")


def _postgres_bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise LocalServiceError(
            f"PostgreSQL's {name} is not installed (apt-get install postgresql)"
        )
    return found


@dataclass
class LocalRedis:
    """A private redis-server with AOF persistence."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedis:
        binary = shutil.which("redis-server")
        if not binary:
            raise LocalServiceError("redis-server is not installed (apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / "redis.log"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--logfile",
                str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, 10, "redis-server", log)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class LocalPostgres:
    """A private PostgreSQL cluster (trust auth, user postgres)."""

    directory: Path
    port: int = field(default_factory=free_port)
    _started: bool = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        # PostgreSQL refuses to run as root; run it as the `postgres` user when we are root.
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> LocalPostgres:
        data = self.directory / "data"
        log = self.directory / "postgres.log"
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        try:
            if not data.exists():
                self._run(
                    _postgres_bin("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                )
            self._run(
                _postgres_bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "30",
                "-o",
                f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c max_connections=200",
                "start",
            )
        except subprocess.CalledProcessError as exc:
            raise LocalServiceError(
                f"PostgreSQL failed to start: {exc.stderr.decode(errors='replace').strip()}"
            ) from None
        self._started = True
        _wait_for_port(self.port, 30, "PostgreSQL", log)
        return self

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(
                    _postgres_bin("pg_ctl"),
                    "-D",
                    str(self.directory / "data"),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                )
            self._started = False


def private_directory(prefix: str) -> Path:
    """A temporary folder the postgres user may also write."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
