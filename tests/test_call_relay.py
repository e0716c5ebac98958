"""The parts of the relay that decide what a replacement actor is handed: the caller's
messages since the last checkpoint, and which agent reply last reached the caller."""

from __future__ import annotations

import json

from actors.turn_ends import audio_turn_end, mark_name, reply_ended, text_turn_end
from deployments.call_relay import ReplayBuffer


def test_the_buffer_numbers_messages_and_forgets_what_a_checkpoint_covers() -> None:
    buffer = ReplayBuffer(window_s=30)
    indices = [buffer.append(f"m{i}") for i in range(1, 6)]
    assert indices == [1, 2, 3, 4, 5]
    buffer.forget_through(3)
    assert buffer.since(0) == [(4, "m4"), (5, "m5")]
    assert buffer.since(4) == [(5, "m5")]
    assert buffer.append("m6") == 6 and len(buffer) == 3


def test_the_buffer_keeps_only_its_window() -> None:
    buffer = ReplayBuffer(window_s=0.0)  # nothing older than now survives the next append
    buffer.append("old")
    buffer.append("new")
    assert [raw for _, raw in buffer.since(0)] == ["new"]
    assert buffer.last_index == 2


def test_turn_ends_name_their_reply_in_both_modes() -> None:
    mark = json.dumps(audio_turn_end("MZ1", 7, generation=2))
    assert mark_name(7, 2) in mark
    assert reply_ended(mark) == 7
    assert reply_ended(json.dumps(text_turn_end(3))) == 3


def test_other_messages_end_no_reply() -> None:
    for message in (
        json.dumps({"event": "media", "media": {"payload": "AAAA"}}),
        json.dumps({"event": "agent", "text": "a turn_end in words"}),
        json.dumps({"event": "mark", "streamSid": "MZ1", "mark": {"name": "greeting"}}),
        json.dumps({"event": "turn_end"}),
        '{"event": "mark", broken',
    ):
        assert reply_ended(message) is None, message
