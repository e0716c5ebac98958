"""Twilio Media Streams serializer for a session: Pipecat's, plus the events we act on.

Pipecat's `TwilioFrameSerializer` handles audio, DTMF and `clear`. A session also needs
to know when the caller hangs up (`stop`) and when the caller has heard the agent's
turn (a `mark` echoed back), so those become frames too. Hanging up and transfers go
through `actors.call_control`, not the serializer, so auto hang-up is off.
"""

from __future__ import annotations

import json
import re

from pipecat.frames.frames import Frame
from pipecat.serializers.twilio import TwilioFrameSerializer

from actors.frames import CallerHangupFrame, MarkPlayedFrame

# How Twilio's media messages start (whatever the spacing); the event comes first.
_MEDIA_EVENT = re.compile(r'\{\s*"event"\s*:\s*"media"')


class CallSerializer(TwilioFrameSerializer):
    """`TwilioFrameSerializer` that also reports `stop` and echoed `mark`s."""

    def __init__(self, stream_sid: str, call_sid: str) -> None:
        super().__init__(
            stream_sid,
            call_sid,
            params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
        )

    async def deserialize(self, data: str | bytes) -> Frame | None:
        if isinstance(data, str) and _MEDIA_EVENT.match(data):
            return await super().deserialize(data)  # 50 a second: parsed once, by Pipecat
        # The ingress has validated the message; parsing it twice costs microseconds.
        message = json.loads(data)
        event = message.get("event")
        if event == "stop":
            return CallerHangupFrame()
        if event == "mark":
            return MarkPlayedFrame(mark=str(message.get("mark", {}).get("name", "")))
        return await super().deserialize(data)


def mark_message(stream_sid: str, name: str) -> dict:
    """The Twilio `mark` the server sends after the last audio of an agent turn."""
    return {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}
