"""The secrets a simulated call needs, from settings or the development secrets file.

`switchboard serve`, started with no tokens and a loopback public URL, writes
development tokens to `.switchboard/dev-secrets.json` (git-ignored) at the project root
(where it is started); `switchboard call` reads them from there when the
`SWITCHBOARD_*` settings do not provide them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from switchboard.dev_secrets import DEV_SECRETS_PATH
from switchboard.settings import VoiceAgentIntegrationConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class CredentialsError(RuntimeError):
    """A secret the call needs is nowhere to be found; the message says where to put it."""


@dataclass(frozen=True)
class CallerCredentials:
    auth_token: str  # Twilio auth token: signs webhooks and the stream handshake
    api_token: str  # bearer token for /v1/
    account_sid: str  # Twilio account the simulated calls belong to


def dev_secrets_path(cwd: Path | None = None) -> Path | None:
    """The development secrets file: in the current directory, else at the project root."""
    for root in (cwd or Path.cwd(), PROJECT_ROOT):
        candidate = root / DEV_SECRETS_PATH
        if candidate.is_file():
            return candidate
    return None


def read_dev_secrets(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"{path}: cannot read the development secrets ({exc})") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path}: expected a JSON object of secrets")
    return {key: str(value) for key, value in data.items() if value}


def resolve_credentials(
    settings: VoiceAgentIntegrationConfig, *, need_auth_token: bool, cwd: Path | None = None
) -> CallerCredentials:
    """Settings first, then the development secrets file; `CredentialsError` if one is missing."""
    path = dev_secrets_path(cwd)
    dev = read_dev_secrets(path)
    auth_token = settings.secret("twilio_auth_token") or dev.get("twilio_auth_token", "")
    api_token = settings.secret("api_token") or dev.get("api_token", "")
    account_sid = settings.twilio_account_sid or dev.get("twilio_account_sid", "")
    where = f"{path}" if path else f"{DEV_SECRETS_PATH} (written by `switchboard serve`)"
    if need_auth_token and not auth_token:
        raise CredentialsError(
            f"no Twilio auth token: set SWITCHBOARD_TWILIO_AUTH_TOKEN or provide {where}"
        )
    if not api_token:
        raise CredentialsError(f"no API token: set SWITCHBOARD_API_TOKEN or provide {where}")
    return CallerCredentials(auth_token=auth_token, api_token=api_token, account_sid=account_sid)
