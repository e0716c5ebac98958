"""The Twilio sandbox answers as Twilio's REST API does, in its own process, and keeps a
list of what it received."""

from __future__ import annotations

import re

import httpx
import pytest

from switchboard.twilio_sandbox.process import SandboxProcess
from tests.sandbox_fixtures import ACCOUNT_SID, AUTH_TOKEN, requests_received

CALL_SID = "CA" + "c" * 32
CALLS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls"



def test_port_zero_picks_a_free_port_and_reports_it(sandbox: SandboxProcess) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sandbox.url)
    assert not sandbox.url.endswith(":0")
    assert httpx.get(sandbox.requests_url).status_code == 200


def test_hang_up_answers_the_completed_call_resource(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    sid = "CA" + "1" * 32
    response = api.post(f"{CALLS}/{sid}.json", data={"Status": "completed"})
    assert response.status_code == 200
    call = response.json()
    assert call["sid"] == sid and call["account_sid"] == ACCOUNT_SID
    assert call["status"] == "completed" and call["api_version"] == "2010-04-01"
    assert call["uri"] == f"{CALLS}/{sid}.json"
    assert call["end_time"] and call["date_updated"].endswith("+0000")
    (logged,) = requests_received(sandbox)
    assert logged["method"] == "POST" and logged["path"] == f"{CALLS}/{sid}.json"
    assert logged["form"] == {"Status": "completed"} and logged["status"] == 200


def test_an_ended_call_cannot_be_hung_up_or_redirected_again(api: httpx.Client) -> None:
    sid = "CA" + "2" * 32
    api.post(f"{CALLS}/{sid}.json", data={"Status": "completed"}).raise_for_status()
    again = api.post(f"{CALLS}/{sid}.json", data={"Status": "completed"})
    assert again.status_code == 404 and again.json()["code"] == 20404
    redirect = api.post(f"{CALLS}/{sid}.json", data={"Twiml": "<Response><Hangup/></Response>"})
    assert redirect.status_code == 400 and redirect.json()["code"] == 21220
    # The finished call is still there to read, as in Twilio's call log.
    assert api.get(f"{CALLS}/{sid}.json").json()["status"] == "completed"


def test_transfer_keeps_the_call_in_progress_and_records_the_dial(
    api: httpx.Client, sandbox: SandboxProcess
) -> None:
    twiml = "<Response><Dial>+15550009999</Dial></Response>"
    response = api.post(f"{CALLS}/{CALL_SID}.json", data={"Twiml": twiml})
    assert response.status_code == 200 and response.json()["status"] == "in-progress"
    assert requests_received(sandbox)[0]["form"] == {"Twiml": twiml}


def test_invalid_twiml_is_a_document_parse_failure(api: httpx.Client) -> None:
    response = api.post(f"{CALLS}/{CALL_SID}.json", data={"Twiml": "<Dial>oops"})
    assert response.status_code == 400 and response.json()["code"] == 12100


def test_bad_credentials_get_twilios_401_and_are_logged(sandbox: SandboxProcess) -> None:
    httpx.delete(sandbox.requests_url)
    url = f"{sandbox.url}{CALLS}/{CALL_SID}.json"
    for auth in ((ACCOUNT_SID, "wrong"), ("AC" + "0" * 32, AUTH_TOKEN), None):
        response = httpx.post(url, data={"Status": "completed"}, auth=auth)
        assert response.status_code == 401
        assert response.json() == {
            "code": 20003, "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401,
        }  # fmt: skip
        assert response.headers["www-authenticate"].startswith("Basic")
    assert [r["status"] for r in requests_received(sandbox)] == [401, 401, 401]


def test_unknown_calls_and_paths_are_twilio_404s(api: httpx.Client) -> None:
    for response in (
        api.get(f"{CALLS}/{'CA' + 'd' * 32}.json"),
        api.post(f"{CALLS}/not-a-sid.json", data={"Status": "completed"}),
        api.get("/2010-04-01/Nowhere.json"),
    ):
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == 20404 and body["status"] == 404 and "more_info" in body


def test_creating_a_call_answers_201_with_a_queued_outbound_call(api: httpx.Client) -> None:
    response = api.post(
        f"{CALLS}.json",
        data={"To": "+15551230001", "From": "+15557650000", "Url": "https://example.com/voice"},
    )
    assert response.status_code == 201
    call = response.json()
    assert re.fullmatch(r"CA[0-9a-f]{32}", call["sid"])
    assert call["status"] == "queued" and call["direction"] == "outbound-api"
    assert (call["to"], call["from"]) == ("+15551230001", "+15557650000")
    assert api.get(f"{CALLS}/{call['sid']}.json").json()["sid"] == call["sid"]


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": "+15557650000", "Url": "https://example.com/v"}, 21201),
        ({"To": "+15551230001", "Url": "https://example.com/v"}, 21213),
        ({"To": "+15551230001", "From": "+15557650000"}, 21200),
    ],
)
def test_creating_a_call_without_what_twilio_requires_is_refused(
    api: httpx.Client, form: dict[str, str], code: int
) -> None:
    response = api.post(f"{CALLS}.json", data=form)
    assert response.status_code == 400 and response.json()["code"] == code
