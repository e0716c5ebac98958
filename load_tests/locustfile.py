"""Locust load: text-mode calls through the whole stack (ingress, session actors,
responder, outbox, recorder), each turn reported as a request named by its index.

    SWITCHBOARD_API_TOKEN=... .venv/bin/locust -f load_tests/locustfile.py \
        --host http://127.0.0.1:8000 --headless -u 20 -r 2 -t 2m

Without SWITCHBOARD_API_TOKEN the token is read from `.switchboard/dev-secrets.json`.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from locust import User, between, task
from websockets.sync.client import connect

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


class TextCaller(User):
    """One lead after another, each a whole qualification call."""

    wait_time = between(1, 3)

    def on_start(self) -> None:
        self._url = self.host.replace("http", "ws", 1) + "/v1/text/stream"
        self._headers = {"Authorization": f"Bearer {_api_token()}"}

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
        with connect(self._url, additional_headers=self._headers) as ws:
            ws.send(json.dumps({"event": "start", "callSid": call_sid, "from": "+15550100"}))
            self._until_turn_end(ws)
            for index, line in enumerate(LINES):
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
                if not going_on:
                    break
