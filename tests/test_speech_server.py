"""The local speech servers speak their vendors' protocols: the deepgram SDK and the
openai client (what Pipecat's services use) work against them unchanged, and what a
vendor would refuse is refused the same way."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from deepgram import AsyncDeepgramClient, DeepgramClientEnvironment
from deepgram.core import ApiError
from deepgram.core.events import EventType
from deepgram.listen.v1.types import ListenV1Metadata, ListenV1Results
from openai import AsyncOpenAI, AuthenticationError, BadRequestError
from pipecat.audio.utils import create_file_resampler
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import InputAudioRawFrame, TranscriptionFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.tests.utils import SleepFrame, run_test

from actors.speech.confidence import transcript_confidence
from actors.speech.espeak import synthesize
from actors.speech.factory import make_stt
from switchboard.settings import SpeechSettings
from switchboard.speech_server import SpeechServerProcess
from switchboard.speech_server.openai_speech import OPENAI_PCM_RATE

KEY = "local-engine-key"
FRAME_BYTES = 320  # 20 ms of 16-bit audio at 8 kHz, as Pipecat sends it


@pytest.fixture(scope="module")
def server() -> Iterator[SpeechServerProcess]:
    with SpeechServerProcess.start(KEY) as running:
        yield running


def deepgram(server: SpeechServerProcess, key: str = KEY) -> AsyncDeepgramClient:
    environment = DeepgramClientEnvironment(
        base=server.url, production=server.ws_url, agent=server.ws_url, agent_rest=server.url
    )
    return AsyncDeepgramClient(api_key=key, environment=environment)


def openai(server: SpeechServerProcess, key: str = KEY) -> AsyncOpenAI:
    return AsyncOpenAI(api_key=key, base_url=server.openai_base_url, max_retries=0)


def stats(server: SpeechServerProcess) -> dict:
    return httpx.get(f"{server.url}/stats", headers={"Authorization": f"Token {KEY}"}).json()


async def listen(
    server: SpeechServerProcess, pcm: bytes, *, finalize: bool = True
) -> AsyncIterator[object]:
    """Stream `pcm` (8 kHz) in 20 ms frames, then Finalize (if asked) and CloseStream;
    yields every message the server sent."""
    messages: list[object] = []
    async with deepgram(server).listen.v1.connect(
        model="nova-3", encoding="linear16", sample_rate="8000", channels="1"
    ) as connection:
        connection.on(EventType.MESSAGE, messages.append)
        listening = asyncio.create_task(connection.start_listening())
        for start in range(0, len(pcm), FRAME_BYTES):
            await connection.send_media(pcm[start : start + FRAME_BYTES])
        if finalize:
            await connection.send_finalize()
        await connection.send_close_stream()
        await asyncio.wait_for(listening, 30)
    for message in messages:
        yield message


async def results(server: SpeechServerProcess, pcm: bytes, **kwargs: bool) -> list[object]:
    return [message async for message in listen(server, pcm, **kwargs)]


async def test_deepgram_client_hears_a_sentence_when_it_finalizes(
    server: SpeechServerProcess,
) -> None:
    quiet = bytes(8000)  # half a second of silence before the caller speaks
    speech = await synthesize("our budget is fifty thousand dollars", sample_rate=8000)
    messages = await results(server, quiet + speech + quiet)
    finals = [m for m in messages if isinstance(m, ListenV1Results)]
    assert len(finals) == 1
    final = finals[0]
    assert final.is_final and final.speech_final and final.from_finalize
    best = final.channel.alternatives[0]
    assert "fifty thousand" in best.transcript
    # The utterance starts at the pre-roll before the first loud frame, not at 0.
    assert 0.1 < final.start < 0.5
    # PocketSphinx's confidence, read from the result as Pipecat's Deepgram service keeps it
    assert 0 < best.confidence <= 1 and transcript_confidence(final) == best.confidence
    assert [w.word for w in best.words] == best.transcript.split()
    assert all(0 <= w.confidence <= 1 for w in best.words)
    assert final.start <= best.words[0].start < best.words[-1].end <= final.start + final.duration
    assert isinstance(messages[-1], ListenV1Metadata)


async def test_finalize_over_silence_answers_an_empty_final_result(
    server: SpeechServerProcess,
) -> None:
    decoded_before = stats(server)["transcripts"]
    messages = await results(server, bytes(16000))
    finals = [m for m in messages if isinstance(m, ListenV1Results)]
    assert len(finals) == 1 and finals[0].from_finalize
    assert finals[0].channel.alternatives[0].transcript == ""
    assert finals[0].channel.alternatives[0].confidence == 0.0
    assert stats(server)["transcripts"] == decoded_before  # silence is never decoded


async def test_close_stream_without_finalize_still_recognises_what_was_said(
    server: SpeechServerProcess,
) -> None:
    speech = await synthesize("within three months", sample_rate=8000)
    messages = await results(server, speech, finalize=False)
    finals = [m for m in messages if isinstance(m, ListenV1Results)]
    assert [f.from_finalize for f in finals] == [False]
    assert "three months" in finals[0].channel.alternatives[0].transcript


async def test_deepgram_client_with_a_wrong_key_gets_api_error_401(
    server: SpeechServerProcess,
) -> None:
    # Pipecat's DeepgramSTTService gives up at once on a 4xx ApiError.
    with pytest.raises(ApiError) as refused:
        async with deepgram(server, key="wrong").listen.v1.connect(
            model="nova-3", encoding="linear16", sample_rate="8000"
        ):
            pass
    assert refused.value.status_code == 401


@pytest.mark.parametrize(
    "query, reason",
    [
        ("encoding=mulaw&sample_rate=8000", "encoding 'mulaw' is not supported"),
        ("encoding=linear16", "sample_rate is required"),
        ("encoding=linear16&sample_rate=8000&channels=2", "only one channel"),
        ("encoding=linear16&sample_rate=4000", "outside 8000-48000"),
    ],
)
def test_listen_refuses_audio_it_cannot_hear_at_the_handshake_saying_why(
    server: SpeechServerProcess, query: str, reason: str
) -> None:
    # A plain GET with the upgrade headers: the denial is an HTTP answer with a body.
    response = httpx.get(
        f"{server.url}/v1/listen?{query}",
        headers={
            "Authorization": f"Token {KEY}", "Connection": "Upgrade", "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert reason in response.json()["err_msg"]


async def test_openai_client_streams_speech_the_recogniser_understands(
    server: SpeechServerProcess,
) -> None:
    async with openai(server).audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="alloy", input="Our budget is fifty thousand dollars.",
        response_format="pcm",
    ) as response:  # fmt: skip
        assert response.headers["content-type"] == "audio/pcm"
        pcm = b"".join([chunk async for chunk in response.iter_bytes()])
    seconds = len(pcm) / 2 / OPENAI_PCM_RATE
    assert 0.8 < seconds < 4
    phone = await create_file_resampler().resample(pcm, OPENAI_PCM_RATE, 8000)
    finals = [m for m in await results(server, phone) if isinstance(m, ListenV1Results)]
    assert "fifty thousand" in finals[0].channel.alternatives[0].transcript


async def test_wav_format_carries_a_24_khz_mono_header(server: SpeechServerProcess) -> None:
    response = await openai(server).audio.speech.create(
        model="tts-1", voice="nova", input="Hello.", response_format="wav"
    )
    wav = response.content
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    channels, rate = struct.unpack("<HI", wav[22:28])
    assert (channels, rate) == (1, OPENAI_PCM_RATE)
    assert len(wav) > 44 + OPENAI_PCM_RATE // 4


async def test_speed_changes_how_long_the_speech_lasts(server: SpeechServerProcess) -> None:
    client = openai(server)
    lengths = []
    for speed in (1.0, 2.0):
        response = await client.audio.speech.create(
            model="tts-1", voice="alloy", input="Thanks for calling, how can I help you today?",
            response_format="pcm", speed=speed,
        )  # fmt: skip
        lengths.append(len(response.content))
    assert lengths[1] < lengths[0] * 0.75


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "tts-1", "voice": "alloy", "input": "Hi"}, "response_format"),  # mp3
        ({"model": "tts-1", "voice": "alloy", "response_format": "pcm"}, "input"),
        ({"model": "tts-1", "voice": "alloy", "input": "x" * 4097, "response_format": "pcm"},
         "input"),
        ({"model": "tts-1", "voice": "alloy", "input": "Hi", "response_format": "pcm",
          "speed": 9}, "speed"),
        ({"model": "tts-1", "voice": "alloy", "input": "\x00\x01", "response_format": "pcm"},
         "input"),
    ],
)  # fmt: skip
async def test_openai_client_gets_bad_request_naming_the_parameter(
    server: SpeechServerProcess, body: dict, param: str
) -> None:
    with pytest.raises(BadRequestError) as refused:
        await openai(server).post("/audio/speech", body=body, cast_to=httpx.Response)
    assert refused.value.body["param"] == param


async def test_openai_client_with_a_wrong_key_gets_authentication_error(
    server: SpeechServerProcess,
) -> None:
    with pytest.raises(AuthenticationError):
        await openai(server, key="wrong").audio.speech.create(
            model="tts-1", voice="alloy", input="Hi", response_format="pcm"
        )


def test_stats_need_the_key(server: SpeechServerProcess) -> None:
    assert httpx.get(f"{server.url}/stats").status_code == 401


async def test_pipecats_deepgram_service_carries_the_confidence_to_its_transcription(
    server: SpeechServerProcess,
) -> None:
    """A cloud engine's confidence reaches the agents the way PocketSphinx's does: Pipecat
    keeps Deepgram's result on the frame, and `transcript_confidence` reads it there."""
    speech = await synthesize("we want it within three months", sample_rate=8000)
    stream = bytes(8000) + speech + bytes(24000)  # quiet, the line, 1.5 s to end the turn
    frames: list = [SleepFrame(1.0)]  # the service connects at StartFrame
    frames += [InputAudioRawFrame(audio=stream[i : i + FRAME_BYTES], sample_rate=8000,
                                  num_channels=1)
               for i in range(0, len(stream), FRAME_BYTES)]
    frames.append(SleepFrame(3.0))
    stt = make_stt(SpeechSettings(stt="deepgram", deepgram_api_key=KEY,
                                  deepgram_base_url=server.ws_url), prompts=[])
    pipeline = Pipeline([VADProcessor(vad_analyzer=SileroVADAnalyzer()), stt])
    down, _ = await run_test(pipeline, frames_to_send=frames,
                             pipeline_params=PipelineParams(audio_in_sample_rate=8000))
    (transcription,) = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert "three months" in transcription.text
    assert isinstance(transcription.result, ListenV1Results)
    confidence = transcript_confidence(transcription.result)
    assert confidence == transcription.result.channel.alternatives[0].confidence
    assert confidence is not None and 0 < confidence <= 1
