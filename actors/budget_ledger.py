"""The budget ledger: what calls cost, and which of them may use the premium model tier.

`BudgetLedger` is the logic behind the singleton budget deployment, without Ray. Its
counters live in Redis (scripts in `actors.budget_ledger_scripts`), so a restarted ledger, or
several at once, continue from the same totals; Redis must persist (AOF) for them to
survive a Redis restart.

Money is integer micro-dollars (µ$) in Redis and `Decimal` dollars in the API, so every
total is an exact sum. Prices come from `TierEscalationSettings`; a call's cost per part
is its cumulative units times the price, rounded half-up to the µ$ once per part, so
recording usage in many small pieces costs exactly what one piece would.

The premium policy (DESIGN.md): a call asks for premium when its qualification score
reaches `premium_score` or the stated budget reaches `premium_budget_usd`; the ask is
granted while the call's cost is below `per_call_cap_usd` and the day's premium
commitment leaves room for one more reservation under `daily_budget_usd`:

- a grant reserves `premium_reservation_usd` against the day, like a card authorisation
  hold; the call's premium tokens are drawn from its hold first; the day's commitment
  is premium spend plus outstanding holds, so concurrent grants can never commit more
  than the budget;
- the unspent hold goes back to the day when the call ends (`end_call`), is revoked or
  is downgraded, or when its lease runs out (below);
- a premium call goes back to economy when its cost reaches the cap, or when it has
  spent its hold and the day's budget is fully committed;
- an admin's `force_tier` wins over all of this and pins the tier for the rest of the
  call (a forced grant still reserves, and may take the day past its budget).

A day is a UTC date. Costs count on the day they are recorded; a hold stays with the day
of its grant, so a call running past midnight does not take from the new day's budget.

A hold is a lease. A call whose session actor dies never calls `end_call`, and its hold
would keep budget from every later call of the day; so each grant (a granted request,
an admin's `force_tier` to premium) holds for `hold_lease_s`, and a live call extends
that with every usage update, every request for premium and `renew_hold`, which it calls
periodically while it is premium. `release_expired_holds` (run every few seconds by the
budget deployment) returns each hold whose lease has run out to its day, exactly as
`end_call` would, and takes the call back to economy (an admin's pin included) with a
`lease_expired` decision. The leases are the sorted set `{prefix}:budget:holds` (CallSid
scored by expiry), so finding the expired ones is a range query; the check that a lease
is still over and the release are one script, so a renewal that lands first always wins
and no hold is released twice. Expiry times come from the ledger's `clock`.

`call_budget` returns what the ledger knows of a call (tier, hold, lease, cumulative
units and cost), so a replacement session actor can continue a call from it.

Every decision is appended to the outbox (`Outbox.tier_decision`) with the call's next
decision seq from Redis, and so becomes a row of `tier_escalation_events`. The counters
change before the append: if the process dies between the two, the decision holds but
its row is missing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, NamedTuple

import redis.asyncio as aioredis

from actors.budget_ledger_scripts import (
    END_CALL,
    FORCE_TIER,
    RECORD_USAGE,
    RELEASE_EXPIRED,
    RENEW_HOLD,
    REQUEST_PREMIUM,
    USAGE_PARTS,
)
from actors.usage import CallUsage
from db.outbox import Outbox
from switchboard.models import Tier, TierDecision
from switchboard.settings import (
    QualificationPolicy,
    TierEscalationSettings,
    VoiceAgentIntegrationConfig,
)

log = logging.getLogger(__name__)

MICROS_PER_USD = 1_000_000
CALL_TTL_S = 2 * 24 * 3600  # a call's counters outlive the call, for late usage and reports
DAY_TTL_S = 40 * 24 * 3600  # a month of daily totals, and then some
CATEGORIES = ("telephony", "stt", "llm", "tts")  # the call report's cost_breakdown
_HOLD_RETRIES = 20
# Expired holds released per script: bounds how long one script blocks Redis.
RELEASE_BATCH = 100
_USD_TEXT = Decimal("0.0001")


class Reason(StrEnum):
    """What a decision's `reason` starts with (`reason_code`); the rest explains it."""

    GRANTED = "granted"
    ALREADY_PREMIUM = "already_premium"
    NOT_ELIGIBLE = "not_eligible"
    PINNED = "pinned"
    PER_CALL_CAP = "per_call_cap"
    DAILY_BUDGET = "daily_budget"
    CALL_ENDED = "call_ended"
    ADMIN = "admin"
    LEASE_EXPIRED = "lease_expired"


