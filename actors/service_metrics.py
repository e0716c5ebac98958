"""The time to first byte of a call's services, from Pipecat's own metrics frames, into
`switchboard_service_ttfb_ms`.

Pipecat measures a service's TTFB (speech to text, the agents standing in for the LLM,
text to speech) and pushes it downstream as a `MetricsFrame` holding `TTFBMetricsData`;
with nothing to read them, they only reached Pipecat's debug log ("... TTFB: ...").
`observe_service_ttfb` has the worker hand over each `MetricsFrame` that reaches the
end of the pipeline (`on_frame_reached_downstream`), so no processor of ours sits in
the path every audio frame takes.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipecat.frames.frames import MetricsFrame
from pipecat.metrics.metrics import TTFBMetricsData
from pipecat.pipeline.worker import PipelineWorker

from switchboard.metrics import VoiceAgentIntegrationMetrics


def processor_kind(name: str) -> str:
    """A processor's name without Pipecat's instance number (`EspeakTTSService#12` ->
    `EspeakTTSService`): a metric tag must not grow with every call."""
    return name.partition("#")[0]


def record_service_ttfb(frame: MetricsFrame, services: Mapping[str, str]) -> None:
    """Observe the TTFBs in `frame` of the processors in `services` (name ->
    stt|llm|tts)."""
    for data in frame.data:
        service = services.get(data.processor)
        if isinstance(data, TTFBMetricsData) and service is not None:
            VoiceAgentIntegrationMetrics.get().service_first_byte(
                service, processor_kind(data.processor), data.value
            )


def observe_service_ttfb(worker: PipelineWorker, services: Mapping[str, str]) -> None:
    """Record the TTFB of `services` from every `MetricsFrame` reaching `worker`'s end."""
    services = dict(services)
    worker.add_reached_downstream_filter((MetricsFrame,))

    @worker.event_handler("on_frame_reached_downstream")
    async def _reached(_worker: PipelineWorker, frame: MetricsFrame) -> None:
        record_service_ttfb(frame, services)
