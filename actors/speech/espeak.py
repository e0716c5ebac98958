"""Offline text to speech with eSpeak NG: a function, and a Pipecat TTS service.

`synthesize()` turns a line into 16-bit mono PCM at any rate; the call
simulator uses it to speak the caller's lines. `EspeakTTSService` is the
agent's default voice, written the way Pipecat's own offline TTS services
(Piper, Kokoro) are: the base class aggregates sentences, pushes the start and
stop frames and records usage; `run_tts` streams `TTSAudioRawFrame`s.

eSpeak NG runs as a subprocess (one per sentence; it starts in ~5 ms and
synthesises far faster than real time). Text goes in on stdin, never on the
command line, so nothing a caller or an LLM writes can be read as an option.
Its output is a WAV stream at the voice's native rate (22050 Hz for the
standard voices) whose header carries a placeholder length, so we parse the
header ourselves and treat everything after the `data` tag as samples.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from pipecat.audio.utils import create_file_resampler
from pipecat.frames.frames import ErrorFrame, Frame, StartFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.utils.tracing.service_decorators import traced_tts
from pipecat.utils.types import NOT_GIVEN, NotGiven, assert_given

#: Where the binary is looked for when it is not on PATH (Debian's location).
ESPEAK_FALLBACK_PATH = "/usr/bin/espeak-ng"
#: Bytes read from eSpeak per step when streaming (~0.1 s at 22050 Hz).
_READ_BYTES = 4410
#: Control characters, and eSpeak's inline phoneme escape `[[...]]`.
_UNSPEAKABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|\[\[|\]\]")


class EspeakError(RuntimeError):
    """eSpeak NG is missing or failed."""


def espeak_binary() -> str:
    """Path of the espeak-ng executable."""
    found = shutil.which("espeak-ng")
    if found:
        return found
    if os.access(ESPEAK_FALLBACK_PATH, os.X_OK):
        return ESPEAK_FALLBACK_PATH
    raise EspeakError("espeak-ng is not installed (apt-get install espeak-ng)")


def clean_text(text: str) -> str:
    """Text as eSpeak should read it: no control characters, no phoneme escapes, one line."""
    return " ".join(_UNSPEAKABLE.sub(" ", text).split())


def espeak_command(voice: str, words_per_minute: int) -> list[str]:
    """The command line: voice and rate only; the text comes on stdin."""
    return [espeak_binary(), "-v", voice, "-s", str(int(words_per_minute)), "--stdout", "--stdin"]


@dataclass(frozen=True)
class WavFormat:
    """The parts of a WAV header we need."""

    sample_rate: int
    channels: int
    bits_per_sample: int
    data_offset: int


def parse_wav_header(data: bytes) -> WavFormat | None:
    """Parse a RIFF/WAVE header up to the start of the samples.

    Returns None while `data` is too short to hold the whole header (call
    again with more bytes). The lengths in the header are ignored: a stream
    written to a pipe cannot know them.
    """
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise EspeakError("espeak-ng did not write a WAV stream")
    offset = 12
    fmt: tuple[int, int, int] | None = None
    while len(data) >= offset + 8:
        tag, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        body = offset + 8
        if tag == b"data":
            if fmt is None:
                raise EspeakError("WAV stream has no fmt chunk before its data")
            return WavFormat(*fmt, data_offset=body)
        if len(data) < body + size:
            return None
        if tag == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            fmt = (rate, channels, bits)
        offset = body + size + (size & 1)
    return None


def _check_format(wav: WavFormat) -> None:
    if wav.channels != 1 or wav.bits_per_sample != 16:
        raise EspeakError(
            f"unexpected espeak-ng output: {wav.channels} ch, {wav.bits_per_sample} bit"
        )


async def _spawn(text: str, voice: str, words_per_minute: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        *espeak_command(voice, words_per_minute),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(text.encode("utf-8") + b"\n")
    process.stdin.close()
    return process


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
    await process.wait()


@asynccontextmanager
async def espeak_audio(
    text: str, *, voice: str = "en-us", words_per_minute: int = 175
) -> AsyncIterator[tuple[int, AsyncIterator[bytes]]]:
    """Start speaking `text` (already `clean_text`ed, not empty): yields eSpeak's native
    sample rate and its 16-bit mono PCM as it is produced; eSpeak is killed on exit.

    Raises:
        EspeakError: espeak-ng is missing, rejects the voice, or writes no audio.
    """
    process = await _spawn(text, voice, words_per_minute)
    try:
        assert process.stdout is not None
        header = bytearray()
        wav: WavFormat | None = None
        while wav is None:
            chunk = await process.stdout.read(_READ_BYTES)
            if not chunk:
                errors = await process.stderr.read() if process.stderr is not None else b""
                raise EspeakError(f"espeak-ng wrote no audio: {errors.decode().strip()}")
            header += chunk
            wav = parse_wav_header(bytes(header))
        _check_format(wav)

        async def samples(first: bytes, stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
            if first:
                yield first
            while chunk := await stream.read(_READ_BYTES):
                yield chunk

        yield wav.sample_rate, samples(bytes(header[wav.data_offset :]), process.stdout)
    finally:
        await _kill(process)


async def synthesize(
    text: str, *, sample_rate: int, voice: str = "en-us", words_per_minute: int = 175
) -> bytes:
    """Speak `text` with eSpeak NG: 16-bit mono PCM at `sample_rate` (b"" for no text).

    Raises:
        EspeakError: espeak-ng is missing, rejects the voice, or fails.
    """
    text = clean_text(text)
    if not text:
        return b""
    async with espeak_audio(text, voice=voice, words_per_minute=words_per_minute) as (
        native_rate,
        chunks,
    ):
        pcm = b"".join([chunk async for chunk in chunks])
    pcm = pcm[: len(pcm) & ~1]
    if native_rate == sample_rate:
        return pcm
    return await create_file_resampler().resample(pcm, native_rate, sample_rate)


@dataclass
class EspeakTTSSettings(TTSSettings):
    """Settings for `EspeakTTSService`.

    Parameters:
        words_per_minute: Speaking rate (eSpeak's ``-s``), 80-450.
    """

    words_per_minute: int | NotGiven = field(default_factory=lambda: NOT_GIVEN)


class EspeakTTSService(TTSService):
    """Pipecat TTS service on eSpeak NG, fully offline.

    Args:
        voice: eSpeak voice, e.g. ``en-us``, ``en-gb``, ``en-us+f3``.
        words_per_minute: Speaking rate.
        settings: Runtime-updatable settings; values here win over the arguments.
        **kwargs: Passed on to `TTSService` (e.g. ``sample_rate``).
    """

    Settings = EspeakTTSSettings
    _settings: Settings

    def __init__(
        self,
        *,
        voice: str = "en-us",
        words_per_minute: int = 175,
        settings: Settings | None = None,
        **kwargs: Any,
    ):
        default_settings = self.Settings(
            model=None, voice=voice, language=None, words_per_minute=words_per_minute
        )
        if settings is not None:
            default_settings.apply_update(settings)
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=default_settings,
            **kwargs,
        )
        espeak_binary()  # fail at construction, not on the first sentence of a call

    def can_generate_metrics(self) -> bool:
        """TTFB, processing and usage (characters) metrics are reported."""
        return True

    async def start(self, frame: StartFrame):
        """Start the service, and run eSpeak once so the first sentence is not a cold start."""
        await super().start(frame)
        try:
            await asyncio.wait_for(self._warm_up(), timeout=5)
        except Exception as e:  # a failed warm-up is not fatal; run_tts reports real errors
            logger.warning(f"{self}: espeak-ng warm-up failed: {e}")

    async def _warm_up(self) -> None:
        # Loads the binary and the voice data into the page cache.
        await synthesize(
            "ok",
            sample_rate=self.sample_rate or 16000,
            voice=assert_given(self._settings.voice) or "en-us",
            words_per_minute=int(assert_given(self._settings.words_per_minute)),
        )

    @traced_tts
    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Synthesise one sentence, streaming audio as eSpeak produces it.

        Args:
            text: The text to speak.
            context_id: The TTS context of this sentence.

        Yields:
            `TTSAudioRawFrame`s at the output sample rate, or an `ErrorFrame`.
        """
        spoken = clean_text(text)
        if not spoken:
            return
        try:
            await self.start_tts_usage_metrics(text)
            # Interrupted (the caller barged in) or finished: eSpeak never outlives it.
            async with espeak_audio(
                spoken,
                voice=assert_given(self._settings.voice) or "en-us",
                words_per_minute=int(assert_given(self._settings.words_per_minute)),
            ) as (native_rate, chunks):
                async for frame in self._stream_audio_frames_from_iterator(
                    chunks, in_sample_rate=native_rate, context_id=context_id
                ):
                    await self.stop_ttfb_metrics()
                    yield frame
        except Exception as e:
            logger.error(f"{self} exception: {e}")
            yield ErrorFrame(error=f"espeak-ng failed: {e}")
        finally:
            await self.stop_ttfb_metrics()
