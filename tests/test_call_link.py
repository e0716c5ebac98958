"""`CallLink`: what the session actor holds for the ingress between its Ray calls, and
how its input transport turns what the ingress delivers into frames."""

from __future__ import annotations

import asyncio
import base64
import json

from pipecat.frames.frames import Frame, InputAudioRawFrame, InputDTMFFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from actors.transport import INBOUND_INDEX, CallLink, CallLinkParams, CallLinkTransport
from actors.twilio_serializer import CallSerializer


async def test_a_closed_link_answers_every_later_collect_with_none() -> None:
    link = CallLink()
    link.send('{"event": "mark", "mark": {"name": "reply-1"}}')
    link.close()
    first = await link.collect(0.1)
    assert first is not None and len(first.messages) == 1
    # A collect whose caller gave up (its request was cancelled) took the close once;
    # the ingress's next collect must still learn that the call is over.
    assert await link.collect(0.1) is None
    assert await link.collect(0.1) is None


async def test_audio_delivered_together_reaches_the_pipeline_as_one_frame() -> None:
    link = CallLink()
    transport = CallLinkTransport(
        link,
        CallLinkParams(
            serializer=CallSerializer("MZstream", "CAcall"),
            audio_in_enabled=True,
            audio_in_passthrough=True,
            audio_in_sample_rate=8000,
        ),
    )
    heard = FramesHeard()
    worker = PipelineWorker(
        Pipeline([transport.input(), heard]),
        params=PipelineParams(audio_in_sample_rate=8000),
        idle_timeout_secs=None,
        enable_rtvi=False,
        check_dangling_tasks=False,
    )
    runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())

    frame_20ms = base64.b64encode(bytes([0xFF]) * 160).decode()  # μ-law silence
    media = json.dumps({"event": "media", "streamSid": "MZstream",
                        "media": {"payload": frame_20ms}})
    dtmf = json.dumps({"event": "dtmf", "streamSid": "MZstream", "dtmf": {"digit": "1"}})
    link.deliver([media, media, media, dtmf, media, media], first_index=1)
    await asyncio.wait_for(heard.count(3), 10)
    await worker.cancel()
    await asyncio.wait_for(running, 10)

    # 20 ms of 8 kHz audio is 320 bytes of PCM; a key press ends what is merged (Pipecat
    # pushes audio through a queue of its own, so the key may overtake the audio)
    audio = [(len(f.audio), f.metadata[INBOUND_INDEX])
             for f in heard.frames if isinstance(f, InputAudioRawFrame)]
    keys = [f.metadata[INBOUND_INDEX] for f in heard.frames if isinstance(f, InputDTMFFrame)]
    assert audio == [(3 * 320, 3), (2 * 320, 6)]
    assert keys == [4]


class FramesHeard(FrameProcessor):
    """What the input transport pushed downstream: audio and key presses, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self._changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame | InputDTMFFrame):
            self.frames.append(frame)
            self._changed.set()
        await self.push_frame(frame, direction)

    async def count(self, expected: int) -> None:
        while len(self.frames) < expected:
            self._changed.clear()
            await self._changed.wait()
