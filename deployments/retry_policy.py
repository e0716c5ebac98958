"""What an attempt's end means for its lead: finished, or tried again later.

DESIGN.md "Campaigns": busy, no-answer, failed and voicemail attempts are retried with
backoff, up to the campaign's `max_attempts`; a lead who was qualified, transferred or
opted out is finished. A conversation that reached an outcome of its own (nurture,
disqualified) is finished too: calling again would only repeat it. A lead who hung up
before any outcome (`abandoned`) is tried again, like one who did not answer. (A lead
skipped at dialling is finished by the dialer itself, `db.call_attempts.skip_attempt`.)

The wait before attempt n+1 is `retry_after_s * 2**(n-1)`: each retry waits twice as
long as the one before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

# Attempt statuses (`call_attempts.status`) and call outcomes that leave the lead to be
# called again, if it has attempts left.
RETRIED_STATUSES: Final = frozenset({"no_answer", "busy", "failed", "voicemail"})
RETRIED_OUTCOMES: Final = frozenset({"voicemail", "abandoned"})


@dataclass(frozen=True)
class LeadNext:
    """The lead's future: finished (`retry_at` None) or due again at `retry_at`."""

    retry_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.retry_at is None


def retry_delay_s(retry_after_s: float, attempt: int) -> float:
    """The wait after attempt number `attempt` (from 1) before the next one."""
    return retry_after_s * 2 ** (attempt - 1)


def after_attempt(
    status: str,
    outcome: str | None,
    *,
    attempt: int,
    max_attempts: int,
    retry_after_s: float,
    now: datetime,
) -> LeadNext:
    """What happens to the lead after its attempt `attempt` ended with `status` (an
    attempt status) and `outcome` (the call's, if it had one)."""
    # A completed call whose record has no outcome said nothing final either.
    no_end = outcome is None or outcome in RETRIED_OUTCOMES
    answered_without_end = status == "completed" and no_end
    retried = status in RETRIED_STATUSES or answered_without_end
    if not retried or attempt >= max_attempts:
        return LeadNext(None)
    return LeadNext(now + timedelta(seconds=retry_delay_s(retry_after_s, attempt)))
