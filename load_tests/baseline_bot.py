"""The plain Pipecat bot a user would otherwise run, for side-by-side benchmarks.

One process, one event loop: FastAPI answers Twilio's webhook with `<Connect><Stream>`
and runs each call's pipeline on Pipecat's own `FastAPIWebsocketTransport`, with the
same speech engines and the same conversation as Switchboard — but no Ray hop, no
session actors, no warm pool, no Redis, no records, no signature checks. What the
benchmark measures against it is what Switchboard's architecture costs (or saves).

    python -m load_tests.baseline_bot --port 8100
"""

from __future__ import annotations

import argparse
import json

import uvicorn
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import Response
from pipecat.frames.frames import EndFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner
from twilio.twiml.voice_response import Connect, VoiceResponse

from actors.conversation import CallEnd, ConversationProcessor, TurnOutcome
from actors.direct_path import DirectResponder
from actors.pipeline import TWILIO_SAMPLE_RATE, make_vad, make_vad_processor
from actors.speech.factory import make_stt, make_tts
from actors.twilio_serializer import CallSerializer, mark_message
from actors.usage import CallUsage
from graph.workflow.script import all_prompts
from switchboard.models import CallSession
from switchboard.settings import get_settings

app = FastAPI()


@app.post("/twilio/voice")
async def voice(request: Request) -> Response:
    host = request.headers["host"]
    response = VoiceResponse()
    connect = Connect()
    connect.stream(url=f"ws://{host}/twilio/stream")
    response.append(connect)
    return Response(str(response), media_type="application/xml")


@app.post("/twilio/status")
async def status() -> Response:
    return Response(status_code=204)


@app.websocket("/twilio/stream")
async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    # Twilio sends `connected`, then `start` with the stream and call SIDs.
    start: dict = {}
    while start.get("event") != "start":
        start = json.loads(await websocket.receive_text())
    stream_sid, call_sid = start["start"]["streamSid"], start["start"]["callSid"]
    settings = get_settings()
    session = CallSession(call_sid=call_sid, stream_sid=stream_sid)
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(
            serializer=CallSerializer(stream_sid, call_sid),
            audio_in_enabled=True,
            audio_in_passthrough=True,
            audio_out_enabled=True,
            audio_out_auto_silence=False,
            audio_out_10ms_chunks=2,
        ),
    )
    worker: PipelineWorker | None = None

    async def on_turn(_outcome: TurnOutcome) -> None:
        pass

    async def on_agent_ends_call(_end: CallEnd) -> None:
        assert worker is not None
        await worker.queue_frame(EndFrame())

    async def on_caller_hangup() -> None:
        assert worker is not None
        await worker.cancel()

    conversation = ConversationProcessor(
        responder=DirectResponder(settings, session),
        usage=CallUsage(),
        mode="audio",
        turn_end_message=lambda reply: mark_message(stream_sid, f"turn-{reply}"),
        on_turn=on_turn,
        on_agent_ends_call=on_agent_ends_call,
        on_caller_hangup=on_caller_hangup,
        reprompt_after_s=settings.agent_integration.reprompt_after_s,
        speaks_first=True,
    )
    worker = PipelineWorker(
        Pipeline(
            [
                transport.input(),
                make_vad_processor(make_vad()),
                make_stt(settings.speech, prompts=all_prompts(settings)),
                conversation,
                make_tts(settings.speech, sample_rate=TWILIO_SAMPLE_RATE),
                transport.output(),
            ]
        ),
        params=PipelineParams(
            audio_in_sample_rate=TWILIO_SAMPLE_RATE, audio_out_sample_rate=TWILIO_SAMPLE_RATE
        ),
        idle_timeout_secs=None,
        enable_rtvi=False,
    )

    @transport.event_handler("on_client_disconnected")
    async def _gone(_transport, _ws) -> None:
        await worker.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