def reason_code(decision: TierDecision) -> Reason:
    return Reason(decision.reason.partition(":")[0])


def usd_to_micros(amount: Decimal | float | int | str) -> int:
    """Dollars to µ$, half-up; a float is read as it prints (0.0085, not its binary value)."""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return int((value * MICROS_PER_USD).to_integral_value(rounding=ROUND_HALF_UP))


def micros_to_usd(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS_PER_USD).quantize(Decimal("0.000001"))


def wants_premium_tier(
    policy: QualificationPolicy, *, qualification_score: float, budget_usd: float | None
) -> bool:
    """DESIGN.md's ask: score at least `premium_score`, or budget at least `premium_budget_usd`.

    The rule of `graph.workflow.policy.wants_premium`, taken from what a request carries instead of
    the call's facts.
    """
    return qualification_score >= policy.premium_score or (
        budget_usd is not None and budget_usd >= policy.premium_budget_usd
    )


@dataclass(frozen=True)
class UnitPrice:
    """µ$ per unit as an exact fraction, so the scripts price in integers."""

    numerator: int
    denominator: int

    @classmethod
    def of(cls, usd: float | Decimal, per_units: int) -> UnitPrice:
        """The price of one unit, from `usd` per `per_units` units."""
        exact = Fraction(Decimal(str(usd))) * MICROS_PER_USD / per_units
        # Keeps units × numerator far below 2^53, where the scripts' doubles stop being exact.
        if exact.numerator >= 2**31 or exact.denominator >= 2**31:
            raise ValueError(f"price {usd} per {per_units} units is too fine to price exactly")
        return cls(exact.numerator, exact.denominator)


@dataclass(frozen=True)
class Prices:
    """Unit prices in the order of `budget_ledger_scripts.USAGE_PARTS`."""

    telephony_per_ms: UnitPrice
    stt_per_ms: UnitPrice
    tts_per_character: UnitPrice
    economy_per_token: UnitPrice
    premium_per_token: UnitPrice

    @classmethod
    def from_settings(cls, tiers: TierEscalationSettings) -> Prices:
        return cls(
            telephony_per_ms=UnitPrice.of(tiers.telephony_usd_per_minute, 60_000),
            stt_per_ms=UnitPrice.of(tiers.stt_usd_per_second, 1_000),
            tts_per_character=UnitPrice.of(tiers.tts_usd_per_character, 1),
            economy_per_token=UnitPrice.of(tiers.economy_usd_per_1k_tokens, 1_000),
            premium_per_token=UnitPrice.of(tiers.premium_usd_per_1k_tokens, 1_000),
        )

    def in_order(self) -> tuple[UnitPrice, ...]:
        return (
            self.telephony_per_ms,
            self.stt_per_ms,
            self.tts_per_character,
            self.economy_per_token,
            self.premium_per_token,
        )


