"""The speech servers' Starlette application: Deepgram's listen stream, OpenAI's speech
endpoint and `GET /stats`, all behind one API key."""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from actors.speech.language_model import LanguageModel
from actors.speech.pocketsphinx_stt import PocketSphinxDecoder
from switchboard.speech_server.deepgram_listen import (
    DecoderPool,
    ListenOptions,
    ListenRefused,
    ListenSession,
)
from switchboard.speech_server.openai_speech import (
    SpeechRequest,
    SpeechRequestError,
    openai_error,
    speech_response,
)
from switchboard.speech_server.stats import EngineStats


def presented_key(headers: Mapping[str, str]) -> str:
    """The key in `Authorization: Token KEY` (Deepgram) or `Bearer KEY` (OpenAI)."""
    scheme, _, key = headers.get("authorization", "").partition(" ")
    return key.strip() if scheme.lower() in ("token", "bearer") else ""


def create_app(
    api_key: str,
    model: LanguageModel,
    *,
    voice: str = "en-us",
    words_per_minute: int = 175,
    decoder_threads: int | None = None,
) -> Starlette:
    """The application; `model` is the PocketSphinx language model to decode with."""
    stats = EngineStats()
    decoders = DecoderPool(
        lambda: PocketSphinxDecoder(model), threads=decoder_threads or os.cpu_count() or 1
    )

    def authorized(headers: Mapping[str, str]) -> bool:
        return hmac.compare_digest(presented_key(headers).encode(), api_key.encode())

    async def listen(websocket: WebSocket) -> None:
        try:
            if not authorized(websocket.headers):
                raise ListenRefused(401, "invalid credentials: send 'Authorization: Token KEY'")
            options = ListenOptions.from_query(websocket.query_params)
        except ListenRefused as refused:
            stats.refused += 1
            await websocket.send_denial_response(refused.response())
            return
        await websocket.accept()
        await ListenSession(websocket, options, decoders, stats).run()

    async def speech(request: Request) -> Response:
        if not authorized(request.headers):
            stats.refused += 1
            return openai_error(401, "Incorrect API key provided.", kind="invalid_request_error")
        try:
            parsed = SpeechRequest.parse(await request.json())
            stats.speech_requests += 1
            stats.speech_characters += len(parsed.text)
            return await speech_response(parsed, voice=voice, words_per_minute=words_per_minute)
        except ValueError as error:  # a body that is not JSON, or SpeechRequestError
            stats.refused += 1
            param = error.param if isinstance(error, SpeechRequestError) else None
            return openai_error(400, str(error), kind="invalid_request_error", param=param)

    async def stats_view(request: Request) -> Response:
        if not authorized(request.headers):
            return JSONResponse({"error": "invalid credentials"}, status_code=401)
        return JSONResponse(stats.as_dict())

    return Starlette(
        routes=[
            WebSocketRoute("/v1/listen", listen),
            Route("/v1/audio/speech", speech, methods=["POST"]),
            Route("/stats", stats_view),
        ],
        lifespan=lambda app: _closing(decoders),
    )


@asynccontextmanager
async def _closing(decoders: DecoderPool) -> AsyncIterator[None]:
    try:
        yield
    finally:
        decoders.close()
