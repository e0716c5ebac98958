"""`ServiceTTFBRecorder`: the time to first byte of a call's services, from Pipecat's own
metrics frames, into `switchboard_service_ttfb_ms`.

Pipecat measures a service's TTFB (speech to text, the agents standing in for the LLM,
text to speech) and pushes it downstream as a `MetricsFrame` holding `TTFBMetricsData`;
with nothing to read them, they only reached Pipecat's debug log ("... TTFB: ..."). This
processor sits last before the output transport, where every downstream frame passes
once, observes each TTFB and passes every frame on unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipecat.frames.frames import Frame, MetricsFrame
from pipecat.metrics.metrics import TTFBMetricsData
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from switchboard.metrics import VoiceAgentIntegrationMetrics


def processor_kind(name: str) -> str:
    """A processor's name without Pipecat's instance number (`EspeakTTSService#12` ->
    `EspeakTTSService`): a metric tag must not grow with every call."""
    return name.partition("#")[0]


class ServiceTTFBRecorder(FrameProcessor):
    """Observes the TTFB of the processors in `services` (name -> stt|llm|tts)."""

    def __init__(self, services: Mapping[str, str]) -> None:
        super().__init__()
        self._services = dict(services)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, MetricsFrame):
            for data in frame.data:
                service = self._services.get(data.processor)
                if isinstance(data, TTFBMetricsData) and service is not None:
                    VoiceAgentIntegrationMetrics.get().service_first_byte(
                        service, processor_kind(data.processor), data.value
                    )
        await self.push_frame(frame, direction)