def _ms(seconds: float | Decimal) -> int:
    return int((Decimal(str(seconds)) * 1000).to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class UsageDelta:
    """Usage added since the last update, in whole units (speech to the millisecond)."""

    telephony_ms: int = 0
    stt_ms: int = 0
    tts_characters: int = 0
    economy_tokens: int = 0
    premium_tokens: int = 0

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"usage {name} must be a whole number >= 0, not {value!r}")

    @classmethod
    def of(
        cls,
        *,
        telephony_seconds: float | Decimal = 0,
        stt_seconds: float | Decimal = 0,
        tts_characters: int = 0,
        llm_tokens: Mapping[str, int] | None = None,
    ) -> UsageDelta:
        tokens = llm_tokens or {}
        unknown = set(tokens) - {"economy", "premium"}
        if unknown:
            raise ValueError(f"unknown tiers in llm_tokens: {sorted(unknown)}")
        return cls(
            telephony_ms=_ms(telephony_seconds),
            stt_ms=_ms(stt_seconds),
            tts_characters=tts_characters,
            economy_tokens=tokens.get("economy", 0),
            premium_tokens=tokens.get("premium", 0),
        )

    @classmethod
    def between(cls, before: CallUsage, after: CallUsage) -> UsageDelta:
        """What a session's `CallUsage` gained between two snapshots.

        Each snapshot is rounded to whole units before subtracting, so a call reported
        as a series of snapshots adds up to exactly its last snapshot.
        """
        return cls(
            telephony_ms=_ms(after.call_seconds) - _ms(before.call_seconds),
            stt_ms=_ms(after.stt_seconds) - _ms(before.stt_seconds),
            tts_characters=after.tts_characters - before.tts_characters,
            economy_tokens=after.llm_tokens.get("economy", 0) - before.llm_tokens.get("economy", 0),
            premium_tokens=after.llm_tokens.get("premium", 0) - before.llm_tokens.get("premium", 0),
        )

    def in_order(self) -> tuple[int, ...]:
        return (
            self.telephony_ms,
            self.stt_ms,
            self.tts_characters,
            self.economy_tokens,
            self.premium_tokens,
        )


class CallCost(NamedTuple):
    """A call's cost so far: the total and `CATEGORIES` in dollars (exact to the µ$)."""

    total: Decimal
    breakdown: dict[str, Decimal]

    @classmethod
    def from_micros(
        cls, *, telephony: int, stt: int, tts: int, llm_economy: int, llm_premium: int
    ) -> CallCost:
        parts = {
            "telephony": telephony,
            "stt": stt,
            "llm": llm_economy + llm_premium,
            "tts": tts,
        }
        return cls(
            micros_to_usd(sum(parts.values())),
            {name: micros_to_usd(value) for name, value in parts.items()},
        )

    def as_floats(self) -> tuple[float, dict[str, float]]:
        """For `Outbox.call_ended(cost_usd=..., cost_breakdown=...)`."""
        return float(self.total), {name: float(value) for name, value in self.breakdown.items()}


@dataclass(frozen=True)
class UsageResult:
    """What `record_usage` did: the call's cost, the day's total, the call's tier."""

    cost: CallCost
    day_total: Decimal
    tier: Tier
    # Set when this usage took the call back to economy (cap reached, day committed).
    downgrade: TierDecision | None = None
    # True when this update id had been applied before: nothing was added.
    duplicate: bool = False


@dataclass(frozen=True)
class CallBudget:
    """The budget's view of one call."""

    call_sid: str
    tier: Tier
    pinned: bool  # an admin set the tier
    ended: bool
    held: Decimal  # what is left of the premium reservation
    decisions: int
    cost: CallCost
    units: UsageDelta  # cumulative usage recorded so far
    hold_expires: float | None  # when the hold's lease ends (Unix seconds); None: no hold


@dataclass(frozen=True)
class DayTotals:
    """One UTC day of the budget."""

    day: str
    cost: CallCost  # everything every call cost that day
    premium_spent: Decimal  # premium tokens
    held: Decimal  # outstanding reservations of that day's grants
    reserved: Decimal  # every reservation made that day, released or not
    budget: Decimal
    granted: int
    refused: int
    forced: int
    revoked: int
    downgraded: int
    expired: int  # holds whose lease ran out, released that day

    @property
    def committed(self) -> Decimal:
        return self.premium_spent + self.held

    @property
    def remaining(self) -> Decimal:
        return max(Decimal(0), self.budget - self.committed)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _usd_text(micros: int) -> str:
    return f"{micros_to_usd(micros).quantize(_USD_TEXT)} USD"


