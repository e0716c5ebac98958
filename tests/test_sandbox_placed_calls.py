"""The Twilio sandbox places the calls it is asked to create: through the official twilio
client (the dialer's `actors.outbound_calls.OutboundCalls`), a real sandbox process and
an application endpoint of the test's own (an aiohttp server that checks every request's
`X-Twilio-Signature` with twilio's `RequestValidator` and answers the voice webhook
`<Hangup/>`; the media stream is the end-to-end tests' part, `test_e2e_dialer`).

The leads file says who answers: busy, no answer (after `SWITCHBOARD_SANDBOX_RING_S`), a
person (`AnsweredBy=human`) or a machine (`AnsweredBy=machine_end_beep`), by attempt
with the last entry repeating; a number it does not list does not answer. Its numbers
must be quoted, and its scenario paths are relative to it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from actors.outbound_calls import OutboundCalls, voice_url
from switchboard.local_services import server_port
from switchboard.twilio_sandbox.lead_book import LeadBookError, answer_for
from switchboard.twilio_sandbox.process import SandboxProcess

ACCOUNT_SID = "AC" + "c" * 32
AUTH_TOKEN = "sandbox-placing-token"
AGENT = "+15557650000"
BUSY, RETRIED, MACHINE, UNLISTED = "+15550100001", "+15550100002", "+15550100003", "+15550100009"
RING_S = 1.0


@dataclass
class Application:
    """What the sandbox posted to the application, each request's signature checked."""

    port: int
    voice: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    statuses: list[dict[str, str]] = field(default_factory=list)
    forged: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def statuses_of(self, call_sid: str) -> list[str]:
        return [s["CallStatus"] for s in self.statuses if s["CallSid"] == call_sid]

    async def receive(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        url = f"{self.url}{request.path_qs}"
        if not RequestValidator(AUTH_TOKEN).validate(
            url, form, request.headers.get("X-Twilio-Signature", "")
        ):
            self.forged.append(url)
            return web.Response(status=403)
        if request.path == "/twilio/voice":
            self.voice.append((url, form))
            return web.Response(text="<Response><Hangup/></Response>",
                                content_type="application/xml")  # fmt: skip
        self.statuses.append(form)
        return web.Response(status=204)


@pytest.fixture(scope="module")
def leads_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("leads")
    (folder / "scenarios").mkdir()
    (folder / "scenarios" / "hello.yaml").write_text(
        'name: hello\nfrom: "+15550100002"\nto: "+15557650000"\nlines: ["Hello?"]\n'
    )
    path = folder / "leads.yaml"
    path.write_text(
        f'"{BUSY}": busy\n'
        f'"{RETRIED}": [no-answer, scenarios/hello.yaml]\n'
        f'"{MACHINE}": voicemail\n'
    )
    return path


@pytest.fixture(scope="module")
def sandbox(leads_file: Path) -> Iterator[SandboxProcess]:
    with SandboxProcess.start(ACCOUNT_SID, AUTH_TOKEN, leads_file=leads_file,
                              ring_s=RING_S) as process:  # fmt: skip
        yield process


@pytest.fixture
async def application() -> AsyncIterator[Application]:
    app = Application(server_port())
    server = web.Application()
    server.router.add_post("/twilio/voice", app.receive)
    server.router.add_post("/twilio/status", app.receive)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", app.port).start()
    yield app
    await runner.cleanup()


@pytest.fixture
async def calls(sandbox: SandboxProcess) -> AsyncIterator[OutboundCalls]:
    async with OutboundCalls(ACCOUNT_SID, AUTH_TOKEN, api_base_url=sandbox.url) as client:
        yield client


async def place(calls: OutboundCalls, app: Application, to: str, key: str) -> str:
    placed = await calls.place(
        to=to, from_=AGENT, url=voice_url(app.url, key),
        status_callback=f"{app.url}/twilio/status", timeout_s=30,
    )
    assert placed.status == "queued"
    return placed.sid


async def until_final(app: Application, call_sid: str, timeout_s: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout_s
    final = {"completed", "busy", "no-answer", "failed", "canceled"}
    while not final & set(app.statuses_of(call_sid)):
        assert time.monotonic() < deadline, app.statuses_of(call_sid)
        await asyncio.sleep(0.1)
    return app.statuses_of(call_sid)


def fetch(sandbox: SandboxProcess, call_sid: str) -> dict:
    response = httpx.get(f"{sandbox.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{call_sid}.json",
                         auth=(ACCOUNT_SID, AUTH_TOKEN))  # fmt: skip
    return response.json()


async def test_an_answered_call_posts_the_signed_voice_webhook_as_outbound_api_with_answered_by(
    sandbox: SandboxProcess, application: Application, calls: OutboundCalls
) -> None:
    # The second call to this number is answered by a person (the first rang out).
    first = await place(calls, application, RETRIED, "c1-l2-a1")
    began = time.monotonic()
    assert await until_final(application, first) == ["initiated", "ringing", "no-answer"]
    assert time.monotonic() - began >= RING_S * 0.9
    second = await place(calls, application, RETRIED, "c1-l2-a2")
    statuses = await until_final(application, second)

    assert statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert application.forged == []
    [(url, form)] = application.voice
    assert url.endswith("/twilio/voice?attempt=c1-l2-a2")  # the attempt key, as sent
    assert form["Direction"] == "outbound-api" and form["AnsweredBy"] == "human"
    assert (form["CallSid"], form["From"], form["To"]) == (second, AGENT, RETRIED)
    assert form["CallStatus"] == "in-progress"
    resource = fetch(sandbox, second)
    assert resource["status"] == "completed" and resource["answered_by"] == "human"
    assert resource["start_time"] and resource["end_time"]


async def test_busy_and_unlisted_numbers_never_reach_the_voice_webhook(
    sandbox: SandboxProcess, application: Application, calls: OutboundCalls
) -> None:
    busy = await place(calls, application, BUSY, "c1-l1-a1")
    unlisted = await place(calls, application, UNLISTED, "c1-l9-a1")
    assert (await until_final(application, busy))[-1] == "busy"
    assert (await until_final(application, unlisted))[-1] == "no-answer"
    assert application.voice == [] and application.forged == []
    assert fetch(sandbox, busy)["status"] == "busy"
    assert fetch(sandbox, unlisted)["answered_by"] is None


async def test_a_machine_answers_with_answered_by_machine_end_beep(
    sandbox: SandboxProcess, application: Application, calls: OutboundCalls
) -> None:
    call_sid = await place(calls, application, MACHINE, "c1-l3-a1")
    assert (await until_final(application, call_sid))[-1] == "completed"
    [(_, form)] = application.voice
    assert form["AnsweredBy"] == "machine_end_beep"
    ended = [s for s in application.statuses if s["CallStatus"] == "completed"]
    assert ended[0]["AnsweredBy"] == "machine_end_beep"


async def test_calls_are_listed_by_to_and_a_placed_call_is_found_again(
    sandbox: SandboxProcess, application: Application, calls: OutboundCalls
) -> None:
    since = datetime.now(UTC)
    number = "+15550100077"  # unlisted: it rings
    call_sid = await place(calls, application, number, "c2-l1-a1")
    listed = httpx.get(
        f"{sandbox.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Calls.json",
        params={"To": number}, auth=(ACCOUNT_SID, AUTH_TOKEN),
    ).json()
    assert [call["sid"] for call in listed["calls"]] == [call_sid]
    assert listed["page"] == 0 and listed["next_page_uri"] is None

    # What a restarted dialer asks before it dials an attempt it may have placed.
    found = await calls.find(to=number, from_=AGENT, since=since, known=set())
    assert found is not None and found.sid == call_sid
    assert await calls.find(to=number, from_=AGENT, since=since, known={call_sid}) is None
    assert await calls.find(to="+15550100078", from_=AGENT, since=since, known=set()) is None


def test_the_leads_file_is_read_by_attempt_with_the_last_entry_repeating(tmp_path: Path) -> None:
    (tmp_path / "people").mkdir()
    (tmp_path / "people" / "hello.yaml").write_text(
        'name: hello\nfrom: "+15550100002"\nto: "+15557650000"\nlines: ["Hello?"]\n'
    )
    path = tmp_path / "leads.yaml"
    path.write_text('"+15550100002": [busy, no-answer, people/hello.yaml]\n')
    seen = [answer_for(path, "+15550100002", attempt) for attempt in (1, 2, 3, 4)]
    assert [a.behaviour for a in seen] == ["busy", "no-answer", "human", "human"]
    assert seen[3].scenario is not None and seen[3].scenario.name == "hello"  # relative path
    assert answer_for(path, "+15550100003", 1).behaviour == "no-answer"  # not listed
    assert answer_for(None, "+15550100002", 1).behaviour == "no-answer"  # no file at all


def test_a_machine_plays_its_greeting_and_unquoted_numbers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "leads.yaml"
    path.write_text('"+15550100004": voicemail\n')
    machine = answer_for(path, "+15550100004", 1)
    assert machine.behaviour == "voicemail" and machine.scenario is not None
    assert machine.scenario.answered_by == "machine_end_beep"
    # Read again on every call: a change shows at once.
    path.write_text("+15550100004: busy\n")  # unquoted: YAML reads an integer
    with pytest.raises(LeadBookError, match="quote the numbers"):
        answer_for(path, "+15550100004", 1)
