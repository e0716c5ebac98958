"""A Pipecat transport fed by Ray calls: the session actor's side of the ingress hop.

A Starlette WebSocket cannot cross to another actor, so the ingress pumps the call's
messages to the session actor in small batches (`CallLink.deliver`) and drains what
the pipeline wants to send (`CallLink.collect`). Both directions carry the wire
messages exactly as the peer speaks them (Twilio Media Streams JSON, or text-mode
JSON); a Pipecat `FrameSerializer` turns them into frames and back, as it would on a
WebSocket transport.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

# How a serialized Twilio audio message starts (`TwilioFrameSerializer` output).
MEDIA = '{"event": "media"'
# The frame metadata key holding the index the ingress gave the message a frame came from.
INBOUND_INDEX = "inbound"
# Inbound audio delivered together is pushed as one frame of at most this length.
MAX_MERGED_AUDIO_S = 0.1


@dataclass(frozen=True)
class Outbound:
    """What `collect` hands the ingress: messages for the peer, and how far into the
    peer's messages the call's last checkpoint reaches (the ingress may forget those)."""

    messages: list[str]
    checkpointed: int


class CallLink:
    """The two queues between the ingress and the pipeline of one call.

    Inbound messages carry the index the ingress gave them; the input transport tags
    each frame with it (`frame.metadata["inbound"]`), so the conversation knows how far
    into the caller's messages each turn reached."""

    def __init__(self) -> None:
        self.inbound: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue()
        self.outbound: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = False
        self.last_contact = time.monotonic()
        self.delivered = 0  # the highest inbound index received
        self.checkpointed = 0  # inbound index the last saved checkpoint reaches
        self.first_sent = asyncio.Event()  # something went to the peer
        self.first_sent_at: float | None = None  # wall clock

    def touch(self) -> None:
        """The ingress is there now (it calls, or it has just taken the call)."""
        self.last_contact = time.monotonic()

    def deliver(self, messages: list[str], first_index: int) -> None:
        """Messages the peer sent, in order, numbered from `first_index`; any the link
        already has (a replay overlapping a delivery) are skipped."""
        self.touch()
        for offset, message in enumerate(messages):
            index = first_index + offset
            if index <= self.delivered:
                continue
            self.delivered = index
            self.inbound.put_nowait((index, message))

    def peer_gone(self) -> None:
        """The peer's socket closed: no more inbound messages."""
        self.inbound.put_nowait(None)

    def send(self, message: str) -> None:
        if not self.closed:
            self.outbound.put_nowait(message)
            if self.first_sent_at is None:
                self.first_sent_at = time.time()
                self.first_sent.set()

    def close(self) -> None:
        """Nothing more will be sent; the ingress closes the socket once drained."""
        if not self.closed:
            self.closed = True
            self.outbound.put_nowait(None)

    async def collect(
        self, max_wait_s: float, *, linger_s: float = 0.02, max_messages: int = 64
    ) -> Outbound | None:
        """Wait for outbound messages; None once the link is closed and drained.

        Once one message is there, waits `linger_s` more so a batch carries a few
        audio chunks: one Ray call per 20 ms chunk would cost more than the audio."""
        self.touch()
        try:
            first = await asyncio.wait_for(self.outbound.get(), timeout=max_wait_s)
        except TimeoutError:
            return Outbound([], self.checkpointed)
        if first is None:
            # Closed for good: a later collect (one made after an earlier one's caller
            # stopped waiting for it) learns it too.
            self.outbound.put_nowait(None)
            return None
        # Only audio lingers: a turn's first words, marks and text events go at once.
        if linger_s > 0 and self.outbound.qsize() < max_messages and first.startswith(MEDIA):
            await asyncio.sleep(linger_s)
        batch = [first]
        while len(batch) < max_messages and not self.outbound.empty():
            item = self.outbound.get_nowait()
            if item is None:
                # Keep the close for the next call so this batch is delivered first.
                self.outbound.put_nowait(None)
                break
            batch.append(item)
        return Outbound(batch, self.checkpointed)


class CallLinkParams(TransportParams):
    """Transport parameters plus the serializer that speaks the peer's protocol."""

    serializer: FrameSerializer
    # Audio sent ahead of real time: the peer (Twilio) buffers it, so a scheduling
    # hiccup on our side does not become a gap the caller hears. It costs nothing on
    # barge-in: `clear` empties Twilio's buffer however far ahead we are.
    audio_lead_s: float = 1.0


