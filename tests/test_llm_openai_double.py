"""A local OpenAI-compatible chat-completions server for the LLM tests, and its own tests.

`openai_double()` runs `OpenAIDouble` on a free port in the test's event loop and
yields it; point `SWITCHBOARD_LLM_BASE_URL` (or an `AsyncOpenAI`) at `double.base_url`.
It speaks the real protocol: JSON completions with `usage`, and server-sent-event
streams of `chat.completion.chunk`s ending with a usage chunk (when
`stream_options.include_usage`) and `[DONE]`. What it answers is up to the test:

- `extract(line, request) -> dict` fills the structured-output answer (a request with
  `response_format`); unset, every field is null or false;
- `reply(draft, request) -> str` writes the streamed reply; unset, it echoes the draft.

It records every request (`double.requests`) and can be made slow (`delay_s`: a
hang, released when the double stops), broken (`fail_status` for every request,
`fail_next` for the next few, one status each, e.g. `[500, 500]` then answers) or cut
mid-stream (`cut_stream_after` chunks, for the next `cut_streams` streams or all), or
write slowly (`word_delay_s` between the words of a stream, as a model generates; each
stream's end is recorded in `streams_done`, `time.monotonic()`).
Tokens are counted as words, so tests can predict usage exactly.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from openai import AsyncOpenAI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from graph.llm import EXTRACTION_SCHEMA


def words(text: str) -> int:
    return len(text.split())


def user_payload(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON the agents put in their last user message."""
    return json.loads(request["messages"][-1]["content"])


def empty_extraction() -> dict[str, Any]:
    """An answer to the extraction schema that says nothing at all."""
    answer: dict[str, Any] = {}
    for name, spec in EXTRACTION_SCHEMA["properties"].items():
        answer[name] = False if spec.get("type") == "boolean" else None
    return answer


@dataclass
class OpenAIDouble:
    """The behaviour of the fake endpoint; tests change it between turns."""

    base_url: str = ""
    extract: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None
    reply: Callable[[str, dict[str, Any]], str] | None = None
    delay_s: float = 0.0
    fail_status: int | None = None
    fail_next: list[int] = field(default_factory=list)  # statuses for the next requests
    cut_stream_after: int | None = None  # chunks sent before the connection drops
    cut_streams: int | None = None  # how many streams are cut (None: every one)
    word_delay_s: float = 0.0  # between the words of a streamed reply
    streams_done: list[float] = field(default_factory=list)  # monotonic, per stream
    requests: list[dict[str, Any]] = field(default_factory=list)
    usage: list[tuple[str, int]] = field(default_factory=list)  # (model, total tokens) per answer
    # set when the double stops: a request still "hanging" returns, so shutting the
    # server down does not wait out `delay_s`
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def extraction_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if "response_format" in r]

    def reply_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("stream")]

    async def handle(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        if self.delay_s:
            with suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.delay_s)
        status = self.fail_next.pop(0) if self.fail_next else self.fail_status
        if status is not None:
            kind = "server_error" if status >= 500 else "invalid_request_error"
            return JSONResponse({"error": {"message": "unavailable", "type": kind}},
                                status_code=status)
        payload = user_payload(body)
        if "response_format" in body:
            answer = {**empty_extraction(),
                      **(self.extract(payload["caller_said"], body) if self.extract else {})}
            content = json.dumps(answer)
        else:
            draft = payload.get("draft_reply", "")
            content = self.reply(draft, body) if self.reply else draft
        usage = {"prompt_tokens": sum(words(m["content"]) for m in body["messages"]),
                 "completion_tokens": words(content)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        self.usage.append((body["model"], usage["total_tokens"]))
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(self._chunks(body["model"], content, usage, include_usage),
                                     media_type="text/event-stream")
        return JSONResponse({
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": usage,
        })

    async def _chunks(self, model: str, content: str, usage: dict[str, int],
                      include_usage: bool) -> AsyncIterator[str]:
        ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
            return "data: " + json.dumps({"id": ident, "object": "chat.completion.chunk",
                                          "created": created, "model": model,
                                          "choices": choices, **extra}) + "\n\n"

        yield chunk([{"index": 0, "delta": {"role": "assistant", "content": ""},
                      "finish_reason": None}])
        pieces = [piece + " " for piece in content.split(" ")]
        cut_after = self.cut_stream_after if self.cut_streams != 0 else None
        if cut_after is not None and self.cut_streams is not None:
            self.cut_streams -= 1
        for sent, piece in enumerate(pieces):
            if cut_after is not None and sent >= cut_after:
                raise ConnectionResetError("stream cut by the test")
            yield chunk([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
            await asyncio.sleep(self.word_delay_s)
        self.streams_done.append(time.monotonic())
        yield chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if include_usage:
            yield chunk([], usage=usage)
        yield "data: [DONE]\n\n"


@asynccontextmanager
async def openai_double() -> AsyncIterator[OpenAIDouble]:
    """An `OpenAIDouble` serving on a free port of 127.0.0.1 in this event loop."""
    double = OpenAIDouble()
    app = Starlette(routes=[Route("/v1/chat/completions", double.handle, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    double.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    try:
        yield double
    finally:
        double.stopping.set()
        server.should_exit = True
        await task


@pytest.fixture
async def double() -> AsyncIterator[OpenAIDouble]:
    async with openai_double() as running:
        yield running


async def test_the_double_streams_chunks_and_usage_to_the_real_client(
    double: OpenAIDouble,
) -> None:
    double.reply = lambda draft, request: "Sure thing. Does Tuesday work?"
    client = AsyncOpenAI(base_url=double.base_url, api_key="test")
    stream = await client.chat.completions.create(
        model="economy-model", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": json.dumps({"draft_reply": "x"})}],
    )
    text, usage = "", None
    async for chunk in stream:
        for choice in chunk.choices:
            text += choice.delta.content or ""
        usage = chunk.usage or usage
    await client.close()

    assert text.strip() == "Sure thing. Does Tuesday work?"
    assert usage is not None
    assert usage.completion_tokens == 5
    assert usage.total_tokens == usage.prompt_tokens + 5
    assert double.requests[0]["model"] == "economy-model"


async def test_the_double_answers_structured_output_with_the_schema_fields(
    double: OpenAIDouble,
) -> None:
    double.extract = lambda line, request: {"budget_usd": 50000}
    client = AsyncOpenAI(base_url=double.base_url, api_key="test")
    response = await client.chat.completions.create(
        model="premium-model",
        messages=[{"role": "user", "content": json.dumps({"caller_said": "fifty grand"})}],
        response_format={"type": "json_schema", "json_schema": {
            "name": "caller_turn", "strict": True, "schema": EXTRACTION_SCHEMA}},
    )
    await client.close()

    answer = json.loads(response.choices[0].message.content or "")
    assert answer["budget_usd"] == 50000
    assert set(answer) == set(EXTRACTION_SCHEMA["properties"])
    assert response.usage is not None and response.usage.total_tokens > 0
