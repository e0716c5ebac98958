"""Schema migrations: applies and rolls back the SQL files in `db/migrations/`.

A migration is a pair `NNNN_name.up.sql` / `NNNN_name.down.sql`. Applied versions are
kept in `schema_migrations`. Each migration runs in its own transaction together with
its bookkeeping row, and a whole run holds a PostgreSQL advisory lock, so two replicas
starting at once apply every migration exactly once.

`switchboard migrate [up|down|status]` is the command line (`add_arguments` and `run`;
`python -m db.migrate` works too).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlparse, urlunparse

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
#: Pass as `steps` to roll back (or apply) every migration.
ALL: Final = 2**31 - 1
# Any fixed 64-bit number: the advisory lock only has to be the same for every replica.
_LOCK_KEY: Final = 0x5357_4954_4348_4442  # "SWITCHDB"
_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.(?P<direction>up|down)\.sql$")

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """The migration files or the database's migration history are inconsistent."""


@dataclass(frozen=True)
class Migration:
    """One migration as found on disk."""

    version: int
    name: str
    up_sql: str
    down_sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.up_sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    """A migration known on disk or in the database, and whether it is applied."""

    version: int
    name: str
    applied_at: datetime | None
    # False when the applied migration's file was edited afterwards; None if not applied
    # or not on disk (applied by a newer release).
    checksum_matches: bool | None

    @property
    def applied(self) -> bool:
        return self.applied_at is not None


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration in `directory`, by version; raises if a file is missing or odd."""
    files: dict[int, dict[str, str]] = {}
    names: dict[int, str] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: not named NNNN_name.up.sql or NNNN_name.down.sql")
        version = int(match["version"])
        if names.setdefault(version, match["name"]) != match["name"]:
            raise MigrationError(f"two migrations numbered {version:04d}")
        files.setdefault(version, {})[match["direction"]] = path.read_text()
    migrations = []
    for version in sorted(files):
        pair = files[version]
        for direction in ("up", "down"):
            if direction not in pair:
                raise MigrationError(f"{version:04d}_{names[version]}: no .{direction}.sql")
        migrations.append(Migration(version, names[version], pair["up"], pair["down"]))
    return migrations


async def migrate(
    dsn: str,
    direction: Literal["up", "down"] = "up",
    steps: int | None = None,
    *,
    directory: Path = MIGRATIONS_DIR,
) -> list[Migration]:
    """Apply (`up`) or roll back (`down`) migrations; returns those run, in order.

    `steps=None` means every pending migration for `up`, and only the latest applied
    one for `down`; `steps=ALL` rolls back everything.
    """
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', not {direction!r}")
    if steps is not None and steps < 0:
        raise ValueError("steps must not be negative")
    migrations = load_migrations(directory)
    conn = await asyncpg.connect(dsn)
    try:
        # Session-level lock, held across the per-migration transactions (and released
        # when the connection closes); a replica that waits here then sees what the
        # first one applied.
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await conn.execute(_BOOKKEEPING)
        applied = await _applied_versions(conn)
        if direction == "up":
            return await _up(conn, migrations, applied, ALL if steps is None else steps)
        return await _down(conn, migrations, applied, 1 if steps is None else steps)
    finally:
        await conn.close()


async def status(dsn: str, *, directory: Path = MIGRATIONS_DIR) -> list[MigrationStatus]:
    """Every migration on disk or in the database, by version, with when it was applied."""
    migrations = {m.version: m for m in load_migrations(directory)}
    conn = await asyncpg.connect(dsn)
    try:
        rows = []
        # Read-only: a database never migrated has no bookkeeping table yet.
        if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
            rows = await conn.fetch(
                "SELECT version, name, checksum, applied_at FROM schema_migrations"
            )
    finally:
        await conn.close()
    applied = {row["version"]: row for row in rows}
    result = []
    for version in sorted(migrations.keys() | applied.keys()):
        row = applied.get(version)
        migration = migrations.get(version)
        result.append(
            MigrationStatus(
                version=version,
                name=migration.name if migration else row["name"],
                applied_at=row["applied_at"] if row else None,
                checksum_matches=(
                    row["checksum"] == migration.checksum if row and migration else None
                ),
            )
        )
    return result


async def ensure_database(dsn: str) -> bool:
    """Create the database `dsn` names if it does not exist; True if it was created."""
    url = urlparse(dsn)
    name = url.path.lstrip("/")
    if not name:
        raise ValueError(f"{dsn!r} names no database")
    admin = await asyncpg.connect(urlunparse(url._replace(path="/postgres")))
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await admin.execute(f'CREATE DATABASE "{name.replace(chr(34), chr(34) * 2)}"')
        except asyncpg.DuplicateDatabaseError:
            return False  # made by another process meanwhile
        return True
    finally:
        await admin.close()


async def _applied_versions(conn: asyncpg.Connection) -> dict[int, str]:
    rows = await conn.fetch("SELECT version, checksum FROM schema_migrations ORDER BY version")
    return {row["version"]: row["checksum"] for row in rows}


async def _up(
    conn: asyncpg.Connection, migrations: list[Migration], applied: dict[int, str], steps: int
) -> list[Migration]:
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.checksum:
            log.warning(
                "migration %04d_%s was edited after it was applied; edits are not re-run",
                migration.version,
                migration.name,
            )
    pending = [m for m in migrations if m.version not in applied][:steps]
    done = []
    for migration in pending:
        async with conn.transaction():
            await conn.execute(migration.up_sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
        log.info("applied migration %04d_%s", migration.version, migration.name)
        done.append(migration)
    return done


async def _down(
    conn: asyncpg.Connection, migrations: list[Migration], applied: dict[int, str], steps: int
) -> list[Migration]:
    known = {m.version: m for m in migrations}
    latest_first = sorted(applied, reverse=True)[:steps]
    unknown = [v for v in latest_first if v not in known]
    if unknown:
        # Rolling back a migration of a newer release needs that release's files.
        raise MigrationError(f"applied migrations not on disk: {unknown}")
    done = []
    for version in latest_first:
        migration = known[version]
        async with conn.transaction():
            await conn.execute(migration.down_sql)
            await conn.execute("DELETE FROM schema_migrations WHERE version = $1", version)
        log.info("rolled back migration %04d_%s", migration.version, migration.name)
        done.append(migration)
    return done


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The migration command line, on `parser` (its own, or `switchboard migrate`)."""
    parser.add_argument("--dsn", help="PostgreSQL URL (default: DATABASE_URL)")
    commands = parser.add_subparsers(dest="migration", title="commands")
    up = commands.add_parser("up", help="apply pending migrations (the default)")
    up.add_argument("--steps", type=int, help="apply at most this many")
    down = commands.add_parser("down", help="roll back the latest migration")
    how_many = down.add_mutually_exclusive_group()
    how_many.add_argument("--steps", type=int, help="roll back this many")
    how_many.add_argument("--all", action="store_true", help="roll back every migration")
    commands.add_parser("status", help="list migrations and whether they are applied")


async def _run(args: argparse.Namespace) -> int:
    dsn = args.dsn
    if dsn is None:
        from switchboard.settings import load_settings

        dsn = load_settings().database_url
    command = args.migration or "up"
    if command == "status":
        for entry in await status(dsn):
            when = entry.applied_at.isoformat() if entry.applied_at else "pending"
            edited = "  (edited since applied)" if entry.checksum_matches is False else ""
            print(f"{entry.version:04d}_{entry.name}  {when}{edited}")
        return 0
    steps = ALL if getattr(args, "all", False) else getattr(args, "steps", None)
    ran = await migrate(dsn, command, steps)
    verb = "applied" if command == "up" else "rolled back"
    for migration in ran:
        print(f"{verb} {migration.version:04d}_{migration.name}")
    if not ran:
        print("nothing to do")
    return 0


def run(args: argparse.Namespace) -> int:
    """Runs the command `add_arguments` parsed; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return asyncio.run(_run(args))
    except (MigrationError, OSError, asyncpg.PostgresError) as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m db.migrate`; returns the exit status."""
    description = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m db.migrate", description=description)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
