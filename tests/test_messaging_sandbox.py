"""Texts through Twilio's Messages API: the sandbox's Messages resource speaks Twilio's
protocol, `Messaging` (the official twilio client) sends through it, and a call's
follow-up text goes out once however often its turn is replayed (real Redis)."""

from __future__ import annotations

import json
import re
import socket
import time
from datetime import UTC, datetime

import httpx
import pytest
import redis.asyncio as aioredis

from actors.follow_up import FollowUpSender, follow_up_key
from actors.messaging import Messaging, MessagingError, can_receive_texts
from switchboard.settings import load_settings
from switchboard.twilio_sandbox.process import SandboxProcess
from tests.sandbox_fixtures import ACCOUNT_SID, AUTH_TOKEN, requests_received

MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages"
OURS = "+15557650000"
LINK = "https://acme.example/details"



_numbers = iter(range(10**6))


def new_number() -> str:
    """A lead's number no other test of the module has texted."""
    return f"+1555{next(_numbers):07d}"


def sent_to(api: httpx.Client, number: str) -> list[dict]:
    response = api.get(f"{MESSAGES}.json", params={"To": number})
    assert response.status_code == 200
    return response.json()["messages"]


# --- the sandbox speaks Twilio's Messages protocol ----------------------------------------


def test_a_text_is_accepted_queued_with_a_message_sid(api: httpx.Client) -> None:
    to = new_number()
    response = api.post(f"{MESSAGES}.json", data={"To": to, "From": OURS, "Body": "Hi there"})
    assert response.status_code == 201
    message = response.json()
    assert re.fullmatch(r"SM[0-9a-f]{32}", message["sid"])
    assert message["status"] == "queued" and message["direction"] == "outbound-api"
    assert (message["to"], message["from"], message["body"]) == (to, OURS, "Hi there")
    assert message["account_sid"] == ACCOUNT_SID and message["api_version"] == "2010-04-01"
    assert message["date_created"].endswith("+0000") and message["num_segments"] == "1"
    assert message["uri"] == f"{MESSAGES}/{message['sid']}.json"
    assert message["error_code"] is None and message["price_unit"] == "USD"


def test_a_text_to_something_that_is_not_a_phone_number_is_refused_with_21211(
    api: httpx.Client,
) -> None:
    response = api.post(f"{MESSAGES}.json", data={"To": "5551230001", "From": OURS, "Body": "x"})
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == 21211 and error["status"] == 400
    assert error["more_info"] == "https://www.twilio.com/docs/errors/21211"
    assert "To" in error["message"]


@pytest.mark.parametrize(("form", "code"), [
    ({"From": OURS, "Body": "x"}, 21604),  # no To
    ({"To": "+15551230001", "Body": "x"}, 21603),  # no From nor Messaging Service
    ({"To": "+15551230001", "From": OURS}, 21602),  # no Body
    ({"To": "+15551230001", "From": "ours", "Body": "x"}, 21212),
    ({"To": "+15551230001", "From": OURS, "Body": "x" * 1601}, 21617),
])
def test_an_incomplete_text_is_refused_with_twilios_code(
    api: httpx.Client, form: dict[str, str], code: int,
) -> None:
    response = api.post(f"{MESSAGES}.json", data=form)
    assert response.status_code == 400 and response.json()["code"] == code


def test_a_text_may_be_sent_from_a_messaging_service(api: httpx.Client) -> None:
    service = "MG" + "a" * 32
    response = api.post(f"{MESSAGES}.json",
                        data={"To": new_number(), "MessagingServiceSid": service, "Body": "x"})
    assert response.status_code == 201
    assert response.json()["messaging_service_sid"] == service


def test_a_text_can_be_read_back_by_its_sid(api: httpx.Client) -> None:
    sid = api.post(f"{MESSAGES}.json",
                   data={"To": new_number(), "From": OURS, "Body": "read me"}).json()["sid"]
    response = api.get(f"{MESSAGES}/{sid}.json")
    assert response.status_code == 200 and response.json()["body"] == "read me"
    missing = api.get(f"{MESSAGES}/SM{'0' * 32}.json")
    assert missing.status_code == 404 and missing.json()["code"] == 20404


