"""Private Redis and PostgreSQL servers in a temporary folder, on free ports, and a
local Ray for tests and benchmarks that run deployments in process.

`switchboard serve` starts them when `REDIS_URL` / `DATABASE_URL` are unset, and tests
that must stop or restart a server start their own instead of touching the shared
ones. Redis keeps an append-only file so budget counters survive a restart.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class LocalServiceError(RuntimeError):
    """A private server could not be started; the message says what is missing."""


def start_local_ray(num_cpus: int = 2) -> None:
    """`ray.init` of a local cluster, tried twice: Ray gives its raylet 30 s to come up,
    which a busy two-core machine can miss."""
    import ray  # only what needs a local Ray pays for importing it

    for attempt in range(2):
        try:
            ray.init(
                address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=False
            )
            return
        except Exception:
            ray.shutdown()
            if attempt:
                raise


# Between Ray's worker ports (10002-19999) and Serve's replica ports (30000-31000), and
# below the kernel's ephemeral range (32768 and up on Linux).
SERVER_PORTS = range(20000, 30000)


def server_port() -> int:
    """A free port for a server that binds it later, on every interface: outside the
    ephemeral range, so no outgoing connection takes it in the meantime."""
    for port in random.sample(SERVER_PORTS, 200):
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise LocalServiceError(f"no free port in {SERVER_PORTS.start}-{SERVER_PORTS.stop - 1}")


_RUNNING: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _stop_leftovers() -> None:
    """Servers still running when the interpreter exits are stopped with it."""
    for process in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def _postgres_bin(name: str) -> str:
    override = os.environ.get("SWITCHBOARD_PG_BIN")
    candidates = [str(Path(override) / name)] if override else []
    candidates += sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parents[1].name),
        reverse=True,
    )
    found = next((c for c in candidates if os.access(c, os.X_OK)), None) or shutil.which(name)
    if not found:
        raise LocalServiceError(
            f"PostgreSQL's {name} is not installed (apt-get install postgresql)"
        )
    return found


def _wait(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalServiceError(f"{what} exited ({process.returncode}):\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.05)
    raise LocalServiceError(f"{what} not ready after 30 s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    _RUNNING.discard(process)


class LocalRedis:
    """A redis-server of its own on a free port, with AOF persistence.

    `appendfsync="always"` never loses a write even to SIGKILL (what a test that crashes
    the server wants); `everysec` is the production setting.
    """

    def __init__(
        self,
        directory: Path | str,
        *,
        port: int | None = None,
        appendonly: bool = True,
        appendfsync: str = "everysec",
    ) -> None:
        self.port = port or server_port()
        self.directory = Path(directory) / f"redis-{self.port}"
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.log = self.directory / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> LocalRedis:
        """Start; returns once it answers PING (not while it is still loading its AOF)."""
        if self._process is not None and self._process.poll() is None:
            return self
        binary = shutil.which("redis-server")
        if not binary:
            raise LocalServiceError("redis-server is not installed (apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.directory),
                    "--save",
                    "",
                    "--daemonize",
                    "no",
                    "--appendonly",
                    "yes" if self.appendonly else "no",
                    "--appendfsync",
                    self.appendfsync,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _RUNNING.add(self._process)
        _wait(self._answers, self._process, self.log, "redis-server")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")  # not -LOADING
        except OSError:
            return False

    def stop(self, *, kill: bool = False) -> None:
        """Shut down (SIGTERM: AOF flushed); `kill` is SIGKILL, like a crash."""
        self.resume()  # a paused server would not act on SIGTERM
        _stop(self._process, signal.SIGKILL if kill else signal.SIGTERM)
        self._process = None

    def restart(self, *, kill: bool = False) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop(kill=kill)
        self.start()

    def pause(self) -> None:
        """Hang the server (SIGSTOP): connections are accepted by the kernel, nothing
        is answered, as with an overloaded or partitioned Redis. `resume()` undoes it."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)


class LocalPostgres:
    """A PostgreSQL server of its own (trust auth, user `postgres`) on a free port.

    PostgreSQL refuses to run as root: as root the server runs as the `postgres` user,
    its data in a fresh folder under the system temp dir (a root-private folder such as
    pytest's cannot be entered by it), removed by `cleanup()`.
    """

    def __init__(self, directory: Path | str, *, port: int | None = None) -> None:
        self.directory = Path(directory)
        self.port = port or server_port()
        self.log = self.directory / f"postgres-{self.port}.log"
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._user is not None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
            os.chown(self.data_dir, self._user.pw_uid, self._user.pw_gid)
        else:
            self.data_dir = self.directory / f"pgdata-{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._initialized = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self) -> dict[str, Any]:
        # cwd: the postgres user may not be allowed into ours.
        if self._user is None:
            return {"cwd": "/"}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "cwd": "/"}

    def start(self) -> LocalPostgres:
        """Start (the first time: create the cluster); returns once it accepts connections."""
        if self._process is not None and self._process.poll() is None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self._initialized:
            try:
                subprocess.run(
                    [
                        _postgres_bin("initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        "postgres",
                        "-A",
                        "trust",
                        "-E",
                        "UTF8",
                        "--no-sync",
                        "--no-instructions",
                    ],
                    check=True,
                    capture_output=True,
                    **self._as_owner(),
                )
            except subprocess.CalledProcessError as exc:
                raise LocalServiceError(
                    f"initdb failed: {exc.stderr.decode(errors='replace').strip()}"
                ) from None
            self._initialized = True
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    _postgres_bin("postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "max_connections=200",
                    # A private server for development and tests: durability against
                    # OS crashes does not matter, start-up and test speed do.
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self._as_owner(),
            )
        _RUNNING.add(self._process)
        _wait(self._accepting, self._process, self.log, "postgres")
        return self

    def _accepting(self) -> bool:
        result = subprocess.run(
            [_postgres_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            check=False,
        )
        return result.returncode == 0

    def stop(self, *, immediate: bool = False) -> None:
        """Shut down (fast: sessions are cut, data kept); `immediate` is like a crash."""
        _stop(self._process, signal.SIGQUIT if immediate else signal.SIGINT)
        self._process = None

    def restart(self, *, immediate: bool = False) -> None:
        self.stop(immediate=immediate)
        self.start()

    def cleanup(self) -> None:
        """Stop and delete the data."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def private_directory(prefix: str) -> Path:
    """A temporary folder the postgres user may also write."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
