"""Hostile input never gets past the parsers: properties over arbitrary peer input.

Three parsers stand between the network and a call: `TwilioStreamGuard.check` (Media
Streams messages), `parse_text_event` (text mode) and `VoiceWebhook`/`StatusCallbackForm`
(Twilio's webhook forms). For any input each either returns what its consumers rely on or
raises its own protocol error — never another exception — and what Twilio (as the
simulator's `twilio_protocol` builds it) really sends always passes.
"""

from __future__ import annotations

import base64
import binascii
import json
import unicodedata
from collections.abc import Coroutine
from typing import Any, get_args

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from actors.text_serializer import (
    MAX_SILENCE_S,
    MAX_TEXT_CHARS,
    TextProtocolError,
    TextStreamSerializer,
    parse_text_event,
)
from deployments.twilio_forms import (
    ANSWERED_BY_VALUES,
    ATTEMPT_KEY_PATTERN,
    CALL_SID_PATTERN,
    CALL_STATUSES,
    MAX_NUMBER_CHARS,
    TWILIO_DIRECTIONS,
    StatusCallbackForm,
    VoiceWebhook,
    WebhookFormError,
    clean_number,
)
from deployments.twilio_stream import EVENTS, StreamProtocolError, TwilioStreamGuard
from switchboard.caller import twilio_protocol as tp
from switchboard.models import Direction
from switchboard.scenario import parse_scenario
from switchboard.settings import PerformanceSettings

MAX_MESSAGE_BYTES: int = PerformanceSettings.model_fields["max_message_bytes"].default
KEYPAD = "0123456789*#"
STRIPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}

# Strategies shared by the three targets

hex32 = st.binary(min_size=16, max_size=16).map(bytes.hex)
call_sids = hex32.map(lambda digits: "CA" + digits)
stream_sids = hex32.map(lambda digits: "MZ" + digits)
account_sids = hex32.map(lambda digits: "AC" + digits)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
# Text that breaks naive parsers: deep nesting, huge numbers, huge strings, and NaN.
huge_texts = st.builds(
    lambda piece, times: piece * times,
    st.sampled_from(["[", '{"a":', "1", "9" * 7, '"', "\\", "{}", "A", "é", "\x00", "🎉"])
    | st.text(min_size=1, max_size=3),
    st.integers(min_value=1, max_value=80_000),
)
tricky_texts = st.sampled_from(
    [
        "",
        " ",
        "null",
        "NaN",
        "-Infinity",
        "1e400",
        "[]",
        "{}",
        '{"event": null}',
        '{"event": []}',
        '{"event": {}}',
        "\ufeff{}",
        '{"event": "start"',
        '"\\ud800"',
    ]
)
hostile_texts = (
    st.text()
    | huge_texts
    | tricky_texts
    | json_values.map(json.dumps)
    | st.binary(max_size=64).map(lambda raw: raw.decode("latin-1"))
)


@st.composite
def mutated(draw: st.DrawFn, message: dict[str, Any], hostile: st.SearchStrategy) -> dict:
    """`message` with one to three fields, at any depth, deleted or given a hostile value."""
    message = json.loads(json.dumps(message))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        holder: dict[str, Any] = message
        while holder:
            key = draw(st.sampled_from(sorted(holder)))
            if isinstance(holder[key], dict) and holder[key] and draw(st.booleans()):
                holder = holder[key]  # go deeper
            elif draw(st.booleans()):
                del holder[key]
                break
            else:
                holder[key] = draw(hostile)
                break
    return message


# Media Streams: `TwilioStreamGuard.check`

sequence_values = (
    st.integers()
    | st.integers().map(str)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["", " 5", "5 ", "+5", "-1", "1.5", "1e3", "5_0", "٣", "0x10", "9" * 5000])
    | json_values
)
stream_field_values = (
    json_values
    | sequence_values
    | st.sampled_from(["MZ" + "0" * 32, "", "//8=", "not base64!", "audio/l16", "8000", "1"])
)


