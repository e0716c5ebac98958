"""What the simulated caller says and understands is Twilio's wording."""

from __future__ import annotations

import re

import pytest

from switchboard.caller import twilio_protocol as tp
from switchboard.scenario import parse_scenario

SCENARIO = {"name": "s", "from": "+15551230001", "to": "+15557650000", "lines": ["Hi"]}


def test_sids_have_twilio_prefixes_and_32_hex_digits() -> None:
    assert re.fullmatch(r"CA[0-9a-f]{32}", tp.new_sid("CA"))
    assert re.fullmatch(r"MZ[0-9a-f]{32}", tp.new_sid("MZ"))


def test_inbound_webhook_is_ringing_from_the_lead_to_the_agent() -> None:
    scenario = parse_scenario(SCENARIO)
    parties = tp.CallParties.for_scenario(scenario, call_sid="CA1", account_sid="AC1")
    params = tp.voice_webhook_params(parties)
    assert params["Direction"] == "inbound" and params["CallStatus"] == "ringing"
    assert params["From"] == params["Caller"] == "+15551230001"
    assert params["To"] == params["Called"] == "+15557650000"
    assert params["ApiVersion"] == "2010-04-01"
    assert params["AccountSid"] == "AC1" and params["CallSid"] == "CA1"


def test_outbound_webhook_is_answered_and_dials_the_lead() -> None:
    scenario = parse_scenario({**SCENARIO, "direction": "outbound", "answered_by": "machine_start"})
    parties = tp.CallParties.for_scenario(scenario, call_sid="CA1", account_sid="AC1")
    params = tp.voice_webhook_params(parties, scenario.answered_by)
    assert params["Direction"] == "outbound-api" and params["CallStatus"] == "in-progress"
    assert params["From"] == "+15557650000" and params["To"] == "+15551230001"
    assert params["AnsweredBy"] == "machine_start"


def test_status_callback_reports_completion_and_duration() -> None:
    parties = tp.CallParties("CA1", "AC1", "inbound", "+15551230001", "+15557650000")
    params = tp.status_callback_params(parties, "completed", 61.4)
    assert params["CallStatus"] == "completed"
    assert params["CallDuration"] == "61" and params["Duration"] == "2"
    assert params["Timestamp"].endswith("+0000")


def test_connect_stream_twiml_gives_url_and_parameters() -> None:
    answer = tp.parse_twiml(
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
        '<Stream url="wss://example.com/twilio/stream?a=1">'
        '<Parameter name="direction" value="inbound"/><Parameter name="k" value="v"/>'
        "</Stream></Connect></Response>"
    )
    assert answer == tp.StreamAnswer(
        url="wss://example.com/twilio/stream?a=1", parameters={"direction": "inbound", "k": "v"}
    )


@pytest.mark.parametrize(
    ("twiml", "kind", "status", "said"),
    [
        ('<Response><Reject reason="busy"/></Response>', "reject", "busy", ()),
        ("<Response><Reject/></Response>", "reject", "no-answer", ()),
        (
            "<Response><Say>All lines are busy.</Say><Hangup/></Response>",
            "hangup",
            "completed",
            ("All lines are busy.",),
        ),
        ("<Response><Say>Goodbye.</Say></Response>", "hangup", "completed", ("Goodbye.",)),
    ],
)
def test_answers_without_a_stream_end_the_call(
    twiml: str, kind: str, status: str, said: tuple[str, ...]
) -> None:
    answer = tp.parse_twiml(twiml)
    assert isinstance(answer, tp.EndAnswer)
    assert (answer.kind, answer.call_status, answer.said) == (kind, status, said)


@pytest.mark.parametrize(
    "text",
    [
        "not xml",
        "<Html/>",
        "<Response><Enqueue>q</Enqueue></Response>",
        "<Response><Connect/></Response>",
    ],
)
def test_twiml_the_caller_cannot_follow_is_an_error(text: str) -> None:
    with pytest.raises(tp.TwimlError):
        tp.parse_twiml(text)


def test_media_stream_messages_have_twilio_shapes() -> None:
    start = tp.start_message("MZ1", "CA1", "AC1", {"k": "v"})
    assert start["start"]["mediaFormat"] == {
        "encoding": "audio/x-mulaw",
        "sampleRate": 8000,
        "channels": 1,
    }
    assert start["start"]["customParameters"] == {"k": "v"} and start["streamSid"] == "MZ1"
    media = tp.media_message("MZ1", 3, 40, "AAAA")
    assert media["media"] == {
        "track": "inbound",
        "chunk": "3",
        "timestamp": "40",
        "payload": "AAAA",
    }
    assert tp.dtmf_message("MZ1", "5")["dtmf"] == {"track": "inbound_track", "digit": "5"}
    assert tp.stop_message("MZ1", "CA1", "AC1")["stop"] == {"accountSid": "AC1", "callSid": "CA1"}


def test_silence_detection_ignores_zero_amplitude_payloads_only() -> None:
    assert tp.is_silent(b"\xff" * 160) and tp.is_silent(b"\x7f\xff" * 80)
    assert not tp.is_silent(b"\xff" * 159 + b"\x10")