def test_the_list_is_filtered_by_to_and_from_newest_first_with_twilios_paging_keys(
    api: httpx.Client,
) -> None:
    to = new_number()
    for body in ("first", "second"):
        api.post(f"{MESSAGES}.json", data={"To": to, "From": OURS, "Body": body})
    api.post(f"{MESSAGES}.json", data={"To": new_number(), "From": OURS, "Body": "other"})
    page = api.get(f"{MESSAGES}.json", params={"To": to, "From": OURS}).json()
    assert [m["body"] for m in page["messages"]] == ["second", "first"]
    assert {"first_page_uri", "next_page_uri", "page", "page_size", "uri", "start",
            "end", "previous_page_uri"} <= set(page)
    assert page["next_page_uri"] is None and page["page"] == 0
    assert api.get(f"{MESSAGES}.json", params={"To": to, "From": "+15550000000"}).json()[
        "messages"] == []


def test_the_list_pages_as_twilio_does(api: httpx.Client) -> None:
    to = new_number()
    for n in range(3):
        api.post(f"{MESSAGES}.json", data={"To": to, "From": OURS, "Body": f"n{n}"})
    first = api.get(f"{MESSAGES}.json", params={"To": to, "PageSize": 2}).json()
    assert len(first["messages"]) == 2 and first["next_page_uri"]
    second = api.get(first["next_page_uri"]).json()
    assert [m["body"] for m in second["messages"]] == ["n0"] and second["next_page_uri"] is None


def test_the_list_is_filtered_by_the_day_or_moment_sent(api: httpx.Client) -> None:
    to = new_number()
    api.post(f"{MESSAGES}.json", data={"To": to, "From": OURS, "Body": "now"})
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(api.get(f"{MESSAGES}.json", params={"To": to, "DateSent": today}).json()[
        "messages"]) == 1
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert api.get(f"{MESSAGES}.json", params={"To": to, "DateSent>": later}).json()[
        "messages"] == []


def test_messages_need_the_accounts_credentials(sandbox: SandboxProcess) -> None:
    response = httpx.post(f"{sandbox.url}{MESSAGES}.json", auth=(ACCOUNT_SID, "wrong"),
                          data={"To": new_number(), "From": OURS, "Body": "x"})
    assert response.status_code == 401 and response.json()["code"] == 20003


def test_the_sandbox_logs_what_it_was_asked_to_send(
    api: httpx.Client, sandbox: SandboxProcess,
) -> None:
    to = new_number()
    api.post(f"{MESSAGES}.json", data={"To": to, "From": OURS, "Body": "logged"})
    (logged,) = requests_received(sandbox)
    assert logged["method"] == "POST" and logged["path"] == f"{MESSAGES}.json"
    assert logged["form"] == {"To": to, "From": OURS, "Body": "logged"}
    assert logged["status"] == 201


# --- the twilio client sends through it -----------------------------------------------------


