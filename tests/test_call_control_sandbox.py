"""CallControl, the official twilio client, against the Twilio sandbox in its own process."""

from __future__ import annotations

import socket

import httpx
import pytest

from actors.call_control import CallControl, CallControlError, transfer_twiml
from switchboard.settings import load_settings
from switchboard.twilio_sandbox.process import SandboxProcess
from tests.sandbox_fixtures import ACCOUNT_SID, AUTH_TOKEN, requests_received


def new_call_sid(n: int) -> str:
    return "CA" + f"{n:x}" * 32


async def test_hang_up_sets_the_call_completed(sandbox: SandboxProcess, api: httpx.Client) -> None:
    sid = new_call_sid(1)
    async with CallControl(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as control:
        await control.hang_up(sid)
    (request,) = requests_received(sandbox)
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json"
    assert request["form"] == {"Status": "completed"} and request["status"] == 200


async def test_transfer_sends_a_dial_of_the_number(
    sandbox: SandboxProcess, api: httpx.Client
) -> None:
    sid = new_call_sid(2)
    async with CallControl(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as control:
        await control.transfer(sid, "+15550009999")
    (request,) = requests_received(sandbox)
    assert request["form"] == {"Twiml": transfer_twiml("+15550009999")}
    assert "<Dial>+15550009999</Dial>" in request["form"]["Twiml"]
    assert request["status"] == 200


async def test_hanging_up_an_ended_call_raises_with_twilios_code(sandbox: SandboxProcess) -> None:
    sid = new_call_sid(3)
    async with CallControl(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as control:
        await control.hang_up(sid)
        with pytest.raises(CallControlError, match="refused to hang up") as caught:
            await control.hang_up(sid)
    assert caught.value.status == 404 and caught.value.code == 20404


async def test_wrong_credentials_raise_instead_of_passing_silently(sandbox: SandboxProcess) -> None:
    async with CallControl(ACCOUNT_SID, "wrong", api_base_url=sandbox.url) as control:
        with pytest.raises(CallControlError) as caught:
            await control.transfer(new_call_sid(4), "+15550009999")
    assert caught.value.status == 401 and caught.value.code == 20003


async def test_an_unreachable_api_raises_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    async with CallControl(ACCOUNT_SID, AUTH_TOKEN, api_base_url=f"http://127.0.0.1:{port}") as c:
        with pytest.raises(CallControlError, match="could not reach Twilio"):
            await c.hang_up(new_call_sid(5))


async def test_transfer_without_a_number_is_refused() -> None:
    control = CallControl(ACCOUNT_SID, AUTH_TOKEN, api_base_url="http://127.0.0.1:9")
    with pytest.raises(CallControlError, match="no transfer number"):
        await control.transfer(new_call_sid(6), "")


async def test_settings_point_the_client_at_the_sandbox(
    sandbox: SandboxProcess, api: httpx.Client
) -> None:
    settings = load_settings(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base_url=sandbox.url,
    )
    async with CallControl.from_settings(settings) as control:
        await control.hang_up(new_call_sid(7))
    assert [r["status"] for r in requests_received(sandbox)] == [200]


def test_missing_credentials_are_refused_at_once() -> None:
    with pytest.raises(CallControlError, match="SWITCHBOARD_TWILIO_ACCOUNT_SID"):
        CallControl("", AUTH_TOKEN)
