"""The Twilio sandbox in its own process for a test module (`sandbox`), and a client of
its REST API with the account's credentials that starts each test with an empty
request log (`api`), and what the sandbox has received since (`requests_received`)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from switchboard.twilio_sandbox.process import SandboxProcess

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "sandbox-test-token"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with SandboxProcess.start(ACCOUNT_SID, AUTH_TOKEN) as process:
        yield process


@pytest.fixture
def api(sandbox: SandboxProcess) -> Iterator[httpx.Client]:
    httpx.delete(sandbox.requests_url).raise_for_status()
    with httpx.Client(base_url=sandbox.url, auth=(ACCOUNT_SID, AUTH_TOKEN)) as client:
        yield client


def requests_received(sandbox: SandboxProcess) -> list[dict]:
    return httpx.get(sandbox.requests_url).json()
