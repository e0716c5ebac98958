"""Private PostgreSQL and Redis servers on free ports, for tests that stop or break them.

The shared servers on 5432/6379 are never touched. Quick use:

    dsn, stop = start_postgres(tmp_path)            # stop() shuts down and deletes it
    url, stop, restart = start_redis(tmp_path)      # AOF on, fsync on every write

`PrivatePostgres` / `PrivateRedis` do more: stop and start again on the same port with the
same data (`restart`), or stop like a crash (`stop(immediate=True)` / `stop(kill=True)`).

PostgreSQL refuses to run as root; as root the server runs as the `postgres` user, its
data directory in a fresh folder under the system temp dir (pytest's tmp folders are
private to root), removed by `cleanup()`. Servers still running when the interpreter
exits are stopped.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

_RUNNING: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin() -> Path:
    override = os.environ.get("SWITCHBOARD_PG_BIN")
    if override:
        return Path(override)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    if candidates:
        return Path(candidates[-1])
    found = shutil.which("postgres") or shutil.which("initdb")
    if found is None:
        raise RuntimeError("no PostgreSQL binaries (set SWITCHBOARD_PG_BIN)")
    return Path(found).parent


def _wait(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}):\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after 30 s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    if process is None:
        return
    if process.poll() is not None:
        _RUNNING.discard(process)
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _RUNNING.discard(process)


class PrivatePostgres:
    """A PostgreSQL server of its own (trust auth, user `postgres`) on a free port."""

    def __init__(self, tmpdir: Path | str, port: int | None = None) -> None:
        self.tmpdir = Path(tmpdir)
        self.port = port or free_port()
        self.bin = _postgres_bin()
        self.log = self.tmpdir / f"postgres-{self.port}.log"
        self._as_root = os.geteuid() == 0
        self._user = pwd.getpwnam("postgres") if self._as_root else None
        if self._user is not None:
            # The postgres user cannot enter root's pytest folders.
            self.data_dir = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
            os.chown(self.data_dir, self._user.pw_uid, self._user.pw_gid)
        else:
            self.data_dir = self.tmpdir / f"pgdata-{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._initialized = False

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self) -> dict[str, int | str]:
        # cwd: the postgres user may not be allowed into ours.
        if self._user is None:
            return {"cwd": "/"}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "cwd": "/"}

    def start(self) -> None:
        """Start (the first time: create the cluster); returns once it accepts connections."""
        if self._process is not None and self._process.poll() is None:
            return
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        if not self._initialized:
            subprocess.run(
                [
                    str(self.bin / "initdb"),
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
            self._initialized = True
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "unix_socket_directories=",
                    # A test server: durability against OS crashes does not matter.
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

    def _accepting(self) -> bool:
        result = subprocess.run(
            [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
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


class PrivateRedis:
    """A Redis server of its own on a free port; with AOF every write is fsynced."""

    def __init__(self, tmpdir: Path | str, *, appendonly: bool = True, port: int | None = None):
        self.port = port or free_port()
        self.dir = Path(tmpdir) / f"redis-{self.port}"
        self.appendonly = appendonly
        self.log = self.dir / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed")
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    server,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.dir),
                    "--save",
                    "",
                    "--daemonize",
                    "no",
                    "--appendonly",
                    "yes" if self.appendonly else "no",
                    # Like the production setting the budget counters need, but never lose a
                    # write even to kill -9, so a test's restart is deterministic.
                    "--appendfsync",
                    "always",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _RUNNING.add(self._process)
        _wait(self._answers, self._process, self.log, "redis-server")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")  # not -LOADING
        except OSError:
            return False

    def stop(self, *, kill: bool = False) -> None:
        """Shut down (SIGTERM: AOF flushed); `kill` is SIGKILL, like a crash."""
        _stop(self._process, signal.SIGKILL if kill else signal.SIGTERM)
        self._process = None

    def restart(self, *, kill: bool = False) -> None:
        """Stop and start again on the same port with the same data directory."""
        self.stop(kill=kill)
        self.start()


def start_postgres(tmpdir: Path | str) -> tuple[str, Callable[[], None]]:
    """A started private PostgreSQL: its DSN, and a `stop()` that also deletes its data."""
    server = PrivatePostgres(tmpdir)
    server.start()
    return server.dsn, server.cleanup


def start_redis(
    tmpdir: Path | str, appendonly: bool = True
) -> tuple[str, Callable[..., None], Callable[..., None]]:
    """A started private Redis: its URL, `stop(kill=False)` and `restart(kill=False)`."""
    server = PrivateRedis(tmpdir, appendonly=appendonly)
    server.start()
    return server.url, server.stop, server.restart
