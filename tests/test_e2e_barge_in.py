"""Against a real `serve run`: a caller who talks over the agent stops it. Twilio is told
to `clear` the audio it still holds, and the agent answers what the caller said."""

from __future__ import annotations

import asyncio

from switchboard.caller.speech import synthesize_ulaw
from tests.e2e import RunningSwitchboard, live_audio_call


async def test_talking_over_the_agent_clears_its_audio_and_gets_an_answer(
    switchboard: RunningSwitchboard,
) -> None:
    interruption = await synthesize_ulaw("Sorry, wait, who is calling please?")
    async with live_audio_call(switchboard) as call:
        while (await call.next_event())["event"] != "media":
            pass  # the greeting has started
        speaking = asyncio.create_task(call.speak(interruption))
        async with asyncio.timeout(15):
            while (event := await call.next_event())["event"] != "clear":
                pass
        assert event["streamSid"] == call.stream_sid
        await speaking
        # The agent's answer: new audio, then the mark that ends its turn.
        answer: list[str] = []
        async with asyncio.timeout(30):
            while (event := await call.next_event())["event"] != "mark":
                answer.append(event["event"])
        assert "media" in answer
        await call.hang_up()
    report = await switchboard.report(call.call_sid)
    assert report["turns"][0]["user_text"], report["turns"]
    assert report["turns"][0]["agent_text"]
