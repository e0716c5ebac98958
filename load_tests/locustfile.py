"""Locust load: text-mode calls through the whole stack (ingress, session actors,
responder, outbox, recorder), each turn reported as a request named by its index.

    SWITCHBOARD_API_TOKEN=... .venv/bin/locust -f load_tests/locustfile.py \
        --host http://127.0.0.1:8000 --headless -u 20 -r 2 -t 2m

Without SWITCHBOARD_API_TOKEN the token is read from `.switchboard/dev-secrets.json`.

Each whole call is also reported, as request type `call`: it fails when the call could
not be placed, a turn failed, or the socket closed before the caller was done (the
caller hangs up after its last line if the agent has not ended the call). With
SWITCHBOARD_LOCUST_CALLS_FILE set, every call is logged there as JSON lines (`placed`
when its `start` is sent, `ended` with its result), so a run can be matched against the
call records (`load_tests/bench_autoscale.py` does). SWITCHBOARD_LOCUST_THINK_S (default
0) is how long a caller takes before each line: longer calls at the same call rate, as
people on the phone make them.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from locust import User, between, task
from websockets.sync.client import ClientConnection, connect

LINES = [
    "Hi, this is Casey.",
    "Sure, go ahead.",
    "We lose callers when the office is closed.",
    "Around forty thousand dollars a year.",
    "I decide, I run the company.",
    "In about two months.",
    "1",
    "That's all, thanks.",
]


def _api_token() -> str:
    token = os.environ.get("SWITCHBOARD_API_TOKEN")
    if token:
        return token
    return json.loads(Path(".switchboard/dev-secrets.json").read_text())["api_token"]


class CallLog:
    """Appends one JSON line per call event to SWITCHBOARD_LOCUST_CALLS_FILE, if set.

    Users are greenlets of one process, so plain appends never interleave."""

    def __init__(self) -> None:
        path = os.environ.get("SWITCHBOARD_LOCUST_CALLS_FILE")
        self._file = open(path, "a", buffering=1) if path else None  # noqa: SIM115

    def write(self, event: str, call_sid: str, **fields: Any) -> None:
        if self._file is not None:
            line = {"event": event, "call_sid": call_sid, "at": time.time(), **fields}
            self._file.write(json.dumps(line) + "\n")


CALL_LOG = CallLog()


class TextCaller(User):
    """One lead after another, each a whole qualification call."""

    wait_time = between(1, 3)

    def on_start(self) -> None:
        self._url = self.host.replace("http", "ws", 1) + "/v1/text/stream"
        self._headers = {"Authorization": f"Bearer {_api_token()}"}
        self._think_s = float(os.environ.get("SWITCHBOARD_LOCUST_THINK_S", "0"))

    def _until_turn_end(self, ws) -> bool:
        while True:
            event = json.loads(ws.recv(timeout=30))
            if event["event"] == "turn_end":
                return True
            if event["event"] == "hangup":
                return False

    @task
    def call(self) -> None:
        call_sid = "CA" + secrets.token_hex(16)
        started = time.perf_counter()
        exception: Exception | None = None
        try:
            with connect(self._url, additional_headers=self._headers) as ws:
                CALL_LOG.write("placed", call_sid)
                ws.send(json.dumps({"event": "start", "callSid": call_sid, "from": "+15550100"}))
                self._until_turn_end(ws)
                exception = self._turns(ws)
        except Exception as exc:  # reported to locust, the next call goes on
            exception = exc
        except BaseException as exc:  # locust stopped this user mid-call
            CALL_LOG.write("ended", call_sid, ok=False, error=repr(exc))
            raise
        error = None if exception is None else repr(exception)
        CALL_LOG.write("ended", call_sid, ok=exception is None, error=error)
        self.environment.events.request.fire(
            request_type="call",
            name="call",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exception,
        )

    def _turns(self, ws: ClientConnection) -> Exception | None:
        """Says the lines; None when the call went through, else what went wrong."""
        for index, line in enumerate(LINES):
            time.sleep(self._think_s)  # gevent-patched: other users run meanwhile
            started = time.perf_counter()
            event = {"event": "dtmf", "digit": line} if line.isdigit() else {
                "event": "text", "text": line}  # fmt: skip
            ws.send(json.dumps(event))
            exception = None
            try:
                going_on = self._until_turn_end(ws)
            except Exception as exc:  # reported to locust, the next call goes on
                exception, going_on = exc, False
            self.environment.events.request.fire(
                request_type="turn",
                name=f"turn {index + 1}",
                response_time=(time.perf_counter() - started) * 1000,
                response_length=0,
                exception=exception,
            )
            if exception is not None:
                return exception
            if not going_on:
                break
        return None
