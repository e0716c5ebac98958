"""eSpeak NG: `synthesize()` and `EspeakTTSService` in a real Pipecat pipeline."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from pipecat.frames.frames import (
    LLMFullResponseEndFrame,
    MetricsFrame,
    TextFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.metrics.metrics import TTSUsageMetricsData
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import run_test

from actors.speech import espeak
from actors.speech.espeak import (
    EspeakError,
    EspeakTTSService,
    clean_text,
    espeak_command,
    parse_wav_header,
    synthesize,
)

LINE = "We spend about fifty thousand dollars a year on it."


def seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
async def test_synthesize_gives_speech_of_plausible_length_at_the_requested_rate(rate: int) -> None:
    pcm = await synthesize(LINE, sample_rate=rate)
    assert len(pcm) % 2 == 0
    # 11 words at 175 words per minute: about 3.5 s with eSpeak's pauses.
    assert 2.0 < seconds(pcm, rate) < 6.0
    assert rms(pcm) > 300  # speech, not silence


async def test_the_same_line_lasts_as_long_at_every_rate() -> None:
    low = seconds(await synthesize(LINE, sample_rate=8000), 8000)
    high = seconds(await synthesize(LINE, sample_rate=24000), 24000)
    assert abs(low - high) < 0.01


async def test_the_speaking_rate_is_words_per_minute() -> None:
    slow = seconds(await synthesize(LINE, sample_rate=8000, words_per_minute=110), 8000)
    fast = seconds(await synthesize(LINE, sample_rate=8000, words_per_minute=260), 8000)
    assert slow > 1.7 * fast


async def test_nothing_to_say_is_no_audio() -> None:
    assert await synthesize("", sample_rate=8000) == b""
    assert await synthesize(" \n\t ", sample_rate=8000) == b""


async def test_text_is_never_read_as_options() -> None:
    # Passed on stdin: eSpeak speaks these words instead of obeying them.
    pcm = await synthesize("--version -v xx --stdout", sample_rate=8000)
    assert seconds(pcm, 8000) > 0.5
    assert "--stdin" in espeak_command("en-us", 175)
    assert all("version" not in part for part in espeak_command("en-us", 175))


def test_phoneme_escapes_and_control_characters_are_removed() -> None:
    assert clean_text("hi [[h@l'oU]]\x00 there\n\nfriend") == "hi h@l'oU there friend"


async def test_a_missing_espeak_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(espeak, "ESPEAK_FALLBACK_PATH", "/nonexistent/espeak-ng")
    with pytest.raises(EspeakError, match="not installed"):
        await synthesize("hello", sample_rate=8000)
    with pytest.raises(EspeakError, match="not installed"):
        EspeakTTSService()


def _wav_header(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"".join(tag + struct.pack("<I", len(data)) + data for tag, data in chunks)
    return b"RIFF" + struct.pack("<I", 0x7FFFF000) + b"WAVE" + body


def test_wav_headers_are_parsed_whatever_chunks_come_first() -> None:
    fmt = struct.pack("<HHIIHH", 1, 1, 22050, 44100, 2, 16)
    header = _wav_header((b"LIST", b"INFOabc\x00"), (b"fmt ", fmt)) + b"data" + b"\xff" * 4
    wav = parse_wav_header(header + b"\x01\x02")
    assert wav is not None
    assert (wav.sample_rate, wav.channels, wav.bits_per_sample) == (22050, 1, 16)
    assert (header + b"\x01\x02")[wav.data_offset :] == b"\x01\x02"
    assert parse_wav_header(header[:30]) is None  # not all there yet
    with pytest.raises(EspeakError):
        parse_wav_header(b"OggS" + b"\x00" * 40)


async def test_the_tts_service_speaks_a_text_frame_in_a_pipeline() -> None:
    tts = EspeakTTSService(sample_rate=8000)
    down, _ = await run_test(
        tts,
        # The text of a turn, then the end of the turn (as the conversation
        # processor sends them): the base class aggregates and flushes the sentence.
        frames_to_send=[TextFrame(text=LINE), LLMFullResponseEndFrame()],
        pipeline_params=PipelineParams(
            audio_out_sample_rate=8000, enable_metrics=True, enable_usage_metrics=True
        ),
    )
    kinds = [type(f) for f in down]
    audio = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    assert TTSStartedFrame in kinds and TTSStoppedFrame in kinds
    assert kinds.index(TTSStartedFrame) < kinds.index(TTSAudioRawFrame)
    assert kinds.index(TTSStoppedFrame) > max(
        i for i, k in enumerate(kinds) if k is TTSAudioRawFrame
    )
    assert all(f.sample_rate == 8000 and f.num_channels == 1 for f in audio)
    pcm = b"".join(f.audio for f in audio)
    assert 2.0 < seconds(pcm, 8000) < 6.0 and rms(pcm) > 300
    # Usage is reported by the base class, in characters.
    usage = [
        d.value
        for f in down
        if isinstance(f, MetricsFrame)
        for d in f.data
        if isinstance(d, TTSUsageMetricsData)
    ]
    assert usage == [len(LINE)]


async def test_the_tts_service_speaks_each_sentence_of_a_turn() -> None:
    tts = EspeakTTSService(sample_rate=16000, words_per_minute=220)
    down, _ = await run_test(
        tts,
        frames_to_send=[TTSSpeakFrame(text="Thanks for calling. How can I help?")],
        pipeline_params=PipelineParams(audio_out_sample_rate=16000),
    )
    audio = b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame))
    assert 1.0 < seconds(audio, 16000) < 5.0
