"""OpenAI's speech endpoint (`POST /v1/audio/speech`), on eSpeak NG.

What Pipecat's `OpenAITTSService` (through the openai client) relies on: a JSON body
with `model`, `input`, `voice`, `response_format` and optional `speed`; the audio
streamed back as it is made, `pcm` being raw 16-bit mono at 24 kHz. `wav` is served
too; compressed formats are refused with OpenAI's error body. Every voice name is
spoken with the server's one eSpeak voice.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pipecat.audio.utils import create_stream_resampler
from starlette.responses import JSONResponse, Response, StreamingResponse

from actors.speech.espeak import EspeakError, clean_text, espeak_audio

#: The rate of OpenAI's `pcm` response format.
OPENAI_PCM_RATE = 24_000
MAX_INPUT_CHARACTERS = 4096
FORMATS = {"pcm": "audio/pcm", "wav": "audio/wav"}


class SpeechRequestError(ValueError):
    """A request OpenAI would refuse with 400; the message names the parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def openai_error(status: int, message: str, *, kind: str, param: str | None = None) -> Response:
    """An error in OpenAI's shape: `{"error": {message, type, param, code}}`."""
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": None}},
        status_code=status,
    )


@dataclass(frozen=True)
class SpeechRequest:
    """A valid `POST /v1/audio/speech` body."""

    text: str
    response_format: str
    speed: float

    @classmethod
    def parse(cls, body: Any) -> SpeechRequest:
        if not isinstance(body, dict):
            raise SpeechRequestError("body", "the request body must be a JSON object")
        for name in ("model", "voice", "input"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise SpeechRequestError(name, f"'{name}' is required and must be a string")
        if len(body["input"]) > MAX_INPUT_CHARACTERS:
            raise SpeechRequestError(
                "input", f"'input' is longer than {MAX_INPUT_CHARACTERS} characters"
            )
        response_format = body.get("response_format", "mp3")
        if response_format not in FORMATS:
            raise SpeechRequestError(
                "response_format",
                f"response_format {response_format!r} is not served here; use 'pcm' or 'wav'",
            )
        speed = body.get("speed", 1.0)
        if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            raise SpeechRequestError("speed", "'speed' must be a number from 0.25 to 4.0")
        return cls(text=body["input"], response_format=response_format, speed=float(speed))


def wav_header(sample_rate: int) -> bytes:
    """A streaming WAV header: 16-bit mono, lengths unknown (0xFFFFFFFF), as OpenAI sends."""
    unknown = 0xFFFFFFFF
    return (
        b"RIFF" + struct.pack("<I", unknown) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, 2 * sample_rate, 2, 16)
        + b"data" + struct.pack("<I", unknown)
    )  # fmt: skip


async def speech_pcm(text: str, *, voice: str, words_per_minute: int) -> AsyncIterator[bytes]:
    """`text` spoken by eSpeak NG, streamed as 16-bit PCM at `OPENAI_PCM_RATE`."""
    resampler = create_stream_resampler()
    async with espeak_audio(text, voice=voice, words_per_minute=words_per_minute) as (
        native_rate,
        chunks,
    ):
        carry = b""
        async for chunk in chunks:
            chunk, carry = carry + chunk, b""
            if len(chunk) & 1:  # a read can end inside a sample
                chunk, carry = chunk[:-1], chunk[-1:]
            audio = await resampler.resample(chunk, native_rate, OPENAI_PCM_RATE)
            if audio:
                yield audio


async def speech_response(request: SpeechRequest, *, voice: str, words_per_minute: int) -> Response:
    """The streamed answer to a valid request; a 500 in OpenAI's shape if eSpeak fails."""
    text = clean_text(request.text)
    if not text:
        raise SpeechRequestError("input", "'input' holds nothing to speak")
    stream = speech_pcm(text, voice=voice, words_per_minute=round(words_per_minute * request.speed))
    try:
        # Start speaking before answering, so a failure is an error status, not a cut stream.
        first = await anext(stream)
    except EspeakError as error:
        return openai_error(500, f"speech synthesis failed: {error}", kind="server_error")
    except StopAsyncIteration:
        first = b""

    async def body() -> AsyncIterator[bytes]:
        if request.response_format == "wav":
            yield wav_header(OPENAI_PCM_RATE)
        if first:
            yield first
        async for audio in stream:
            yield audio

    return StreamingResponse(body(), media_type=FORMATS[request.response_format])
