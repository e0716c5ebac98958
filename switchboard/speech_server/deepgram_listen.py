"""Deepgram's live transcription protocol (`/v1/listen` over WebSocket), on PocketSphinx.

What Pipecat's `DeepgramSTTService` (through the deepgram SDK) relies on, as Deepgram
documents it: query parameters for the audio (`encoding=linear16`, `sample_rate`,
`channels=1`); binary messages of audio; the text messages `KeepAlive`, `Finalize`
and `CloseStream`; `Results` messages with `is_final`, `speech_final` and
`from_finalize`; a `Metadata` message when the stream closes. A request the server
cannot serve (another encoding, several channels, a bad key) is refused at the
handshake with Deepgram's HTTP status and a JSON reason, as Deepgram does.

Recognition is per utterance, as PocketSphinx works best: audio is kept from the
first loud frame (with a little before it) until `Finalize` (Pipecat sends one when
its VAD hears the caller stop) or until an utterance grows past
`MAX_UTTERANCE_S`. No interim results are sent. Confidences are PocketSphinx's: the
alternative's is the mean of its words' lattice posteriors, and each word carries its
own posterior and times (seconds in the stream), as Deepgram's `words` do; silence
reports 0.0 and no words.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from actors.speech.pocketsphinx_stt import PocketSphinxDecoder, Recognition
from switchboard.speech_server.stats import EngineStats

#: Audio kept from before the first loud frame, so a soft first syllable is not cut.
PRE_ROLL_S = 0.3
#: A frame whose peak reaches this (about -32 dBFS) starts an utterance.
SPEECH_PEAK = 800
#: An utterance this long is recognised without waiting for `Finalize`.
MAX_UTTERANCE_S = 30.0
MODEL_INFO = {"name": "pocketsphinx-en-us", "version": "5", "arch": "pocketsphinx"}


class ListenRefused(Exception):
    """A listen request refused at the handshake: HTTP status and Deepgram's reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"err_code": "Bad Request" if self.status == 400 else "INVALID_AUTH",
             "err_msg": str(self), "request_id": str(uuid.uuid4())},
            status_code=self.status,
        )  # fmt: skip


@dataclass(frozen=True)
class ListenOptions:
    """The audio a listen request says it will send."""

    sample_rate: int

    @classmethod
    def from_query(cls, query: Any) -> ListenOptions:
        encoding = query.get("encoding", "linear16")
        if encoding != "linear16":
            raise ListenRefused(400, f"encoding {encoding!r} is not supported here; use linear16")
        if query.get("channels", "1") != "1" or query.get("multichannel", "false") == "true":
            raise ListenRefused(400, "only one channel is supported here")
        try:
            sample_rate = int(query.get("sample_rate", ""))
        except ValueError:
            raise ListenRefused(400, "sample_rate is required for linear16 audio") from None
        if not 8000 <= sample_rate <= 48000:
            raise ListenRefused(400, f"sample_rate {sample_rate} is outside 8000-48000")
        return cls(sample_rate=sample_rate)


class Utterance:
    """The audio of the utterance being heard, and where it starts in the stream."""

    def __init__(self, sample_rate: int) -> None:
        self._bytes_per_second = 2 * sample_rate
        self._audio = bytearray()
        self._heard_speech = False
        self._stream_bytes = 0

    @property
    def heard_speech(self) -> bool:
        return self._heard_speech

    @property
    def seconds(self) -> float:
        return len(self._audio) / self._bytes_per_second

    @property
    def start_s(self) -> float:
        return (self._stream_bytes - len(self._audio)) / self._bytes_per_second

    def add(self, audio: bytes) -> None:
        audio = audio[: len(audio) & ~1]
        self._stream_bytes += len(audio)
        self._audio += audio
        if not self._heard_speech:
            # Per 20 ms frame: compare extremes, no widened copy of the samples.
            samples = np.frombuffer(audio, dtype=np.int16)
            if len(samples) and (samples.max() >= SPEECH_PEAK or samples.min() <= -SPEECH_PEAK):
                self._heard_speech = True
            else:
                # Quiet so far: keep only the pre-roll, so silence costs no memory or CPU.
                keep = int(PRE_ROLL_S * self._bytes_per_second) & ~1
                del self._audio[: max(0, len(self._audio) - keep)]

    def take(self) -> tuple[bytes, float, float]:
        """The utterance's audio, its start and its length in seconds; starts a new one."""
        audio, start, seconds = bytes(self._audio), self.start_s, self.seconds
        self._audio.clear()
        self._heard_speech = False
        return audio, start, seconds


