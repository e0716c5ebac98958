"""What the session's `ConversationProcessor` counts of a call's usage, in a Pipecat
pipeline (Pipecat's own test runner): the caller's speech is billed by the audio heard."""

from __future__ import annotations

from pipecat.frames.frames import (
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from actors.pipeline import TWILIO_SAMPLE_RATE
from actors.usage import CallUsage
from tests.test_conversation_follow_up import Session, processor


def audio(seconds: float) -> list[InputAudioRawFrame]:
    """`seconds` of caller audio in Twilio's 20 ms frames."""
    frame = bytes(TWILIO_SAMPLE_RATE // 50 * 2)
    return [
        InputAudioRawFrame(audio=frame, sample_rate=TWILIO_SAMPLE_RATE, num_channels=1)
        for _ in range(round(seconds * 50))
    ]


async def test_speech_is_billed_by_the_audio_heard_when_frames_arrive_in_a_burst() -> None:
    # A busy machine held the frames back: 1.5 s of a caller's audio, ending in the VAD's
    # 0.5 s of silence, is processed in a few milliseconds. By the clock the stop came
    # before the start plus its silence, and the turn was billed -0.5 s (the budget
    # refused the call's usage as negative).
    usage = CallUsage()
    frames = [
        SleepFrame(0.2),
        VADUserStartedSpeakingFrame(start_secs=0.15),
        *audio(1.5),
        VADUserStoppedSpeakingFrame(stop_secs=0.5),
        *audio(0.4),  # silence after the turn is not speech
        VADUserStartedSpeakingFrame(start_secs=0.15),
        *audio(0.7),
        VADUserStoppedSpeakingFrame(stop_secs=0.5),
        SleepFrame(0.2),
    ]
    await run_test(processor(Session(None), mode="audio", usage=usage), frames_to_send=frames)
    assert abs(usage.stt_seconds - (1.0 + 0.2)) < 1e-6
