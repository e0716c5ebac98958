"""Helpers for the budget tests (no tests here): ledgers, independent cost arithmetic, the outbox.

Every ledger runs on the real Redis under the test's own key prefix (`redis_prefix`
from `tests.db_fixtures`, deleted after the test). Expected costs are computed here from
the settings' prices with `Fraction`, independently of how the ledger prices usage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import redis.asyncio as redis

from actors.budget_ledger import BudgetLedger, UsageDelta
from db.events import TierDecided, decode
from db.outbox import outbox_key
from switchboard.redis_client import connect
from switchboard.settings import QualificationPolicy, TierEscalationSettings
from tests.db_fixtures import redis_url

# 2025-10-09 12:00 UTC: a fixed clock keeps a test from straddling midnight.
T0 = 1_760_011_200.0
DAY = "2025-10-09"
CENT = Decimal("0.01")


def make_ledger(
    client: redis.Redis,
    prefix: str,
    *,
    tiers: TierEscalationSettings | None = None,
    policy: QualificationPolicy | None = None,
    reservation: str | None = None,
    clock: float | Callable[[], float] = T0,
) -> BudgetLedger:
    """A ledger on `client`; `clock` is a fixed time or a clock to read (`FakeClock`)."""
    return BudgetLedger(
        client,
        prefix,
        tiers=tiers or TierEscalationSettings(),
        policy=policy or QualificationPolicy(),
        premium_reservation_usd=Decimal(reservation) if reservation else None,
        clock=clock if callable(clock) else lambda: clock,
    )


class FakeClock:
    """A clock that moves only when told: leases expire without the test sleeping."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@asynccontextmanager
async def separate_clients(count: int, url: str | None = None) -> AsyncIterator[list[redis.Redis]]:
    """Clients with their own connection pools, as separate replicas or processes have."""
    clients = [connect(url or redis_url()) for _ in range(count)]
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()


def _part_micros(usd_per_block: float, units_per_block: int, units: int) -> Fraction:
    return Fraction(Decimal(str(usd_per_block))) * units / units_per_block * 1_000_000


def _round_micros(value: Fraction) -> int:
    return int((Decimal(value.numerator) / Decimal(value.denominator)).to_integral_value(
        rounding=ROUND_HALF_UP
    ))


def expected_breakdown(usage: UsageDelta, tiers: TierEscalationSettings) -> dict[str, Decimal]:
    """What `usage`, recorded for one call, costs per category (µ$ rounded once per part)."""
    micros = {
        "telephony": _round_micros(
            _part_micros(tiers.telephony_usd_per_minute, 60_000, usage.telephony_ms)
        ),
        "stt": _round_micros(_part_micros(tiers.stt_usd_per_second, 1_000, usage.stt_ms)),
        "llm": _round_micros(
            _part_micros(tiers.economy_usd_per_1k_tokens, 1_000, usage.economy_tokens)
        )
        + _round_micros(
            _part_micros(tiers.premium_usd_per_1k_tokens, 1_000, usage.premium_tokens)
        ),
        "tts": _round_micros(
            _part_micros(tiers.tts_usd_per_character, 1, usage.tts_characters)
        ),
    }
    return {name: Decimal(value) / 1_000_000 for name, value in micros.items()}


def expected_cost(usage: UsageDelta, tiers: TierEscalationSettings) -> Decimal:
    return sum(expected_breakdown(usage, tiers).values(), Decimal(0))


def split(usage: UsageDelta, pieces: int) -> list[UsageDelta]:
    """`usage` as `pieces` updates that add up to it exactly."""
    def share(total: int, index: int) -> int:
        return total // pieces + (1 if index < total % pieces else 0)

    return [
        UsageDelta(*(share(total, index) for total in usage.in_order()))
        for index in range(pieces)
    ]


async def outbox_decisions(client: redis.Redis, prefix: str) -> list[TierDecided]:
    """The tier decisions in the outbox stream, in stream order."""
    decided = []
    for _entry_id, fields in await client.xrange(outbox_key(prefix)):
        event: Any = decode({_text(k): _text(v) for k, v in fields.items()})
        if isinstance(event, TierDecided):
            decided.append(event)
    return decided


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
