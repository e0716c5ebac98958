"""Signing post-call webhooks, and checking a signature on the receiving end.

A webhook request carries `Switchboard-Signature: t=<unix seconds>,v1=<hex>`, where
the hex is HMAC-SHA256, keyed by the endpoint's secret (its UTF-8 bytes), of
`f"{t}."` followed by the exact request body. The timestamp is signed with the body,
so a captured request cannot be replayed later than `tolerance_s` after it was sent.

This module is the one place both sides use: the delivery worker calls `sign`, and a
receiver (a CRM's endpoint, the tests' receiver) calls `verify` on the raw body bytes,
before parsing them.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Switchboard-Signature"
SCHEME = "v1"
# How old (or how far in the future) a signature's timestamp may be by default.
DEFAULT_TOLERANCE_S = 300


class InvalidSignature(ValueError):
    """The signature header is missing, malformed, stale, or does not match the body."""


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, *, timestamp: int | None = None) -> str:
    """The `Switchboard-Signature` header value for `body`, signed now (or at `timestamp`)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={_digest(secret, t, body)}"


def verify(
    body: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check `header` (the `Switchboard-Signature` value) against the raw `body`.

    Returns the signed timestamp; raises `InvalidSignature` otherwise. Several `v1=`
    values are accepted (any one matching is enough), so a sender may sign with an old
    and a new secret while a secret is rotated.
    """
    if not header:
        raise InvalidSignature(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise InvalidSignature(f"bad timestamp {value!r}") from None
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature(f"{SIGNATURE_HEADER} needs t= and {SCHEME}=")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise InvalidSignature(f"timestamp {timestamp} is outside the {tolerance_s:g} s tolerance")
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in signatures):
        raise InvalidSignature("signature does not match the body")
    return timestamp