class DecoderPool:
    """Idle PocketSphinx decoders, lent to one recognition at a time (a decoder is not
    thread safe), with the threads they run on."""

    def __init__(self, make_decoder: Callable[[], PocketSphinxDecoder], threads: int) -> None:
        self._make_decoder = make_decoder
        self._idle: list[PocketSphinxDecoder] = []
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="decode")

    async def recognise(self, audio: bytes, sample_rate: int) -> Recognition:
        """Decode `audio`; cancelled before it starts (its stream closed), it never runs."""
        loop = asyncio.get_running_loop()
        decoder = self._idle.pop() if self._idle else None
        if decoder is None:
            decoder = await loop.run_in_executor(self._executor, self._make_decoder)
        job = self._executor.submit(decoder.decode, audio, sample_rate)

        def give_back(_: object) -> None:
            # Once the job ran or was dropped, never while it runs: a decoder is not
            # thread safe.
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                loop.call_soon_threadsafe(self._idle.append, decoder)

        job.add_done_callback(give_back)
        return await asyncio.wrap_future(job)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def results_message(
    recognition: Recognition | None,
    *,
    start: float,
    duration: float,
    from_finalize: bool,
    request_id: str,
) -> dict[str, Any]:
    """A final `Results` message, as Deepgram sends it."""
    transcript = recognition.text if recognition is not None else ""
    words = [
        {"word": heard.word, "punctuated_word": heard.word,
         "confidence": round(heard.confidence, 4),
         "start": round(start + heard.start_s, 3), "end": round(start + heard.end_s, 3)}
        for heard in (recognition.words if recognition is not None else ())
    ]
    confidence = round(recognition.confidence, 4) if recognition is not None and transcript else 0.0
    return {
        "type": "Results",
        "channel_index": [0, 1],
        "duration": round(duration, 3),
        "start": round(start, 3),
        "is_final": True,
        "speech_final": True,
        "from_finalize": from_finalize,
        "channel": {
            "alternatives": [
                {"transcript": transcript, "confidence": confidence, "words": words}
            ]
        },
        "metadata": {"request_id": request_id, "model_info": MODEL_INFO,
                     "model_uuid": "00000000-0000-0000-0000-000000000000"},
    }  # fmt: skip


class ListenSession:
    """One `/v1/listen` stream: audio in, a `Results` message per utterance out."""

    def __init__(
        self, websocket: WebSocket, options: ListenOptions, decoders: DecoderPool,
        stats: EngineStats,
    ) -> None:  # fmt: skip
        self._websocket = websocket
        self._options = options
        self._decoders = decoders
        self._stats = stats
        self._utterance = Utterance(options.sample_rate)
        self._request_id = str(uuid.uuid4())
        self._opened = time.time()
        self._recognitions: list[asyncio.Task[None]] = []

    async def run(self) -> None:
        self._stats.listen_sessions += 1
        self._stats.listen_sessions_open += 1
        try:
            await self._receive()
        finally:
            self._stats.listen_sessions_open -= 1
            # Recognitions nobody will read: a stream that closed drops its queued work,
            # so a burst of dead streams cannot starve the live ones.
            for task in self._recognitions:
                task.cancel()

    async def _receive(self) -> None:
        websocket = self._websocket
        while True:
            try:
                message = await websocket.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                self._utterance.add(message["bytes"])
                if self._utterance.seconds >= MAX_UTTERANCE_S:
                    self._recognise(from_finalize=False)
                continue
            control = _control_type(message.get("text") or "")
            if control == "Finalize":
                self._recognise(from_finalize=True)
            elif control == "CloseStream":
                if self._utterance.heard_speech:
                    self._recognise(from_finalize=False)
                if self._recognitions:
                    await asyncio.gather(*self._recognitions, return_exceptions=True)
                # Pipecat's client closes its end right after CloseStream, without
                # waiting for the metadata: that is a normal end, not an error.
                with contextlib.suppress(WebSocketDisconnect):
                    await websocket.send_json(self._metadata())
                    await websocket.close()
                return
            elif control != "KeepAlive":
                # Deepgram closes on a message it cannot read, saying why.
                await websocket.close(code=1008, reason=f"unknown message {control!r}"[:120])
                return

    def _recognise(self, *, from_finalize: bool) -> None:
        """Recognise the utterance heard so far while audio keeps coming; results go out
        in the order their utterances ended."""
        heard = self._utterance.heard_speech
        audio, start, duration = self._utterance.take()
        previous = self._recognitions[-1] if self._recognitions else None
        task = asyncio.create_task(
            self._send_result(previous, audio if heard else None, start, duration, from_finalize)
        )
        self._recognitions.append(task)
        task.add_done_callback(self._recognitions.remove)

    async def _send_result(
        self, previous: asyncio.Task[None] | None, audio: bytes | None, start: float,
        duration: float, from_finalize: bool,
    ) -> None:  # fmt: skip
        recognition = None
        if audio is not None:
            recognition = await self._decoders.recognise(audio, self._options.sample_rate)
            self._stats.transcripts += 1
            self._stats.audio_seconds += recognition.audio_seconds
            self._stats.decode_seconds += recognition.decode_seconds
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        await self._websocket.send_json(
            results_message(recognition, start=start, duration=duration,
                            from_finalize=from_finalize, request_id=self._request_id)
        )  # fmt: skip

    def _metadata(self) -> dict[str, Any]:
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self._request_id,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self._opened)),
            "duration": round(time.time() - self._opened, 3),
            "channels": 1,
        }


def _control_type(text: str) -> str:
    try:
        message = json.loads(text)
    except ValueError:
        return "(not JSON)"
    return str(message.get("type")) if isinstance(message, dict) else "(not an object)"
