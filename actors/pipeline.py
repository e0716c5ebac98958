"""The Pipecat pipeline of one call, audio or text.

Audio: Twilio serializer → Silero VAD → speech to text → `ConversationProcessor` →
text to speech → Twilio serializer. Text: the same, without VAD, STT and TTS; each
agent sentence goes to the caller as a text-mode `agent` event. The services' time to
first byte is observed where the pipeline ends (`actors.service_metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import Frame, OutputTransportMessageFrame, TextFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from actors.conversation import ConversationProcessor
from actors.service_metrics import observe_service_ttfb
from actors.transport import CallLink, CallLinkParams, CallLinkTransport

TWILIO_SAMPLE_RATE = 8000
# How long the caller must be quiet before a turn is over. Long enough for a breath
# between phrases, short enough that the agent answers promptly.
END_OF_TURN_SILENCE_S = 0.5
# How long the caller must speak before it counts as speech. Pipecat's default, 0.2 s,
# let one-word answers through only barely or not at all: on 8 kHz μ-law, Silero stays
# above its threshold for about 0.16 s of eSpeak's "Yup." (never a turn) and just 0.2 s of
# "Yep.", and a caller who said "yep" to a meeting's read-back was not heard (issue 10's
# caller set). At 0.15 s every short answer tried ("yep", "yup", "nope", "uh-huh",
# "okay") starts a turn.
SPEECH_START_S = 0.15
# How long the caller's audio may stop arriving mid-sentence before the turn is ended
# anyway. Twilio streams audio without a break for as long as the call lasts, so a gap is
# a stall (the network, or a busy machine holding the frames back), and the frames behind
# it still come. Pipecat's default, 1 s, meant for a microphone that goes quiet, cut a
# loaded machine's "around fifty thousand dollars" into "around it" and "eight thousand
# dollars", and the call was disqualified on the second. A stream that is really gone
# ends the call by itself (Twilio's `stop`, or the socket closing).
AUDIO_STALL_S = 5.0


class TextReplySender(FrameProcessor):
    """Text mode's stand-in for TTS: each agent sentence becomes an `agent` event."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TextFrame) and direction == FrameDirection.DOWNSTREAM:
            await self.push_frame(
                OutputTransportMessageFrame(message={"event": "agent", "text": frame.text})
            )
        else:
            await self.push_frame(frame, direction)


@dataclass
class SpeechEngines:
    """The speech services an audio call uses, built before the call arrives."""

    vad: SileroVADAnalyzer
    stt: STTService
    tts: TTSService


def make_vad() -> SileroVADAnalyzer:
    return SileroVADAnalyzer(
        sample_rate=TWILIO_SAMPLE_RATE,
        params=VADParams(start_secs=SPEECH_START_S, stop_secs=END_OF_TURN_SILENCE_S),
    )


def make_vad_processor(vad: SileroVADAnalyzer) -> VADProcessor:
    return VADProcessor(vad_analyzer=vad, audio_idle_timeout=AUDIO_STALL_S)


def build_call_worker(
    *,
    link: CallLink,
    serializer: FrameSerializer,
    conversation: ConversationProcessor,
    engines: SpeechEngines | None,
    enable_metrics: bool,
    audio_out_chunk_ms: int,
    conversation_id: str | None = None,
) -> tuple[PipelineWorker, CallLinkTransport]:
    """The pipeline worker of one call; `engines` None means text mode.

    `conversation_id` (the CallSid) turns on Pipecat's tracing of the call: a
    `conversation` span, a `turn` span per turn and `stt` / `tts` spans under it
    (`switchboard.tracing` set the provider; None when tracing is off)."""
    audio = engines is not None
    transport = CallLinkTransport(
        link,
        CallLinkParams(
            serializer=serializer,
            audio_in_enabled=audio,
            audio_in_passthrough=True,
            audio_out_enabled=audio,
            audio_in_sample_rate=TWILIO_SAMPLE_RATE,
            audio_out_sample_rate=TWILIO_SAMPLE_RATE,
            audio_out_10ms_chunks=audio_out_chunk_ms // 10,
            # Send audio only while the agent speaks; Twilio needs no silence filler.
            audio_out_auto_silence=False,
        ),
    )
    if engines is not None:
        services = {engines.stt.name: "stt", conversation.name: "llm", engines.tts.name: "tts"}
        processors: list[FrameProcessor] = [
            transport.input(),
            make_vad_processor(engines.vad),
            engines.stt,
            conversation,
            engines.tts,
            transport.output(),
        ]
    else:
        services = {conversation.name: "llm"}
        processors = [transport.input(), conversation, TextReplySender(), transport.output()]
    worker = PipelineWorker(
        Pipeline(processors),
        params=PipelineParams(
            audio_in_sample_rate=TWILIO_SAMPLE_RATE,
            audio_out_sample_rate=TWILIO_SAMPLE_RATE,
            enable_metrics=enable_metrics,
            enable_usage_metrics=enable_metrics,
        ),
        # A call ends when the caller or the agent ends it, never on a quiet spell:
        # the conversation processor owns silence (reprompts, then hang up).
        idle_timeout_secs=None,
        enable_rtvi=False,
        check_dangling_tasks=False,
        enable_tracing=conversation_id is not None,
        conversation_id=conversation_id,
    )
    observe_service_ttfb(worker, services)
    return worker, transport
