"""How an agent's turn ends on the wire, in both modes, and which reply a message ended.

After the last audio of each reply the session sends Twilio a `mark` named for the
reply (`reply-7-g2`: reply 7, sent by generation 2 of the call); Twilio echoes it once
the caller has heard everything before it. Text mode ends a reply with
`{"event": "turn_end", "reply": 7}`. The ingress reads the reply number of each turn
end it forwards, so after a failure it can tell a replacement actor whether the caller
received the agent's last reply in full. The generation keeps the marks of an actor
that was replaced from being taken for the replacement's.
"""

from __future__ import annotations

import json
import re

from actors.twilio_serializer import mark_message

_MARK = re.compile(r"^reply-(\d+)-g\d+$")


def mark_name(reply: int, generation: int) -> str:
    return f"reply-{reply}-g{generation}"


def audio_turn_end(stream_sid: str, reply: int, generation: int) -> dict:
    return mark_message(stream_sid, mark_name(reply, generation))


def text_turn_end(reply: int) -> dict:
    return {"event": "turn_end", "reply": reply}


def reply_ended(message: str) -> int | None:
    """The reply a server → peer message ends, or None if it ends none.

    Called on every message the ingress forwards, so it looks before it parses."""
    if '"mark"' not in message and '"turn_end"' not in message:
        return None
    try:
        event = json.loads(message)
    except ValueError:
        return None
    if event.get("event") == "turn_end":
        reply = event.get("reply")
        return reply if isinstance(reply, int) else None
    if event.get("event") == "mark":
        found = _MARK.match(str((event.get("mark") or {}).get("name", "")))
        return int(found.group(1)) if found else None
    return None
