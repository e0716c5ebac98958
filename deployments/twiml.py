"""The TwiML the ingress answers Twilio's webhooks with.

A call's media stream is always wrapped in `<Connect action=".../twilio/voice/continue">`:
when the stream ends, Twilio asks that URL what to do next, which is how a call whose
stream dropped (a replica died, the network blinked) comes back on a new stream.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Connect, VoiceResponse

CONTINUE_PATH = "/twilio/voice/continue"
RESUME_APOLOGY = "Sorry, we are having trouble with this line. Please call us back. Goodbye."


def connect_stream(*, stream_url: str, action_url: str, token: str) -> str:
    """`<Connect action><Stream url><Parameter name="token"/></Stream></Connect>`."""
    response = VoiceResponse()
    connect = Connect(action=action_url)
    stream = connect.stream(url=stream_url)
    stream.parameter(name="token", value=token)
    response.append(connect)
    return str(response)


def hang_up(*, say: str | None = None) -> str:
    response = VoiceResponse()
    if say:
        response.say(say)
    response.hangup()
    return str(response)


def reject_busy() -> str:
    response = VoiceResponse()
    response.reject(reason="busy")
    return str(response)
