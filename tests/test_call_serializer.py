"""The session's Twilio serializer turns the events it acts on into frames."""

from __future__ import annotations

import json

from actors.frames import CallerHangupFrame, MarkPlayedFrame
from actors.twilio_serializer import CallSerializer, mark_message


async def test_an_echoed_mark_keeps_its_name_so_the_final_mark_can_end_the_call() -> None:
    serializer = CallSerializer("MZ1", "CA1")
    frame = await serializer.deserialize(json.dumps(mark_message("MZ1", "turn-7")))
    assert isinstance(frame, MarkPlayedFrame) and frame.mark == "turn-7"


async def test_stop_is_the_caller_hanging_up() -> None:
    frame = await CallSerializer("MZ1", "CA1").deserialize(json.dumps({"event": "stop"}))
    assert isinstance(frame, CallerHangupFrame)
