"""Against a real `serve run`: a caller who asks to be sent information gets a text with
the link through Twilio's Messages API (the sandbox), and the call ends `nurture` with the
follow-up in its report. Text mode: a call of a few seconds on the session's server."""

from __future__ import annotations

import json

from switchboard.scenario import parse_scenario
from tests.e2e import INFO_LINK, RunningSwitchboard, live_text_call

AGENT_NUMBER = "+15557650000"


async def test_a_caller_who_asks_for_information_is_texted_the_link_and_ends_nurture(
    switchboard: RunningSwitchboard,
) -> None:
    lead = "+15551230042"
    scenario = parse_scenario({
        "name": "asks-for-information",
        "from": lead,
        "to": AGENT_NUMBER,
        "lines": [
            "Hi, this is Sam.",
            "Can you just send me some information?",
            "Yes please.",
        ],
    })
    result = await switchboard.call(scenario, text=True)
    report = await switchboard.report(result.call_sid)
    heard = json.dumps([(t["user_text"], t["agent_text"]) for t in report["turns"]], indent=1)

    # Out of lines once the agent has said it is texting, the scripted caller may hang up
    # before the goodbye (the yes-turn is said in two parts); the record holds both.
    assert result.ended_by in {"agent", "caller"}, heard
    assert report["outcome"] == "nurture", heard
    follow_up = report["follow_up"]
    assert follow_up is not None, heard
    assert follow_up["kind"] == "sms_link" and follow_up["status"] == "sent"
    assert follow_up["to"] == lead and follow_up["link"] == INFO_LINK
    assert follow_up["message_sid"].startswith("SM") and follow_up["error"] is None

    (text,) = switchboard.sandbox_messages(lead)  # one text, however the turn ran
    assert text["sid"] == follow_up["message_sid"]
    assert INFO_LINK in text["body"] and text["from"] == AGENT_NUMBER
    assert text["status"] == "queued"

    offer, yes = report["turns"][-2:]
    assert "text you a link" in offer["agent_text"]
    assert yes["user_text"] == "Yes please."
    assert "texting you the link" in yes["agent_text"] and "on its way" in yes["agent_text"]
    assert yes["agent_text"].endswith("Goodbye.")
    assert ("wrap_up", "info_requested") in {
        (t["to_agent"], t["trigger"]) for t in report["transitions"]}


async def test_a_text_twilio_refuses_is_promised_by_email_and_recorded_failed(
    switchboard: RunningSwitchboard,
) -> None:
    lead = "555-123-0043"  # not E.164: Twilio answers 21211
    async with live_text_call(switchboard, from_number=lead) as call:
        await call.say("Hi, this is Sam.")
        offer = await call.say("Can you just send me some information?")
        closing = await call.say("Yes please.")
        hangup = await call.agent_turn()
    report = await switchboard.report(call.call_sid)

    assert "text you a link" in " ".join(offer.sentences)  # worth a try: Twilio decides
    assert hangup.hung_up

    assert closing.sentences[0] == "Great, I'm texting you the link now."
    assert "Sorry, I couldn't send a text to this number." in closing.sentences
    assert "I'll have someone email you the details instead." in closing.sentences
    assert report["outcome"] == "nurture"
    follow_up = report["follow_up"]
    assert follow_up["kind"] == "sms_link" and follow_up["status"] == "failed"
    assert "21211" in follow_up["error"] and follow_up["message_sid"] is None
    assert any("follow-up text" in line and "21211" in line for line in report["errors"])
    assert switchboard.sandbox_messages(lead) == []


async def test_a_withheld_number_is_offered_an_email_from_a_person_instead(
    switchboard: RunningSwitchboard,
) -> None:
    async with live_text_call(switchboard, from_number="anonymous") as call:
        await call.say("Hi, this is Sam.")
        offer = await call.say("Can you just send me some information?")
        closing = await call.say("Yes please.")
        if not closing.hung_up:
            assert (await call.agent_turn()).hung_up
    report = await switchboard.report(call.call_sid)

    assert "email you the details" in " ".join(offer.sentences)
    assert closing.sentences[0] == "Great, someone from our team will email you the details."
    assert report["outcome"] == "nurture"
    follow_up = report["follow_up"]
    assert follow_up["kind"] == "email" and follow_up["status"] == "requested"
    assert follow_up["message_sid"] is None
    assert switchboard.sandbox_messages("anonymous") == []

