"""The sandbox's clock: Twilio's resources carry their times to the second, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """This instant as a Twilio resource records it."""
    return datetime.now(UTC).replace(microsecond=0)