class CallLinkInputTransport(BaseInputTransport):
    """Deserializes what the ingress delivered and pushes it into the pipeline."""

    def __init__(self, link: CallLink, params: CallLinkParams, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self._link = link
        self._params: CallLinkParams = params
        self._receive_task: asyncio.Task | None = None
        self._register_event_handler("on_peer_gone")

    async def setup(self, setup: FrameProcessorSetup) -> None:
        await super().setup(setup)
        await self._params.serializer.setup(setup)

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)
        if not self._receive_task:
            self._receive_task = self.create_task(self._receive_messages())

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._stop_receiving()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._stop_receiving()

    async def _stop_receiving(self) -> None:
        if self._receive_task:
            await self.cancel_task(self._receive_task)
            self._receive_task = None

    async def _receive_messages(self) -> None:
        merged = _MergedAudio()
        while True:
            item = await self._link.inbound.get()
            while True:
                if item is None:
                    await self._push_audio(merged)
                    await self._call_event_handler("on_peer_gone")
                    return
                index, message = item
                frame = await self._params.serializer.deserialize(message)
                if isinstance(frame, InputAudioRawFrame):
                    if merged.full_with(frame):
                        await self._push_audio(merged)
                    merged.add(frame, index)
                elif frame is not None:
                    await self._push_audio(merged)  # in order with the audio before it
                    frame.metadata[INBOUND_INDEX] = index
                    await self.push_frame(frame)
                if self._link.inbound.empty():
                    break
                item = self._link.inbound.get_nowait()
            await self._push_audio(merged)

    async def _push_audio(self, merged: _MergedAudio) -> None:
        frame = merged.take()
        if frame is not None:
            await self.push_audio_frame(frame)


class _MergedAudio:
    """Consecutive 20 ms input frames of one delivery, as one frame (up to
    `MAX_MERGED_AUDIO_S`): each frame costs the pipeline a trip through every processor,
    whatever its length. Tagged with the index of the last message it holds."""

    def __init__(self) -> None:
        self._frames: list[InputAudioRawFrame] = []
        self._index = 0

    def full_with(self, frame: InputAudioRawFrame) -> bool:
        if not self._frames:
            return False
        first = self._frames[0]
        held = sum(len(held.audio) for held in self._frames)
        bytes_per_s = first.sample_rate * first.num_channels * 2
        return (
            frame.sample_rate != first.sample_rate
            or frame.num_channels != first.num_channels
            or held + len(frame.audio) > MAX_MERGED_AUDIO_S * bytes_per_s
        )

    def add(self, frame: InputAudioRawFrame, index: int) -> None:
        self._frames.append(frame)
        self._index = index

    def take(self) -> InputAudioRawFrame | None:
        frames, self._frames = self._frames, []
        if not frames:
            return None
        frame = frames[0]
        if len(frames) > 1:
            frame = InputAudioRawFrame(
                audio=b"".join(held.audio for held in frames),
                sample_rate=frame.sample_rate,
                num_channels=frame.num_channels,
            )
        frame.metadata[INBOUND_INDEX] = self._index
        return frame


class CallLinkOutputTransport(BaseOutputTransport):
    """Serializes frames for the peer, pacing audio at real time plus a small lead."""

    def __init__(self, link: CallLink, params: CallLinkParams, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self._link = link
        self._params: CallLinkParams = params
        self._chunk_s = 0.0
        self._next_send_time = 0.0

    async def setup(self, setup: FrameProcessorSetup) -> None:
        await super().setup(setup)
        await self._params.serializer.setup(setup)
        # audio_chunk_size is in bytes of 16-bit mono audio.
        self._chunk_s = self.audio_chunk_size / 2 / self.sample_rate

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    # Stopping does not close the link: the session closes it once the call's record is
    # written, so the ingress never closes the socket (and so ends the actor) before.

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            await self._write(frame)
            self._next_send_time = 0.0

    async def send_message(
        self, frame: OutputTransportMessageFrame | OutputTransportMessageUrgentFrame
    ) -> None:
        await self._write(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        if self._link.closed:
            return False
        if not await self._write(frame):
            return False
        await self._pace()
        return True

    async def _write(self, frame: Frame) -> bool:
        try:
            payload = await self._params.serializer.serialize(frame)
        except Exception as exc:  # a bad frame must not end the call
            logger.error(f"{self}: cannot serialize {frame}: {exc}")
            return False
        if payload:
            self._link.send(payload if isinstance(payload, str) else payload.decode())
        return True

    async def _pace(self) -> None:
        now = time.monotonic()
        if self._next_send_time == 0.0 or self._next_send_time < now - self._params.audio_lead_s:
            # A new stretch of speech: start `audio_lead_s` ahead of the playback clock.
            self._next_send_time = now - self._params.audio_lead_s
        self._next_send_time += self._chunk_s
        delay = self._next_send_time - now
        if delay > 0:
            await asyncio.sleep(delay)


class CallLinkTransport(BaseTransport):
    """Input and output of one call over a `CallLink`.

    Event handlers: `on_peer_gone(transport)` when the ingress reports the socket closed.
    """

    def __init__(self, link: CallLink, params: CallLinkParams) -> None:
        super().__init__()
        self._input = CallLinkInputTransport(link, params, name="call-input")
        self._output = CallLinkOutputTransport(link, params, name="call-output")
        self._register_event_handler("on_peer_gone")

        @self._input.event_handler("on_peer_gone")
        async def _forward(_processor) -> None:
            await self._call_event_handler("on_peer_gone")

    def input(self) -> CallLinkInputTransport:
        return self._input

    def output(self) -> CallLinkOutputTransport:
        return self._output