async def test_messaging_sends_a_text_with_the_official_client(
    sandbox: SandboxProcess, api: httpx.Client,
) -> None:
    to = new_number()
    async with Messaging(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as messaging:
        sent = await messaging.send(to, f"Details: {LINK}", sender=OURS)
    assert sent.sid.startswith("SM") and sent.status == "queued"
    (message,) = sent_to(api, to)
    assert message["sid"] == sent.sid and message["body"] == f"Details: {LINK}"
    assert message["from"] == OURS


async def test_a_refused_text_raises_with_twilios_code(sandbox: SandboxProcess) -> None:
    async with Messaging(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as messaging:
        with pytest.raises(MessagingError, match="refused to text") as caught:
            await messaging.send("not-a-number", "x", sender=OURS)
    assert caught.value.status == 400 and caught.value.code == 21211


async def test_an_unreachable_api_raises_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    async with Messaging(ACCOUNT_SID, AUTH_TOKEN,
                         api_base_url=f"http://127.0.0.1:{port}") as messaging:
        with pytest.raises(MessagingError, match="could not reach Twilio"):
            await messaging.send(new_number(), "x", sender=OURS)


async def test_find_sees_a_text_already_sent_to_the_number(sandbox: SandboxProcess) -> None:
    to = new_number()
    async with Messaging(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as messaging:
        since = datetime.now(UTC)
        assert await messaging.find(to, "hello", sender=OURS, since=since) is None
        sent = await messaging.send(to, "hello", sender=OURS)
        found = await messaging.find(to, "hello", sender=OURS, since=since)
        assert found is not None and found.sid == sent.sid
        assert await messaging.find(to, "something else", sender=OURS, since=since) is None


def test_the_settings_point_messaging_at_the_sandbox(sandbox: SandboxProcess) -> None:
    settings = load_settings(twilio_account_sid=ACCOUNT_SID, twilio_auth_token=AUTH_TOKEN,
                             twilio_api_base_url=sandbox.url)
    messaging = Messaging.from_settings(settings)
    assert messaging._api_base_url == sandbox.url  # the same settings as call control


def test_without_an_account_messaging_refuses_to_start() -> None:
    with pytest.raises(MessagingError, match="SWITCHBOARD_TWILIO_ACCOUNT_SID"):
        Messaging("", AUTH_TOKEN)


@pytest.mark.parametrize(("number", "textable"), [
    ("+15551230001", True), ("+44 20 7946 0958", True), ("5551230001", True),
    ("", False), ("anonymous", False), ("Restricted", False), ("+266696687", False),
    ("client:alice", False), ("sip:alice@example.com", False),
])
def test_a_withheld_number_or_an_address_cannot_be_texted(number: str, textable: bool) -> None:
    assert can_receive_texts(number) is textable


# --- once per call --------------------------------------------------------------------------


async def send_link(sender: FollowUpSender, messaging: Messaging, call_sid: str, to: str):
    return await sender.send_link(messaging, call_sid, to=to, sender=OURS,
                                  body=f"Details: {LINK}", link=LINK, generation=1)


async def test_a_follow_up_asked_for_twice_is_texted_once(
    sandbox: SandboxProcess, api: httpx.Client, redis_client: aioredis.Redis, redis_prefix: str,
) -> None:
    sender = FollowUpSender(redis_client, redis_prefix, ttl_s=60)
    to, call_sid = new_number(), "CA" + "1" * 32
    async with Messaging(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as messaging:
        first = await send_link(sender, messaging, call_sid, to)
        again = await send_link(sender, messaging, call_sid, to)  # the turn replayed
    assert first.status == "sent" and first.message_sid and first.link == LINK
    assert again.message_sid == first.message_sid
    assert len(sent_to(api, to)) == 1


async def test_a_send_whose_sender_died_is_not_repeated_when_twilio_has_it(
    sandbox: SandboxProcess, api: httpx.Client, redis_client: aioredis.Redis, redis_prefix: str,
) -> None:
    sender = FollowUpSender(redis_client, redis_prefix, ttl_s=60)
    to, call_sid = new_number(), "CA" + "2" * 32
    async with Messaging(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as messaging:
        # an earlier actor claimed it, reached Twilio, and died before saying so
        sent = await messaging.send(to, f"Details: {LINK}", sender=OURS)
        await redis_client.set(follow_up_key(redis_prefix, call_sid), json.dumps(
            {"state": "sending", "claimed_at": time.time(), "generation": 1}))
        record = await send_link(sender, messaging, call_sid, to)
    assert record.status == "sent" and record.message_sid == sent.sid
    assert len(sent_to(api, to)) == 1


async def test_a_send_whose_sender_died_before_twilio_is_sent_now(
    sandbox: SandboxProcess, api: httpx.Client, redis_client: aioredis.Redis, redis_prefix: str,
) -> None:
    sender = FollowUpSender(redis_client, redis_prefix, ttl_s=60)
    to, call_sid = new_number(), "CA" + "3" * 32
    await redis_client.set(follow_up_key(redis_prefix, call_sid), json.dumps(
        {"state": "sending", "claimed_at": time.time(), "generation": 1}))
    async with Messaging(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as messaging:
        record = await send_link(sender, messaging, call_sid, to)
    assert record.status == "sent"
    assert [m["sid"] for m in sent_to(api, to)] == [record.message_sid]


async def test_a_refused_follow_up_is_recorded_failed_with_twilios_code(
    sandbox: SandboxProcess, redis_client: aioredis.Redis, redis_prefix: str,
) -> None:
    sender = FollowUpSender(redis_client, redis_prefix, ttl_s=60)
    async with Messaging(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as messaging:
        record = await send_link(sender, messaging, "CA" + "4" * 32, "5551230001")
        again = await send_link(sender, messaging, "CA" + "4" * 32, "5551230001")
    assert record.status == "failed" and "21211" in (record.error or "")
    assert record.message_sid is None and again.status == "failed"
