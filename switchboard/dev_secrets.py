"""Development secrets: made once for a loopback server, kept in a git-ignored file.

With no tokens configured and a loopback public URL, `switchboard serve` makes a
Twilio auth token, an API token and a development account SID in
`.switchboard/dev-secrets.json`; `switchboard call` reads the same file, so even
locally every request is signed and authenticated.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

DEV_SECRETS_PATH = Path(".switchboard") / "dev-secrets.json"


def load_or_create(path: Path = DEV_SECRETS_PATH) -> dict[str, str]:
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {
        "twilio_auth_token": secrets.token_hex(16),
        "api_token": secrets.token_urlsafe(32),
        "twilio_account_sid": "AC" + secrets.token_hex(16),
    }
    # Created private: only this user may read the tokens.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle, indent=2)
    return values