class BudgetLedger:
    """Usage, cost and tier decisions of every call, with the counters in Redis."""

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        *,
        tiers: TierEscalationSettings,
        policy: QualificationPolicy,
        outbox: Outbox | None = None,
        premium_reservation_usd: Decimal | float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._policy = policy
        self._outbox = outbox or Outbox(redis, prefix)
        self._clock = clock
        self.prices = Prices.from_settings(tiers)
        self.cap_micros = usd_to_micros(tiers.per_call_cap_usd)
        self.budget_micros = usd_to_micros(tiers.daily_budget_usd)
        if premium_reservation_usd is None:
            premium_reservation_usd = tiers.premium_reservation_usd
        self.reservation_micros = usd_to_micros(premium_reservation_usd)
        if self.reservation_micros <= 0:
            raise ValueError("premium_reservation_usd must be more than zero")
        self.lease_s = tiers.hold_lease_s
        self._record_usage = redis.register_script(RECORD_USAGE)
        self._request_premium = redis.register_script(REQUEST_PREMIUM)
        self._force_tier = redis.register_script(FORCE_TIER)
        self._end_call = redis.register_script(END_CALL)
        self._renew_hold = redis.register_script(RENEW_HOLD)
        self._release_expired = redis.register_script(RELEASE_EXPIRED)

    @classmethod
    def from_settings(
        cls, redis: aioredis.Redis, settings: VoiceAgentIntegrationConfig, **kwargs: Any
    ) -> BudgetLedger:
        return cls(
            redis,
            settings.redis_prefix,
            tiers=settings.tier_escalation,
            policy=settings.qualification,
            **kwargs,
        )

    # Keys

    def _call_key(self, call_sid: str) -> str:
        return f"{self._prefix}:budget:call:{call_sid}"

    def _day_key(self, day: str) -> str:
        return f"{self._prefix}:budget:day:{day}"

    def _holds_key(self) -> str:
        return f"{self._prefix}:budget:holds"

    def _lease_expiry(self) -> str:
        """When a lease granted or renewed now ends, as the scripts take it."""
        return repr(self._clock() + self.lease_s)

    def today(self) -> str:
        """The budget day (UTC) at the ledger's clock."""
        return time.strftime("%Y-%m-%d", time.gmtime(self._clock()))

    # Usage and cost

    async def record_usage(
        self, call_sid: str, usage: UsageDelta, *, update_id: str | None = None
    ) -> UsageResult:
        """Add `usage` to the call and the day; the call's cost, the day's total, its tier.

        Each update is applied once per `update_id` (a fresh id when none is given, so a
        command the Redis client retries is not counted twice); pass your own to make
        retries of the whole request safe. A premium call's lease is renewed.
        """
        _check_sid(call_sid)
        update_id = update_id or uuid.uuid4().hex
        today = self.today()
        priced: list[int] = []
        for units, price in zip(usage.in_order(), self.prices.in_order(), strict=True):
            priced += [units, price.numerator, price.denominator]

        async def run(hold_day: str, hold_key: str) -> list[Any]:
            return await self._record_usage(
                keys=[
                    self._call_key(call_sid),
                    self._day_key(today),
                    hold_key,
                    f"{self._call_key(call_sid)}:applied",
                    self._holds_key(),
                ],
                args=[
                    hold_day, update_id, CALL_TTL_S, DAY_TTL_S, self.cap_micros,
                    self.budget_micros, call_sid, self._lease_expiry(), *priced,
                ],
            )

        reply = await self._with_hold(call_sid, today, run)
        status, tier, downgrade, seq = (_text(v) for v in reply[:4])
        tel, stt, tts, llm_economy, llm_premium, _call_total, day_total = map(int, reply[4:])
        cost = CallCost.from_micros(
            telephony=tel, stt=stt, tts=tts, llm_economy=llm_economy, llm_premium=llm_premium
        )
        decision = None
        if downgrade:
            decision = self._decision(
                "economy", trigger="usage", approved=True,
                reason=self._downgrade_reason(Reason(downgrade), cost),
            )
            await self._record(call_sid, int(seq), decision)
        return UsageResult(
            cost=cost,
            day_total=micros_to_usd(day_total),
            tier=tier,  # type: ignore[arg-type]  # the scripts only write economy/premium
            downgrade=decision,
            duplicate=status == "duplicate",
        )

    async def call_cost(self, call_sid: str) -> CallCost:
        """The call's cost so far: `(total, breakdown)`."""
        return (await self.call_budget(call_sid)).cost

    async def call_budget(self, call_sid: str) -> CallBudget:
        """Everything the ledger knows of the call, read at one instant."""
        fields = (
            "tier", "pinned", "ended", "held", "seq",
            *(f"c_{part}" for part in USAGE_PARTS),
            *(f"u_{part}" for part in USAGE_PARTS),
        )
        # One transaction, so the lease and the hash agree (no release in between).
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(self._call_key(call_sid), fields)
            pipe.zscore(self._holds_key(), call_sid)
            values, hold_expires = await pipe.execute()
        raw = {
            name: _text(v) if v is not None else None
            for name, v in zip(fields, values, strict=True)
        }
        number = {name: int(raw[name] or 0) for name in fields[3:]}
        return CallBudget(
            call_sid=call_sid,
            tier=raw["tier"] or "economy",  # type: ignore[arg-type]
            pinned=raw["pinned"] == "1",
            ended=raw["ended"] == "1",
            held=micros_to_usd(number["held"]),
            decisions=number["seq"],
            cost=CallCost.from_micros(
                telephony=number["c_telephony"],
                stt=number["c_stt"],
                tts=number["c_tts"],
                llm_economy=number["c_llm_economy"],
                llm_premium=number["c_llm_premium"],
            ),
            units=UsageDelta(*(number[f"u_{part}"] for part in USAGE_PARTS)),
            hold_expires=float(hold_expires) if hold_expires is not None else None,
        )

    async def day_totals(self, day: str | None = None) -> DayTotals:
        """The totals of `day` (YYYY-MM-DD, UTC; today by default)."""
        day = day or self.today()
        raw = await self._redis.hgetall(self._day_key(day))
        values = {_text(k): int(v) for k, v in raw.items()}

        def get(name: str) -> int:
            return values.get(name, 0)

        return DayTotals(
            day=day,
            cost=CallCost.from_micros(
                telephony=get("c_telephony"),
                stt=get("c_stt"),
                tts=get("c_tts"),
                llm_economy=get("c_llm_economy"),
                llm_premium=get("c_llm_premium"),
            ),
            premium_spent=micros_to_usd(get("premium_spent")),
            held=micros_to_usd(get("held")),
            reserved=micros_to_usd(get("reserved")),
            budget=micros_to_usd(self.budget_micros),
            granted=get("granted"),
            refused=get("refused"),
            forced=get("forced"),
            revoked=get("revoked"),
            downgraded=get("downgraded"),
            expired=get("expired"),
        )

    # Tier decisions

    def wants_premium(self, *, qualification_score: float, budget_usd: float | None) -> bool:
        return wants_premium_tier(
            self._policy, qualification_score=qualification_score, budget_usd=budget_usd
        )

    async def request_premium(
        self,
        call_sid: str,
        *,
        trigger: str,
        qualification_score: float,
        budget_usd: float | None,
    ) -> TierDecision:
        """Decide, in one atomic step, whether the call may use the premium tier now.

        A call already on premium gets an approval that is neither recorded nor reserved
        again (a retried request is harmless) and has its lease renewed; every other
        answer is recorded. A grant's lease ends `hold_lease_s` from now.
        """
        _check_sid(call_sid)
        if not 0 <= qualification_score <= 1:
            raise ValueError(f"qualification_score must be in [0, 1], not {qualification_score}")
        eligible = self.wants_premium(
            qualification_score=qualification_score, budget_usd=budget_usd
        )
        today = self.today()
        reply = await self._request_premium(
            keys=[self._call_key(call_sid), self._day_key(today), self._holds_key()],
            args=[
                "1" if eligible else "0", self.cap_micros, self.budget_micros,
                self.reservation_micros, today, CALL_TTL_S, DAY_TTL_S, call_sid,
                self._lease_expiry(),
            ],
        )
        verdict = Reason(_text(reply[0]))
        seq, spent, committed = (int(v) for v in reply[1:4])
        reason = {
            Reason.ALREADY_PREMIUM: "the call is on the premium tier",
            Reason.CALL_ENDED: "the call has ended",
            Reason.NOT_ELIGIBLE: self._not_eligible_text(qualification_score, budget_usd),
            Reason.PINNED: "an admin set this call's tier",
            Reason.PER_CALL_CAP: f"the call has cost {_usd_text(spent)} of its "
            f"{_usd_text(self.cap_micros)} cap",
            Reason.DAILY_BUDGET: f"{_usd_text(committed)} of the {_usd_text(self.budget_micros)}"
            f" daily budget is committed; a grant reserves {_usd_text(self.reservation_micros)}",
            Reason.GRANTED: f"reserved {_usd_text(self.reservation_micros)}; "
            f"{_usd_text(committed)} of the {_usd_text(self.budget_micros)} daily budget "
            "committed",
        }[verdict]
        approved = verdict in (Reason.GRANTED, Reason.ALREADY_PREMIUM)
        decision = self._decision(
            "premium", trigger=trigger, approved=approved, reason=f"{verdict}: {reason}"
        )
        if seq >= 0:
            await self._record(call_sid, seq, decision)
        return decision

    async def force_tier(self, call_sid: str, tier: Tier, reason: str) -> TierDecision:
        """An admin forces (`premium`) or revokes (`economy`) the tier of a live call.

        The tier is then pinned: later requests and the cap or budget leave it alone. A
        forced premium holds on a lease like any grant, and loses it (pin and all) if the
        call stops renewing it.
        """
        _check_sid(call_sid)
        if tier not in ("economy", "premium"):
            raise ValueError(f"tier must be economy or premium, not {tier!r}")
        today = self.today()

        async def run(hold_day: str, hold_key: str) -> list[Any]:
            return await self._force_tier(
                keys=[
                    self._call_key(call_sid), self._day_key(today), hold_key, self._holds_key()
                ],
                args=[
                    hold_day, tier, self.reservation_micros, today, CALL_TTL_S, DAY_TTL_S,
                    call_sid, self._lease_expiry(),
                ],
            )

        reply = await self._with_hold(call_sid, today, run)
        verdict, seq = _text(reply[0]), int(reply[1])
        if verdict == Reason.CALL_ENDED:
            decision = self._decision(
                tier, trigger="admin", approved=False,
                reason=f"{Reason.CALL_ENDED}: the call has ended ({reason})",
            )
        else:
            decision = self._decision(
                tier, trigger="admin", approved=True, reason=f"{Reason.ADMIN}: {reason}"
            )
        await self._record(call_sid, seq, decision)
        return decision

    async def end_call(self, call_sid: str) -> CallCost:
        """The call is over: its unspent reservation goes back to the day, its lease ends;
        its final cost.

        Usage recorded later still counts; requests for premium are refused.
        """
        _check_sid(call_sid)
        today = self.today()

        async def run(hold_day: str, hold_key: str) -> list[Any]:
            return await self._end_call(
                keys=[self._call_key(call_sid), hold_key, self._holds_key()],
                args=[hold_day, CALL_TTL_S, call_sid],
            )

        await self._with_hold(call_sid, today, run)
        return await self.call_cost(call_sid)

    # Leases

    async def renew_hold(self, call_sid: str) -> Tier:
        """A live call holding premium extends its lease to `hold_lease_s` from now.

        Returns the call's tier, which tells a call whose lease already ran out (or was
        revoked) that it is on economy now. Any other call is left as it is.
        """
        _check_sid(call_sid)
        tier = await self._renew_hold(
            keys=[self._call_key(call_sid), self._holds_key()],
            args=[call_sid, self._lease_expiry()],
        )
        return _text(tier)  # type: ignore[return-value]  # the scripts only write tiers

    async def release_expired_holds(self, *, batch: int = RELEASE_BATCH) -> list[str]:
        """Release every hold whose lease has run out; the CallSids released.

        Each hold goes back to the day it was taken from, as `end_call` would, the call
        goes back to economy, and the release is a `lease_expired` decision. Safe to run
        from several ledgers at once and alongside renewals: each hold is released at
        most once, and never after a renewal.
        """
        if batch < 1:
            raise ValueError("batch must be at least 1")
        released: list[str] = []
        while True:
            now = self._clock()
            candidates = await self._redis.zrangebyscore(
                self._holds_key(), "-inf", now, start=0, num=batch
            )
            done = await self._release_batch([_text(c) for c in candidates], now)
            released += done
            # A full batch of which nothing was released was renewed under us: stop
            # rather than spin; the next run looks again.
            if len(candidates) < batch or not done:
                return released

    async def _release_batch(self, call_sids: list[str], now: float) -> list[str]:
        if not call_sids:
            return []
        today = self.today()
        hold_days = await self._hold_days(call_sids)
        keys = [self._holds_key(), self._day_key(today)]
        args: list[Any] = [repr(now), CALL_TTL_S, DAY_TTL_S]
        for call_sid, hold_day in zip(call_sids, hold_days, strict=True):
            keys += [self._call_key(call_sid), self._day_key(hold_day or today)]
            args += [call_sid, hold_day]
        reply = await self._release_expired(keys=keys, args=args)
        released = []
        for entry in reply:
            call_sid, seq, micros, expiry, hold_day, pinned = (_text(v) for v in entry)
            released.append(call_sid)
            if int(seq) >= 0:
                reason = self._lease_reason(
                    float(expiry), int(micros), hold_day, pinned=pinned == "1"
                )
                await self._record_release(call_sid, int(seq), reason)
        return released

    async def _hold_days(self, call_sids: list[str]) -> list[str]:
        """The day each call's hold counts against ('' for none), in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for call_sid in call_sids:
                pipe.hget(self._call_key(call_sid), "hold_day")
            values = await pipe.execute()
        return [_text(v) if v is not None else "" for v in values]

    async def _record_release(self, call_sid: str, seq: int, reason: str) -> None:
        decision = self._decision("economy", trigger="lease", approved=True, reason=reason)
        try:
            await self._record(call_sid, seq, decision)
        except Exception:
            # The hold is released either way; losing one row must not keep the rest of
            # the batch's decisions out of the outbox.
            log.exception(
                "budget: lease release of %s #%d not recorded", call_sid, seq,
                extra={"call_sid": call_sid},
            )

    # Helpers

    async def _with_hold(
        self,
        call_sid: str,
        today: str,
        run: Callable[[str, str], Awaitable[list[Any]]],
    ) -> list[Any]:
        """Run a script that may touch the day of the call's hold, named before it runs.

        The script refuses (`retry`) if the hold moved since it was read; rare, since only
        a grant, a release or an admin moves it.
        """
        for _ in range(_HOLD_RETRIES):
            raw = await self._redis.hget(self._call_key(call_sid), "hold_day")
            hold_day = _text(raw) if raw is not None else ""
            reply = await run(hold_day, self._day_key(hold_day or today))
            if _text(reply[0]) != "retry":
                return reply
        raise RuntimeError(f"budget: the hold of call {call_sid} kept moving; try again")

    def _decision(self, tier: Tier, *, trigger: str, approved: bool, reason: str) -> TierDecision:
        return TierDecision(
            tier=tier, at=self._clock(), trigger=trigger, approved=approved, reason=reason
        )

    async def _record(self, call_sid: str, seq: int, decision: TierDecision) -> None:
        log.info(
            "tier decision %s #%d: %s approved=%s (%s)",
            call_sid, seq, decision.tier, decision.approved, decision.reason,
            extra={"call_sid": call_sid},
        )
        await self._outbox.tier_decision(call_sid, seq, decision)

    def _not_eligible_text(self, score: float, budget_usd: float | None) -> str:
        stated = f"{budget_usd:,.0f} USD" if budget_usd is not None else "not stated"
        return (
            f"qualification score {score:g} is below {self._policy.premium_score:g} and the "
            f"budget ({stated}) below {self._policy.premium_budget_usd:,.0f} USD"
        )

    def _lease_reason(self, expiry: float, micros: int, hold_day: str, *, pinned: bool) -> str:
        ended = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(expiry))
        whose = "an admin's premium" if pinned else "the premium hold"
        returned = f"; {_usd_text(micros)} went back to {hold_day}" if hold_day else ""
        return f"{Reason.LEASE_EXPIRED}: {whose} was not renewed by {ended} UTC{returned}"

    def _downgrade_reason(self, why: Reason, cost: CallCost) -> str:
        if why is Reason.PER_CALL_CAP:
            return (
                f"{why}: the call has cost {cost.total.quantize(_USD_TEXT)} USD, reaching its "
                f"{_usd_text(self.cap_micros)} cap"
            )
        return (
            f"{why}: the call spent its reservation and the "
            f"{_usd_text(self.budget_micros)} daily budget is committed"
        )


def _check_sid(call_sid: str) -> None:
    if not call_sid or not isinstance(call_sid, str):
        raise ValueError("call_sid must be a non-empty string")
