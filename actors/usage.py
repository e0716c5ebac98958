"""What a call used (telephony minutes, speech seconds, LLM tokens, TTS characters) and
what that cost at the prices in settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from switchboard.settings import TierEscalationSettings


@dataclass
class CallUsage:
    """Usage counters of one call; the session adds to them as the call goes."""

    call_seconds: float = 0.0
    stt_seconds: float = 0.0
    tts_characters: int = 0
    llm_tokens: dict[str, int] = field(default_factory=lambda: {"economy": 0, "premium": 0})

    def cost_breakdown(self, prices: TierEscalationSettings) -> dict[str, float]:
        """Cost per category in USD, rounded to a hundredth of a cent."""
        llm = (
            self.llm_tokens["economy"] / 1000 * prices.economy_usd_per_1k_tokens
            + self.llm_tokens["premium"] / 1000 * prices.premium_usd_per_1k_tokens
        )
        breakdown = {
            "telephony": self.call_seconds / 60 * prices.telephony_usd_per_minute,
            "stt": self.stt_seconds * prices.stt_usd_per_second,
            "llm": llm,
            "tts": self.tts_characters * prices.tts_usd_per_character,
        }
        return {name: round(value, 6) for name, value in breakdown.items()}

    def cost_usd(self, prices: TierEscalationSettings) -> float:
        return round(sum(self.cost_breakdown(prices).values()), 6)