@st.composite
def twilio_streams(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """A stream as Twilio sends it: connected, start, media/dtmf/mark in any mix, stop."""
    stream_sid, call_sid, account_sid = draw(stream_sids), draw(call_sids), draw(account_sids)
    custom = draw(st.dictionaries(st.text(max_size=12), st.text(max_size=40), max_size=3))
    middle: list[dict[str, Any]] = []
    chunk = 0
    for kind in draw(st.lists(st.sampled_from(["media", "dtmf", "mark"]), max_size=8)):
        if kind == "media":
            chunk += 1
            # Twilio's frames are 160 bytes; a few larger ones do no harm.
            payload = base64.b64encode(draw(st.binary(max_size=320))).decode()
            middle.append(tp.media_message(stream_sid, chunk, chunk * tp.FRAME_MS, payload))
        elif kind == "dtmf":
            middle.append(tp.dtmf_message(stream_sid, draw(st.sampled_from(KEYPAD))))
        else:
            middle.append(tp.mark_message(stream_sid, draw(st.text(max_size=40))))
    messages = [
        tp.connected_message(),
        tp.start_message(stream_sid, call_sid, account_sid, custom),
        *middle,
        tp.stop_message(stream_sid, call_sid, account_sid),
    ]
    # Numbered as the simulated caller (and Twilio) number them: all but `connected`.
    for number, message in enumerate(messages[1:], start=1):
        message["sequenceNumber"] = str(number)
    return stream_sid, messages


def _check_or_refuse(guard: TwilioStreamGuard, raw: str) -> dict | None:
    """The guard's answer: the message, or None when refused. Any other exception fails."""
    try:
        message = guard.check(raw)
    except StreamProtocolError:
        return None
    assert isinstance(message, dict)
    _assert_consumable_stream_message(message)
    return message


def _assert_consumable_stream_message(message: dict[str, Any]) -> None:
    """What the ingress and the session's serializer read without checking again."""
    event = message["event"]
    assert event in EVENTS
    if event == "start":
        start = message["start"]
        assert isinstance(start["callSid"], str)
        assert isinstance(start.get("customParameters") or {}, dict)
    elif event == "media":
        base64.b64decode(message["media"]["payload"], validate=True)
    elif event == "dtmf":
        assert message["dtmf"]["digit"] in KEYPAD and len(message["dtmf"]["digit"]) == 1
    elif event == "mark":
        assert isinstance(message["mark"]["name"], str)


def _guard_in(state: str, stream: list[dict[str, Any]]) -> TwilioStreamGuard:
    """A guard that has accepted the prefix of `stream` that brings it to `state`."""
    guard = TwilioStreamGuard(MAX_MESSAGE_BYTES)
    prefix = {"new": 0, "connected": 1, "started": 2, "stopped": len(stream)}[state]
    for message in stream[:prefix]:
        guard.check(json.dumps(message))
    return guard


@given(
    stream=twilio_streams(),
    state=st.sampled_from(["new", "connected", "started", "stopped"]),
    data=st.data(),
)
def test_stream_guard_answers_any_input_with_a_message_or_a_protocol_error(
    stream: tuple[str, list[dict[str, Any]]], state: str, data: st.DataObject
) -> None:
    _, messages = stream
    guard = _guard_in(state, messages)
    valid_looking = st.sampled_from(messages).flatmap(
        lambda message: mutated(message, stream_field_values)
    )
    raws = data.draw(
        st.lists(hostile_texts | valid_looking.map(json.dumps), min_size=1, max_size=5)
    )
    for raw in raws:
        _check_or_refuse(guard, raw)


@given(stream=twilio_streams())
def test_a_stream_as_twilio_sends_it_is_accepted_in_full(
    stream: tuple[str, list[dict[str, Any]]],
) -> None:
    stream_sid, messages = stream
    guard = TwilioStreamGuard(MAX_MESSAGE_BYTES)
    for message in messages:
        assert _check_or_refuse(guard, json.dumps(message)) == message
    assert guard.stream_sid == stream_sid


@given(stream=twilio_streams(), data=st.data())
def test_nothing_is_accepted_after_stop(
    stream: tuple[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    stream_sid, messages = stream
    guard = _guard_in("stopped", messages)
    # What would be valid had the stream not stopped, correctly numbered, or anything.
    follow_up = st.sampled_from(messages).map(
        lambda message: json.dumps({**message, "sequenceNumber": str(len(messages) + 1)})
    )
    raw = data.draw(follow_up | hostile_texts)
    assert _check_or_refuse(guard, raw) is None


@given(stream=twilio_streams(), other_sid=stream_sids | json_values, data=st.data())
def test_a_message_for_another_stream_is_refused(
    stream: tuple[str, list[dict[str, Any]]], other_sid: Any, data: st.DataObject
) -> None:
    stream_sid, messages = stream
    assume(other_sid != stream_sid)
    guard = _guard_in("started", messages)
    after_start = messages[2:]
    message = {**data.draw(st.sampled_from(after_start)), "streamSid": other_sid}
    assert _check_or_refuse(guard, json.dumps(message)) is None


not_integer_sequences = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.sampled_from(["", " 5", "5 ", "+5", "1.5", "1e3", "5_0", "٣", "0x10", "9" * 5000])
    | st.text().filter(lambda text: not (text.isascii() and text.isdigit()))
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)


@given(stream=twilio_streams(), data=st.data())
def test_sequence_numbers_that_go_backwards_or_are_not_integers_are_refused(
    stream: tuple[str, list[dict[str, Any]]], data: st.DataObject
) -> None:
    _, messages = stream
    stop_at = data.draw(st.integers(min_value=2, max_value=len(messages) - 1))
    guard = TwilioStreamGuard(MAX_MESSAGE_BYTES)
    for message in messages[:stop_at]:
        guard.check(json.dumps(message))
    last = stop_at - 1
    backwards = st.integers(max_value=last) | st.integers(max_value=last).map(str)
    sequence = data.draw(backwards | not_integer_sequences)
    message = {**messages[stop_at], "sequenceNumber": sequence}
    assert _check_or_refuse(guard, json.dumps(message)) is None


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


@given(stream=twilio_streams(), payload=st.text().filter(lambda text: not _is_base64(text)))
def test_media_that_is_not_base64_is_refused(
    stream: tuple[str, list[dict[str, Any]]], payload: str
) -> None:
    stream_sid, messages = stream
    guard = _guard_in("started", messages)
    message = tp.media_message(stream_sid, 1, 20, payload)
    message["sequenceNumber"] = "3"
    assert _check_or_refuse(guard, json.dumps(message)) is None


@given(
    size=st.integers(min_value=1, max_value=3 * MAX_MESSAGE_BYTES), char=st.sampled_from("aé€🎉")
)
def test_a_message_larger_than_the_limit_in_utf8_bytes_is_refused(size: int, char: str) -> None:
    raw = json.dumps({"event": "connected", "pad": char * size}, ensure_ascii=False)
    accepted = _check_or_refuse(TwilioStreamGuard(MAX_MESSAGE_BYTES), raw) is not None
    assert accepted == (len(raw.encode()) <= MAX_MESSAGE_BYTES)


# Inputs that got past the guard or crashed it before it was fixed, pinned whatever the
# generator happens to draw.
_SID = "MZ" + "0" * 32
_START = {"event": "start", "streamSid": _SID, "start": {"callSid": "CA" + "0" * 32}}


def _with(message: dict[str, Any], **fields: Any) -> str:
    return json.dumps({**message, **fields})


def _start_with(**fields: Any) -> str:
    return _with(_START, start={**_START["start"], **fields})


@pytest.mark.parametrize(
    ("state", "raw"),
    [
        ("new", "[" * 5000 + "]" * 5000),  # RecursionError
        ("new", "1" * 5000),  # ValueError: more digits than int() converts
        ("new", '{"event": []}'),  # TypeError: unhashable
        ("new", '{"event": {"a": 1}}'),
        ("new", '{"event": "connected", "sequenceNumber": 1e400}'),  # OverflowError
        ("new", _with({"event": "connected"}, sequenceNumber=3.7)),
        ("new", _with({"event": "connected"}, sequenceNumber=True)),
        ("new", _with({"event": "connected"}, sequenceNumber=" 5")),
        ("new", '{"event": "connected", "pad": "' + "é" * 40_000 + '"}'),  # 80 kB, 40 k chars
        ("connected", _start_with(mediaFormat=[1])),  # AttributeError
        ("connected", _start_with(mediaFormat={"encoding": "audio/x-mulaw", "sampleRate": "x"})),
        ("connected", _start_with(mediaFormat={"encoding": "audio/x-mulaw", "sampleRate": []})),
        ("connected", _start_with(customParameters=["token"])),  # crashed the ingress
        ("started", _with({"event": "dtmf", "streamSid": _SID}, dtmf={"digit": 1})),
        ("started", _with({"event": "mark", "streamSid": _SID})),  # crashed the serializer
        ("started", _with({"event": "mark", "streamSid": _SID}, mark=None)),
        ("started", _with({"event": "stop", "streamSid": "MZ" + "9" * 32})),
    ],
)
def test_inputs_the_properties_found_are_refused_by_the_guard(state: str, raw: str) -> None:
    guard = TwilioStreamGuard(MAX_MESSAGE_BYTES)
    if state in ("connected", "started"):
        guard.check(json.dumps(tp.connected_message()))
    if state == "started":
        guard.check(json.dumps(_START))
    with pytest.raises(StreamProtocolError):
        guard.check(raw)


# Text mode: `parse_text_event`

text_events = st.one_of(
    st.fixed_dictionaries(
        {"event": st.just("start"), "callSid": st.text(min_size=1, max_size=64)},
        optional={
            "from": st.text(max_size=32),
            "to": st.text(max_size=32),
            "direction": st.sampled_from(["inbound", "outbound"]),
            "campaign_id": st.text(max_size=36) | st.integers(min_value=0),
        },
    ),
    st.fixed_dictionaries({"event": st.just("text"), "text": st.text(max_size=MAX_TEXT_CHARS)}),
    st.fixed_dictionaries({"event": st.just("dtmf"), "digit": st.sampled_from(KEYPAD)}),
    st.fixed_dictionaries(
        {
            "event": st.just("silence"),
            "seconds": st.integers(min_value=0, max_value=int(MAX_SILENCE_S))
            | st.floats(min_value=0, max_value=MAX_SILENCE_S),
        }
    ),
    st.just({"event": "stop"}),
)
text_field_values = json_values | st.sampled_from(
    ["start", "text", "dtmf", "silence", "stop", "1", "#", "**", "inbound", "sideways"]
)


def _assert_documented_text_event(event: dict[str, Any]) -> None:
    """The event is one the protocol documents, with the documented field types."""
    kind = event["event"]
    if kind == "start":
        assert isinstance(event["callSid"], str) and event["callSid"]
        for name in ("from", "to"):
            assert isinstance(event.get(name, ""), str)
        assert event.get("direction", "inbound") in get_args(Direction)
        campaign = event.get("campaign_id", "")
        assert isinstance(campaign, str | int) and not isinstance(campaign, bool)
    elif kind == "text":
        assert isinstance(event["text"], str) and len(event["text"]) <= MAX_TEXT_CHARS
    elif kind == "dtmf":
        assert isinstance(event["digit"], str) and len(event["digit"]) == 1
        assert event["digit"] in KEYPAD
    elif kind == "silence":
        seconds = event["seconds"]
        assert isinstance(seconds, int | float) and not isinstance(seconds, bool)
        assert 0 <= seconds <= MAX_SILENCE_S
    else:
        assert kind == "stop"


@given(
    raw=hostile_texts
    | text_events.flatmap(lambda event: mutated(event, text_field_values)).map(json.dumps)
)
def test_text_parser_answers_any_input_with_a_documented_event_or_a_protocol_error(
    raw: str,
) -> None:
    try:
        event = parse_text_event(raw)
    except TextProtocolError:
        return
    _assert_documented_text_event(event)


def _result_of(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """The value of a coroutine that never suspends, without the cost of an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise AssertionError("the coroutine suspended")


@given(event=text_events)
def test_every_documented_text_event_round_trips_and_becomes_a_frame(
    event: dict[str, Any],
) -> None:
    parsed = parse_text_event(json.dumps(event))
    assert parsed == event
    _assert_documented_text_event(parsed)
    frame = _result_of(TextStreamSerializer("CA1").deserialize(json.dumps(parsed)))
    assert (frame is None) == (event["event"] == "start")


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 5000 + "]" * 5000,  # RecursionError
        "1" * 5000,  # ValueError: more digits than int() converts
        '{"event": "dtmf", "digit": []}',  # TypeError: unhashable
        '{"event": "silence", "seconds": true}',
        '{"event": "start"}',
        '{"event": "start", "callSid": null}',
        '{"event": "start", "callSid": {"a": 1}}',  # became the CallSid "{'a': 1}"
        '{"event": "start", "callSid": "CA1", "from": 15551230001}',
        '{"event": "start", "callSid": "CA1", "direction": "sideways"}',
        '{"event": "start", "callSid": "CA1", "campaign_id": [1]}',
    ],
)
def test_inputs_the_properties_found_are_refused_by_the_text_parser(raw: str) -> None:
    # Each of these crashed the parser or passed it without the documented field types.
    with pytest.raises(TextProtocolError):
        parse_text_event(raw)


# Webhook forms: `VoiceWebhook.from_form` and `StatusCallbackForm.from_form`

e164_numbers = st.builds(
    "+{}{}".format,
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=10**5, max_value=10**14 - 1).map(str),
)
identity_names = st.text(
    alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=30
)
odd_identities = (
    identity_names.map(lambda name: "client:" + name)
    | st.builds(
        "sip:{}@{}".format,
        identity_names,
        st.sampled_from(["example.sip.twilio.com", "10.0.0.1", "pbx.example.org:5060"]),
    )
    | st.sampled_from(["anonymous", "Anonymous", "+266696687", "", "7378742833", "restricted"])
)
attempt_keys = st.from_regex(ATTEMPT_KEY_PATTERN, fullmatch=True)
form_keys = st.sampled_from(
    ["CallSid", "Direction", "From", "To", "AnsweredBy", "CallStatus", "CallDuration"]
    + ["SequenceNumber", "AccountSid", "Caller", "Called", "attempt"]
) | st.text(max_size=12)
form_values = (
    st.text(max_size=40)
    | huge_texts
    | call_sids
    | st.sampled_from(sorted(TWILIO_DIRECTIONS | ANSWERED_BY_VALUES | CALL_STATUSES))
    | e164_numbers
    | odd_identities
    | st.none()
    | st.integers()
)
forms = st.dictionaries(form_keys, form_values, max_size=8)
queries = (
    st.none()
    | st.dictionaries(form_keys, form_values, max_size=3)
    | attempt_keys.map(lambda key: {"attempt": key})
)


def _assert_number_rule(number: str) -> None:
    assert len(number) <= MAX_NUMBER_CHARS
    assert number == number.strip()
    assert not any(unicodedata.category(char) in STRIPPED_CATEGORIES for char in number)


def _assert_voice_rules(webhook: VoiceWebhook, form: dict[str, str]) -> None:
    assert CALL_SID_PATTERN.fullmatch(webhook.call_sid)
    assert webhook.twilio_direction in TWILIO_DIRECTIONS
    assert webhook.direction == ("inbound" if form["Direction"] == "inbound" else "outbound")
    _assert_number_rule(webhook.lead_number)
    _assert_number_rule(webhook.agent_number)
    lead_key, agent_key = ("From", "To") if webhook.direction == "inbound" else ("To", "From")
    assert webhook.lead_number == clean_number(form[lead_key])
    assert webhook.agent_number == clean_number(form[agent_key])
    assert webhook.answered_by is None or webhook.answered_by in ANSWERED_BY_VALUES
    assert webhook.call_status is None or webhook.call_status in CALL_STATUSES
    assert webhook.attempt is None or ATTEMPT_KEY_PATTERN.fullmatch(webhook.attempt)


def _parties(draw: st.DrawFn) -> tp.CallParties:
    """Who calls whom, numbered as Twilio numbers phones, clients and SIP endpoints."""
    return tp.CallParties(
        draw(call_sids),
        draw(account_sids),
        draw(st.sampled_from(get_args(Direction))),
        draw(e164_numbers | odd_identities),
        draw(e164_numbers | odd_identities),
    )


@st.composite
def twilio_voice_forms(draw: st.DrawFn) -> dict[str, str]:
    """A voice webhook form as Twilio posts it."""
    answered_by = draw(st.none() | st.sampled_from(sorted(ANSWERED_BY_VALUES)))
    return tp.voice_webhook_params(_parties(draw), answered_by)


@st.composite
def twilio_status_forms(draw: st.DrawFn) -> dict[str, str]:
    """A status callback form as Twilio posts it."""
    return tp.status_callback_params(
        _parties(draw),
        draw(st.sampled_from(sorted(CALL_STATUSES))),
        draw(st.floats(min_value=0, max_value=24 * 3600)),
        draw(st.integers(min_value=0, max_value=1000)),
    )


def _mutated_form(form: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    return mutated(form, form_values)


@given(data=st.data())
def test_any_voice_form_gives_a_webhook_that_keeps_the_rules_or_a_form_error(
    data: st.DataObject,
) -> None:
    form = data.draw(forms | twilio_voice_forms().flatmap(_mutated_form))
    query = data.draw(queries)
    try:
        webhook = VoiceWebhook.from_form(form, query)
    except WebhookFormError as exc:
        assert str(exc).startswith(f"{exc.field}: ")
        return
    _assert_voice_rules(webhook, form)
    assert webhook.attempt == (query or {}).get("attempt")


@given(data=st.data())
def test_any_status_form_gives_a_callback_that_keeps_the_rules_or_a_form_error(
    data: st.DataObject,
) -> None:
    form = data.draw(forms | twilio_status_forms().flatmap(_mutated_form))
    try:
        callback = StatusCallbackForm.from_form(form)
    except WebhookFormError as exc:
        assert str(exc).startswith(f"{exc.field}: ")
        return
    assert CALL_SID_PATTERN.fullmatch(callback.call_sid)
    assert callback.call_status in CALL_STATUSES
    assert callback.twilio_direction in TWILIO_DIRECTIONS
    _assert_number_rule(callback.lead_number)
    _assert_number_rule(callback.agent_number)
    for count in (callback.call_duration_s, callback.sequence_number):
        assert count is None or (isinstance(count, int) and count >= 0)


@given(
    lead=e164_numbers,
    agent=e164_numbers,
    direction=st.sampled_from(get_args(Direction)),
    answered_by=st.none() | st.sampled_from(sorted(ANSWERED_BY_VALUES)),
    call_sid=call_sids,
    attempt=st.none() | attempt_keys,
)
def test_a_voice_webhook_as_twilio_posts_it_parses_with_the_lead_by_direction(
    lead: str,
    agent: str,
    direction: Direction,
    answered_by: str | None,
    call_sid: str,
    attempt: str | None,
) -> None:
    scenario = parse_scenario(
        {"name": "s", "from": lead, "to": agent, "direction": direction, "lines": ["Hi"]}
    )
    parties = tp.CallParties.for_scenario(scenario, call_sid=call_sid, account_sid="AC1")
    form = tp.voice_webhook_params(parties, answered_by)
    webhook = VoiceWebhook.from_form(form, None if attempt is None else {"attempt": attempt})
    assert (webhook.call_sid, webhook.direction) == (call_sid, direction)
    assert (webhook.lead_number, webhook.agent_number) == (lead, agent)
    assert webhook.answered_by == (answered_by if direction == "outbound" else None)
    assert webhook.attempt == attempt
    pending = webhook.pending_call()
    assert (pending.from_number, pending.to_number, pending.direction) == (lead, agent, direction)


@given(form=twilio_voice_forms())
def test_client_and_sip_identities_and_anonymous_callers_pass_unchanged(
    form: dict[str, str],
) -> None:
    webhook = VoiceWebhook.from_form(form)
    _assert_voice_rules(webhook, form)
    assert {webhook.lead_number, webhook.agent_number} == {form["From"], form["To"]}


@given(
    lead=e164_numbers,
    agent=e164_numbers,
    direction=st.sampled_from(get_args(Direction)),
    status=st.sampled_from(sorted(CALL_STATUSES)),
    duration_s=st.floats(min_value=0, max_value=24 * 3600),
    sequence=st.integers(min_value=0, max_value=1000),
    call_sid=call_sids,
)
def test_a_status_callback_as_twilio_posts_it_parses_with_the_lead_by_direction(
    lead: str,
    agent: str,
    direction: Direction,
    status: str,
    duration_s: float,
    sequence: int,
    call_sid: str,
) -> None:
    scenario = parse_scenario(
        {"name": "s", "from": lead, "to": agent, "direction": direction, "lines": ["Hi"]}
    )
    parties = tp.CallParties.for_scenario(scenario, call_sid=call_sid, account_sid="AC1")
    form = tp.status_callback_params(parties, status, duration_s, sequence)
    callback = StatusCallbackForm.from_form(form)
    assert (callback.call_sid, callback.call_status) == (call_sid, status)
    assert (callback.direction, callback.lead_number, callback.agent_number) == (
        direction,
        lead,
        agent,
    )
    assert callback.call_duration_s == round(duration_s)
    assert callback.sequence_number == sequence
    assert callback.final == (status not in ("queued", "initiated", "ringing", "in-progress"))


bad_field_values = {
    "CallSid": st.text().filter(lambda text: not CALL_SID_PATTERN.fullmatch(text)),
    "Direction": st.text().filter(lambda text: text not in TWILIO_DIRECTIONS),
    "AnsweredBy": st.text().filter(lambda text: text not in ANSWERED_BY_VALUES),
    "CallStatus": st.text().filter(lambda text: text not in CALL_STATUSES),
    "From": st.integers(MAX_NUMBER_CHARS + 1, 10 * MAX_NUMBER_CHARS).map(lambda n: "+" * n),
    "To": st.text(min_size=MAX_NUMBER_CHARS + 1, max_size=2 * MAX_NUMBER_CHARS),
}


@given(data=st.data(), field=st.sampled_from(sorted(bad_field_values)))
def test_a_bad_or_missing_field_is_named_in_the_error(data: st.DataObject, field: str) -> None:
    form = data.draw(twilio_voice_forms())
    if data.draw(st.booleans()) and field not in ("AnsweredBy", "CallStatus"):
        del form[field]
        problem = "missing"
    else:
        form[field] = data.draw(bad_field_values[field])
        problem = ""
    try:
        VoiceWebhook.from_form(form)
    except WebhookFormError as exc:
        assert exc.field == field and str(exc).startswith(f"{field}: {problem}")
    else:
        raise AssertionError(f"a form with a bad {field} was accepted")


@given(number=st.text(max_size=MAX_NUMBER_CHARS), call_sid=call_sids)
def test_any_number_within_the_cap_passes_without_control_characters(
    number: str, call_sid: str
) -> None:
    form = {"CallSid": call_sid, "Direction": "inbound", "From": number, "To": "+15557650000"}
    webhook = VoiceWebhook.from_form(form)
    _assert_number_rule(webhook.lead_number)
    kept = "".join(char for char in number if unicodedata.category(char) not in STRIPPED_CATEGORIES)
    assert webhook.lead_number == kept.strip()


@given(key=st.text().filter(lambda text: not ATTEMPT_KEY_PATTERN.fullmatch(text)))
def test_an_attempt_key_that_is_not_a_dialer_key_is_refused(key: str) -> None:
    form = {"CallSid": "CA" + "0" * 32, "Direction": "outbound-api", "From": "+1", "To": "+2"}
    try:
        VoiceWebhook.from_form(form, {"attempt": key})
    except WebhookFormError as exc:
        assert exc.field == "attempt"
    else:
        raise AssertionError(f"attempt key {key!r} was accepted")
