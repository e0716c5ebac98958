"""The console's login session: what `POST /console/login` trades the API token for.

The cookie never holds the token. It holds `<issued>.<nonce>.<mac>`, where `mac` is an
HMAC-SHA256 of `<issued>.<nonce>` under a key derived from the API token. Any ingress
replica can check it without shared state, a session lapses after `max_age_s`, and
changing the API token ends every session at once. Comparisons are constant-time.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page can
make the browser send it, which is what keeps the console's POSTs from being forged),
and Secure when the public URL is https.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from starlette.responses import Response

COOKIE_NAME = "switchboard_console"
# A working day: an operator logs in once per shift.
DEFAULT_MAX_AGE_S = 12 * 3600
# Sessions signed for a later instant than this are refused (clocks of two replicas
# may differ a little, never by minutes).
_CLOCK_SKEW_S = 60
_KEY_LABEL = b"switchboard console session v1"


class ConsoleSessions:
    """Issues and checks session cookies for the holder of `api_token`."""

    def __init__(
        self,
        api_token: str,
        *,
        secure: bool,
        max_age_s: int = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_token:
            raise ValueError("the console needs an API token to log operators in with")
        self._token = api_token.encode()
        # Derived, so the token itself never signs anything a browser holds.
        self._key = hmac.new(self._token, _KEY_LABEL, hashlib.sha256).digest()
        self._secure = secure
        self._max_age_s = max_age_s
        self._clock = clock

    def token_matches(self, given: str) -> bool:
        """Whether `given` is the API token (constant-time)."""
        return bool(given) and hmac.compare_digest(given.strip().encode(), self._token)

    def issue(self) -> str:
        """A new session value."""
        payload = f"{int(self._clock())}.{secrets.token_urlsafe(12)}"
        return f"{payload}.{self._mac(payload)}"

    def valid(self, value: str | None) -> bool:
        """Whether `value` is a session this key issued that has not lapsed."""
        if not value:
            return False
        payload, _, mac = value.rpartition(".")
        issued, _, nonce = payload.partition(".")
        if not (issued.isdigit() and nonce and mac):
            return False
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            return False
        age = self._clock() - int(issued)
        return -_CLOCK_SKEW_S <= age <= self._max_age_s

    def set_cookie(self, response: Response, path: str) -> None:
        """Give `response` a new session cookie, scoped to the console at `path`."""
        response.set_cookie(
            COOKIE_NAME,
            self.issue(),
            max_age=self._max_age_s,
            path=path,
            secure=self._secure,
            httponly=True,
            samesite="strict",
        )

    def clear_cookie(self, response: Response, path: str) -> None:
        response.delete_cookie(
            COOKIE_NAME, path=path, secure=self._secure, httponly=True, samesite="strict"
        )

    def _mac(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
