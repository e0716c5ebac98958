"""Schema migrations on a real PostgreSQL: up, down, status, concurrency, the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from db.migrate import ALL, MigrationError, load_migrations, main, migrate, status
from switchboard.cli import main as cli_main

VERSIONS = [m.version for m in load_migrations()]

pytest_plugins = ["tests.db_fixtures"]

OUR_TABLES = {
    "calls",
    "turns",
    "agent_transitions",
    "tier_escalation_events",
    "call_status_events",
    "do_not_call",
    "campaigns",
    "leads",
    "call_attempts",
    "do_not_call_audit",
}


async def catalog(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """Tables, columns, indexes and constraints of the public schema, comparable."""
    conn = await asyncpg.connect(dsn)
    try:
        columns = await conn.fetch(
            """
            SELECT table_name, column_name, ordinal_position, data_type, is_nullable,
                   column_default, numeric_precision, numeric_scale, is_identity
            FROM information_schema.columns WHERE table_schema = 'public'
            ORDER BY table_name, ordinal_position
            """
        )
        indexes = await conn.fetch(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' ORDER BY indexname"
        )
        constraints = await conn.fetch(
            """
            SELECT c.conrelid::regclass::text, c.conname, c.contype,
                   pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname = 'public' ORDER BY 1, 2
            """
        )
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' ORDER BY table_name"
        )
    finally:
        await conn.close()
    return {
        "tables": [tuple(r) for r in tables],
        "columns": [tuple(r) for r in columns],
        "indexes": [tuple(r) for r in indexes],
        "constraints": [tuple(r) for r in constraints],
    }


async def test_up_then_down_all_then_up_leaves_the_same_schema(fresh_database: str) -> None:
    dsn = fresh_database
    await migrate(dsn, "up")
    first = await catalog(dsn)
    assert {t for (t,) in first["tables"]} >= OUR_TABLES

    rolled_back = await migrate(dsn, "down", ALL)
    assert [m.version for m in rolled_back] == sorted(VERSIONS, reverse=True)
    assert {t for (t,) in (await catalog(dsn))["tables"]} == {"schema_migrations"}

    await migrate(dsn, "up")
    assert await catalog(dsn) == first


async def columns_of(dsn: str, table: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1", table
        )
    finally:
        await conn.close()
    return {row["column_name"] for row in rows}


async def test_down_rolls_back_only_the_latest_migration_by_default(fresh_database: str) -> None:
    dsn = fresh_database
    await migrate(dsn, "up")
    rolled_back = await migrate(dsn, "down")
    assert [m.name for m in rolled_back] == ["analytics_indexes"]
    indexes = {name for (_, name, _) in (await catalog(dsn))["indexes"]}
    assert "calls_started_at_call_sid_idx" not in indexes
    assert "calls_started_at_idx" in indexes  # the index 0009 replaced is back
    assert "experiment" in await columns_of(dsn, "calls")  # 0008 stays applied
    tables = {t for (t,) in (await catalog(dsn))["tables"]}
    assert "webhook_deliveries" in tables and "call_follow_ups" in tables


async def test_up_with_steps_applies_only_that_many(fresh_database: str) -> None:
    dsn = fresh_database
    applied = await migrate(dsn, "up", steps=1)
    assert [m.version for m in applied] == [1]
    assert [s.applied for s in await status(dsn)] == [True] + [False] * (len(VERSIONS) - 1)
    assert await migrate(dsn, "up") != []
    assert await migrate(dsn, "up") == []


async def test_status_lists_applied_and_pending_migrations(fresh_database: str) -> None:
    dsn = fresh_database
    never_migrated = await status(dsn)
    assert [(s.version, s.name, s.applied) for s in never_migrated] == [
        (1, "call_records", False),
        (2, "do_not_call", False),
        (3, "call_versions", False),
        (4, "call_follow_ups", False),
        (5, "campaigns", False),
        (6, "webhook_deliveries", False),
        (7, "dialer_indexes", False),
        (8, "call_experiments", False),
        (9, "analytics_indexes", False),
    ]
    await migrate(dsn, "up", steps=1)
    after = await status(dsn)
    assert after[0].applied and after[0].applied_at is not None
    assert after[0].checksum_matches is True
    assert not after[1].applied and after[1].checksum_matches is None


async def test_replicas_migrating_at_once_apply_each_migration_exactly_once(
    fresh_database: str,
) -> None:
    dsn = fresh_database
    results = await asyncio.gather(*(migrate(dsn, "up") for _ in range(4)))
    applied = sorted(m.version for result in results for m in result)
    assert applied == VERSIONS
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(VERSIONS)
    finally:
        await conn.close()


async def test_command_line_applies_reports_and_rolls_back(
    fresh_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = fresh_database
    # main() runs its own event loop, so it gets a thread of its own.
    assert await asyncio.to_thread(main, ["--dsn", dsn, "up"]) == 0
    assert await asyncio.to_thread(main, ["--dsn", dsn, "status"]) == 0
    assert await asyncio.to_thread(main, ["--dsn", dsn, "down", "--all"]) == 0
    out = capsys.readouterr().out
    assert "applied 0001_call_records" in out
    assert "0002_do_not_call  20" in out  # status shows when it was applied
    assert "rolled back 0001_call_records" in out
    assert [s.applied for s in await status(dsn)] == [False] * len(VERSIONS)


async def test_switchboard_migrate_runs_the_same_commands(
    fresh_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await asyncio.to_thread(cli_main, ["migrate", "--dsn", fresh_database]) == 0
    assert await asyncio.to_thread(cli_main, ["migrate", "--dsn", fresh_database, "status"]) == 0
    assert "applied 0002_do_not_call" in capsys.readouterr().out
    assert all(s.applied for s in await status(fresh_database))


def test_switchboard_migrate_help_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["migrate", "--help"])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    for command in ("up", "down", "status", "--dsn"):
        assert command in help_text


def test_a_migration_without_its_down_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_first.up.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="no .down.sql"):
        load_migrations(tmp_path)


def test_the_shipped_migrations_are_numbered_in_order() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))
