"""The lead's end of a call the sandbox was asked to place (`POST Calls.json`).

What Twilio does once it has created a call, played against the application:
- `initiated`, then `ringing`; the lead's answer comes from the leads file
  (`lead_book`): `busy` ends it at once, `no-answer` after `ring_s` (Twilio's
  `Timeout`, if shorter); a person (`AnsweredBy=human`) or a machine
  (`AnsweredBy=machine_end_beep`, which plays a greeting) answers;
- an answered call posts the signed voice webhook (`Direction=outbound-api`) to the
  call's `Url`, opens the media stream its TwiML names and plays the scenario there,
  with the simulated caller's own code (`switchboard.caller.audio_caller`);
- every status the call reaches is posted, signed, to `StatusCallback` when
  `StatusCallbackEvent` asks for it (the final one always), and the Call resource
  follows: status, start and end times, duration, `answered_by`.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import httpx

from switchboard.caller.audio_caller import play_audio_call
from switchboard.caller.result import CallFailed
from switchboard.caller.transcript import Transcript
from switchboard.caller.twilio_protocol import CallParties, status_callback_params
from switchboard.caller.webhooks import post_status_callback
from switchboard.twilio_sandbox import clock
from switchboard.twilio_sandbox.calls import SandboxCall
from switchboard.twilio_sandbox.lead_book import Answer, LeadBookError, answer_for

logger = logging.getLogger(__name__)

# Twilio's progress events, and the status each reports.
EVENT_OF_STATUS = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}
# How long a busy line takes to say so.
BUSY_AFTER_S = 0.5
WEBHOOK_TIMEOUT_S = 15.0


class LeadPhone:
    """Plays the calls of one sandbox: each `ring` runs one call to its end."""

    def __init__(self, auth_token: str, *, leads_file: Path | None, ring_s: float) -> None:
        self._auth_token = auth_token
        self._leads_file = leads_file
        self._ring_s = ring_s
        self._tasks: set[asyncio.Task[None]] = set()
        # Calls placed to each number so far: the attempt a leads-file list is read at.
        self._dialled: dict[str, int] = {}

    def ring(self, call: SandboxCall, form: dict[str, str], events: set[str]) -> None:
        """Start playing `call` (created from `form`, its `StatusCallbackEvent`s
        `events`) in the background."""
        self._dialled[call.to] = attempt = self._dialled.get(call.to, 0) + 1
        task = asyncio.create_task(
            self._play(call, form, events, attempt), name=f"call-{call.sid}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _play(
        self, call: SandboxCall, form: dict[str, str], events: set[str], attempt: int
    ) -> None:
        callback = form.get("StatusCallback")
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S) as http:
            report = _Reporter(http, self._auth_token, call, callback, events)
            try:
                await self._progress(call, form, attempt, report)
            except Exception as exc:  # the call fails, as Twilio's does, and says why
                logger.exception(f"call {call.sid} failed")
                call.error = f"{exc.__class__.__name__}: {exc}"
                if not call.ended:
                    await report.end("failed")

    async def _progress(
        self, call: SandboxCall, form: dict[str, str], attempt: int, report: _Reporter
    ) -> None:
        await report.status("initiated")
        await report.status("ringing")
        try:
            answer = answer_for(self._leads_file, call.to, attempt)
        except LeadBookError as exc:
            logger.warning(str(exc))
            answer = Answer("no-answer")
        if answer.behaviour == "busy":
            await asyncio.sleep(BUSY_AFTER_S)
            await report.end("busy")
            return
        if answer.behaviour == "no-answer":
            timeout = float(form.get("Timeout") or 60)
            await asyncio.sleep(min(self._ring_s, timeout))
            await report.end("no-answer")
            return
        assert answer.scenario is not None
        machine = answer.behaviour == "voicemail"
        call.answered_by = "machine_end_beep" if machine else "human"
        call.start_time = clock.now()
        await report.status("in-progress")
        if call.url is None or call.ended:
            await report.end("completed")
            return
        scenario = answer.scenario.model_copy(
            update={"direction": "outbound", "answered_by": call.answered_by}
        )
        parties = CallParties(call.sid, call.account_sid, "outbound", call.from_, call.to)
        said = io.StringIO()
        transcript = Transcript(said)
        ended = "completed"
        try:
            answered = await play_audio_call(
                report.http, scenario, voice_url=call.url, parties=parties,
                auth_token=self._auth_token, transcript=transcript,
            )
            if answered.ended is not None:  # <Reject> or <Hangup/> instead of a stream
                ended = answered.ended.call_status
        except CallFailed as exc:
            call.error = str(exc)
        call.transcript = said.getvalue()
        if not call.ended:
            await report.end(ended)
        else:
            await report.final()


class _Reporter:
    """Moves the Call resource along and posts the status callbacks it asks for."""

    def __init__(
        self, http: httpx.AsyncClient, auth_token: str, call: SandboxCall,
        url: str | None, events: set[str],
    ) -> None:
        self.http = http
        self._auth_token = auth_token
        self._call = call
        self._url = url
        self._events = events
        self._sequence = 0
        self._sent_final = False

    async def status(self, status: str) -> None:
        call = self._call
        if call.ended:
            return
        call.status = status
        call.date_updated = clock.now()
        if EVENT_OF_STATUS.get(status) in self._events:
            await self._post(status)

    async def end(self, status: str) -> None:
        call = self._call
        call.status = status
        call.end_time = call.date_updated = clock.now()
        await self.final()

    async def final(self) -> None:
        """The final callback: Twilio sends it whatever events were asked for."""
        if not self._sent_final:
            self._sent_final = True
            await self._post(self._call.status)

    async def _post(self, status: str) -> None:
        if not self._url:
            return
        call = self._call
        parties = CallParties(call.sid, call.account_sid, "outbound", call.from_, call.to)
        duration = 0.0
        if call.start_time is not None:
            duration = ((call.end_time or clock.now()) - call.start_time).total_seconds()
        params = status_callback_params(parties, status, duration, self._sequence)
        self._sequence += 1
        if call.answered_by:
            params["AnsweredBy"] = call.answered_by
        problem = await post_status_callback(self.http, self._url, self._auth_token, params)
        if problem:
            logger.warning(f"call {call.sid}: {problem}")
