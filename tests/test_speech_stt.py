"""PocketSphinx on phone audio: eSpeak speaks caller answers at 8 kHz μ-law, we transcribe.

The word error rate is measured on two sets: answers phrased for these tests,
and the caller lines of the public scenarios (a test set: nothing in the product
was built from them). The rates are printed (`pytest -s`) and bounded loosely;
the assertions that matter are the words the agents act on.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import numpy as np
import pytest
import yaml
from pipecat.audio.utils import create_file_resampler, pcm_to_ulaw, ulaw_to_pcm
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import (
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transcriptions.language import Language

from actors.pipeline import make_vad, make_vad_processor
from actors.speech.confidence import transcript_confidence
from actors.speech.espeak import synthesize
from actors.speech.language_model import LanguageModel, language_model
from actors.speech.pocketsphinx_stt import (
    PocketSphinxDecoder,
    PocketSphinxSTTService,
    Recognition,
)
from actors.speech.spoken import spoken_words
from graph.understanding.caller_line import understand
from graph.workflow.script import all_prompts
from switchboard.settings import load_settings
from tests.e2e import SCENARIOS

RATE = 8000  # Twilio

#: Answers written for these tests, with the phrase each must keep (or None).
OWN_ANSWERS: list[tuple[str, str | None]] = [
    ("Hello?", "hello"),
    ("Yeah, who's this?", None),
    ("What company are you with?", "company"),
    ("Okay, I have a couple of minutes.", "a couple of minutes"),
    ("We miss a lot of calls when the office is closed.", "a lot of calls"),
    ("Our front desk is swamped every morning.", None),
    ("We're a small dental practice, we don't really need that.", "we don't really need"),
    ("Our budget is maybe thirty thousand a year.", "thousand a year"),
    ("Probably a hundred and fifty thousand.", "a hundred and fifty thousand"),
    ("Maybe around forty thousand dollars per year.", "forty thousand dollars"),
    ("I'm the owner, so it's my decision.", "the owner"),
    ("My business partner and I decide together.", "decide together"),
    ("I'd have to run it by my boss.", "my boss"),
    ("We want it within three months.", "within three months"),
    ("We'd like to get started next quarter.", "get started"),
    ("Wednesday at three in the afternoon works.", "three in the afternoon"),
    ("How about Friday morning?", "friday morning"),
    ("Tomorrow at two thirty.", "tomorrow at two thirty"),
    ("Put me on your do not call list.", "do not call list"),
    ("Don't call me again.", "call me again"),
    ("Stop calling me.", "stop calling me"),
    ("Take me off your list.", "take me off your list"),
    ("Can you transfer me to a real person?", "a real person"),
    ("No, not at all.", "not at all"),
]


def scenario_lines() -> list[str]:
    lines = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        lines += [x for x in yaml.safe_load(path.read_text())["lines"] if isinstance(x, str)]
    return lines


async def phone_audio(text: str) -> bytes:
    """`text` as a caller's phone carries it: 8 kHz, μ-law there and back."""
    resampler = create_file_resampler()
    pcm = await synthesize(text, sample_rate=RATE)
    ulaw = await pcm_to_ulaw(pcm, RATE, RATE, resampler)
    return await ulaw_to_pcm(ulaw, RATE, RATE, resampler)


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def segment(speech: bytes) -> bytes:
    """What the segmented service decodes: VAD pre-roll, speech, 0.5 s of padding."""
    return silence(0.3) + speech + silence(0.5)


def word_errors(reference: list[str], hypothesis: list[str]) -> int:
    row = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, start=1):
        previous, row = row, [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, start=1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ref != hyp))
    return row[-1]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LanguageModel:
    # The product's model: the script's own prompts plus the general answers.
    cache = tmp_path_factory.getbasetemp() / "speech-cache"
    return language_model(all_prompts(load_settings()), cache_dir=cache)


@pytest.fixture(scope="module")
def decoder(model: LanguageModel) -> PocketSphinxDecoder:
    return PocketSphinxDecoder(model)


async def transcribe_all(
    decoder: PocketSphinxDecoder, lines: list[str]
) -> list[tuple[str, Recognition]]:
    audio = await asyncio.gather(*(phone_audio(line) for line in lines))
    return [(line, decoder.decode(segment(a), RATE)) for line, a in zip(lines, audio, strict=True)]


def report(name: str, results: list[tuple[str, Recognition]]) -> float:
    errors = words = 0
    for line, recognition in results:
        reference = spoken_words(line)
        errors += word_errors(reference, spoken_words(recognition.text))
        words += len(reference)
    audio = sum(r.audio_seconds for _, r in results)
    decode = sum(r.decode_seconds for _, r in results)
    rate = errors / words
    print(
        f"\n{name}: WER {rate:.1%} ({errors}/{words} words), real-time factor {decode / audio:.2f}"
    )
    for line, recognition in results:
        print(f"  {line!r} -> {recognition.text!r}")
    return rate


async def test_own_answers_survive_the_phone(decoder: PocketSphinxDecoder) -> None:
    results = await transcribe_all(decoder, [line for line, _ in OWN_ANSWERS])
    rate = report("own answers", results)
    heard = {line: " ".join(spoken_words(r.text)) for line, r in results}
    kept = [phrase for line, phrase in OWN_ANSWERS if phrase and phrase in heard[line]]
    wanted = [phrase for _, phrase in OWN_ANSWERS if phrase]
    # Measured 2026-11: WER ~19 %, 18/22 phrases kept. Bounds leave room for noise.
    assert rate < 0.55
    assert len(kept) >= 0.75 * len(wanted), set(wanted) - set(kept)


#: Facts the agents act on, and the scenario line that states each.
SCENARIO_FACTS = {
    "fifty thousand dollars": "Our budget for this is around fifty thousand dollars a year.",
    "twenty thousand dollars": "We could probably spend twenty thousand dollars on it.",
    "one hundred thousand dollars": "About one hundred thousand dollars this year.",
    "three months": "We want something live within three months.",
    "within a month": "As soon as possible, within a month.",
    "my boss": "I would have to run it by my boss, she makes these decisions.",
    "it is my call": "I am the chief executive, it is my call.",
    "the decision is mine": "I run operations, so the decision is mine.",
    "take me off your list": (
        "I am not interested. Please take me off your list and do not call me again."
    ),
    "do not call me again": (
        "I am not interested. Please take me off your list and do not call me again."
    ),
    "a real person": "Can I just talk to a real person please?",
    "call me back": "Sure, call me back in a few months.",
    "no budget": "We have no budget for anything like this.",
    "nobody answers the phone": (
        "We lose a lot of leads because nobody answers the phone after hours."
    ),
    "who is calling": "Hello, who is calling?",
}
#: Heard in every measurement so far; the agents' main decisions hang on them.
ALWAYS_HEARD = {"fifty thousand dollars", "my boss", "take me off your list", "a real person"}


async def test_scenario_lines_survive_the_phone(decoder: PocketSphinxDecoder) -> None:
    lines = scenario_lines()
    assert set(SCENARIO_FACTS.values()) <= set(lines)
    results = await transcribe_all(decoder, lines)
    rate = report("scenario lines", results)
    heard = {line: " ".join(spoken_words(r.text)) for line, r in results}
    kept = {fact for fact, line in SCENARIO_FACTS.items() if fact in heard[line]}
    print(f"facts heard: {len(kept)}/{len(SCENARIO_FACTS)}; lost: {set(SCENARIO_FACTS) - kept}")
    assert kept >= ALWAYS_HEARD
    # Measured 2026-11: WER ~32 %, 11 of 15 facts heard (8 kHz eSpeak voice:
    # a harsh test; "do not" tends to come out as "look", "the decision is mine"
    # as other words). Bounds leave room for run-to-run variation.
    assert len(kept) >= 0.6 * len(SCENARIO_FACTS)
    assert rate < 0.45


async def heard(decoder: PocketSphinxDecoder, text: str) -> str:
    """What the decoder makes of `text` spoken at 8 kHz, as one VAD segment."""
    return decoder.decode(segment(await phone_audio(text)), RATE).text


# Answers phrased for these tests (neither the scenarios' lines nor the tuning
# set of load_tests/bench_recognition.py): at 8 kHz the words the agents act on
# must come through well enough for graph/ to read the fact.


@pytest.mark.parametrize(
    ("line", "months"),
    [
        ("We'd want it running within four months.", 4),
        ("Hopefully in about three months.", 3),
        ("We plan to go live in six weeks.", 1.5),
        ("Within two to three months.", 3),
        ("We hope to launch within eight weeks.", 2),
        ("Within three months, hopefully.", 3),
    ],
)
async def test_a_timeline_at_8_khz_is_heard_so_the_understanding_reads_the_months(
    decoder: PocketSphinxDecoder, line: str, months: float
) -> None:
    text = await heard(decoder, line)
    assert understand(text, expecting="timeline").timeline_months == months, text


@pytest.mark.parametrize(
    "line",
    [
        "I'm the owner, it's my call.",
        "I run the office, so I decide.",
        "I make the final decision.",
    ],
)
async def test_who_decides_at_8_khz_is_heard_so_the_understanding_reads_the_decider(
    decoder: PocketSphinxDecoder, line: str
) -> None:
    text = await heard(decoder, line)
    assert understand(text, expecting="authority").decision_maker is True, text


@pytest.mark.parametrize(
    "line",
    [
        "Don't call this number again.",
        "Take me off your calling list.",
        "Never contact me again.",
        "Please don't contact me again.",
    ],
)
async def test_an_opt_out_at_8_khz_is_heard_so_the_understanding_reads_it(
    decoder: PocketSphinxDecoder, line: str
) -> None:
    text = await heard(decoder, line)
    assert understand(text).opt_out, text


@pytest.mark.parametrize(
    ("line", "usd"),
    [
        ("We could spend around fifty five thousand a year.", 55_000),
        ("Our budget is about seventy thousand dollars.", 70_000),
        ("Maybe forty grand.", 40_000),
        ("We could do about eighty thousand a year.", 80_000),
    ],
)
async def test_an_amount_at_8_khz_is_heard_so_the_understanding_reads_the_budget(
    decoder: PocketSphinxDecoder, line: str, usd: float
) -> None:
    text = await heard(decoder, line)
    assert understand(text, expecting="budget").budget_usd == usd, text


@pytest.mark.parametrize(
    ("line", "yes"), [("Yes, that works.", True), ("No, I don't think so.", False)]
)
async def test_yes_and_no_at_8_khz_are_heard_as_such(
    decoder: PocketSphinxDecoder, line: str, yes: bool
) -> None:
    text = await heard(decoder, line)
    assert understand(text).affirmative is yes, text


async def test_silence_and_noise_free_gaps_are_no_words(decoder: PocketSphinxDecoder) -> None:
    assert decoder.decode(silence(1.0), RATE).text == ""
    assert decoder.decode(b"", RATE).text == ""
    assert decoder.decode(silence(0.01), RATE).text == ""  # shorter than one analysis window


def garbled(pcm: bytes, seed: int = 7) -> bytes:
    """`pcm` under loud white noise (about the speech's own level): a line nobody
    could make out."""
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.int32)
    noise = np.random.default_rng(seed).normal(0, 3000, len(samples)).astype(np.int32)
    return np.clip(samples + noise, -32768, 32767).astype(np.int16).tobytes()


async def test_a_clear_answer_is_heard_sure_enough_to_act_on_and_a_garbled_one_is_not(
    decoder: PocketSphinxDecoder,
) -> None:
    threshold = load_settings().agent_integration.min_stt_confidence
    pcm = await phone_audio("Our budget is about seventy thousand dollars.")
    clear = decoder.decode(segment(pcm), RATE)
    noisy = decoder.decode(segment(garbled(pcm)), RATE)
    print(f"\nclear {clear.confidence:.2f} {clear.text!r}; garbled {noisy.confidence:.2f} "
          f"{noisy.text!r}")
    assert "seventy thousand dollars" in clear.text
    assert clear.confidence >= threshold > noisy.confidence
    # each word carries its posterior and place, as Deepgram's words do
    assert [w.word for w in clear.words] == clear.text.split()
    assert all(0 <= w.confidence <= 1 and w.start_s < w.end_s for w in clear.words)
    # timed in the segment as given: after its 0.3 s of silence, before its 0.5 s at the end
    assert clear.words[0].start_s >= 0.25
    assert clear.words[-1].end_s <= clear.audio_seconds - 0.4
    assert transcript_confidence(clear) == clear.confidence


async def test_wideband_audio_is_decoded_as_is(decoder: PocketSphinxDecoder) -> None:
    pcm = await synthesize("We want it within three months.", sample_rate=16000)
    recognition = decoder.decode(bytes(6400) + pcm + bytes(16000), 16000)
    assert "three months" in recognition.text


async def heard_in_a_pipeline(
    model: LanguageModel,
    lines: list[str],
    vad: VADProcessor,
    *,
    stall: tuple[float, float] | None = None,
) -> tuple[list, list[InputAudioRawFrame]]:
    """`lines` spoken over the phone with pauses, in 20 ms frames as Twilio sends them,
    through `vad` and the PocketSphinx service: the frames that came out, and those sent.
    `stall` (at, for), in seconds: the frames stop arriving `at` seconds into the stream
    for `for` seconds of real time, then come on."""
    audio = await asyncio.gather(*(phone_audio(line) for line in lines))
    stream = silence(0.5) + silence(1.2).join(audio) + silence(1.2)
    chunk = RATE // 50 * 2
    frames = [
        InputAudioRawFrame(audio=stream[i : i + chunk], sample_rate=RATE, num_channels=1)
        for i in range(0, len(stream), chunk)
    ]
    sent: list = list(frames)
    if stall is not None:
        at, lasting = stall
        sent.insert(int(at * 50), SleepFrame(sleep=lasting))
    pipeline = Pipeline([vad, PocketSphinxSTTService(model=model)])
    started = time.perf_counter()
    down, _ = await run_test(
        pipeline,
        frames_to_send=sent,
        pipeline_params=PipelineParams(audio_in_sample_rate=RATE),
    )
    elapsed = time.perf_counter() - started
    print(f"\npipeline: {len(stream) / 2 / RATE:.1f} s of audio in {elapsed:.1f} s")
    return down, frames


async def test_one_word_answers_start_a_turn_through_the_calls_vad(model: LanguageModel) -> None:
    # What callers say to a read-back or a yes/no question. Pipecat's default start time
    # (0.2 s) never heard a "Yup." said first (after one word, Silero's state carries it).
    lines = ["Yup.", "Yep.", "Uh-huh.", "Nope."]
    down, _ = await heard_in_a_pipeline(model, lines, make_vad_processor(make_vad()))
    assert sum(isinstance(f, VADUserStartedSpeakingFrame) for f in down) == len(lines)
    assert sum(isinstance(f, VADUserStoppedSpeakingFrame) for f in down) == len(lines)
    # What the recogniser makes of each is its own matter: one of the yeses, and the no,
    # must be read as such.
    heard = [f.text for f in down if isinstance(f, TranscriptionFrame)]
    print(heard)
    assert any(understand(line).affirmative for line in heard[:-1])
    assert understand(heard[-1]).affirmative is False


async def test_a_sentence_whose_audio_stalls_for_a_second_stays_one_turn(
    model: LanguageModel,
) -> None:
    # A loaded machine (or the network) holds the caller's frames back for 1.5 s in the
    # middle of "fifty"; they come after. Pipecat's default ends the speech after 1 s
    # without audio, and the sentence became two turns, the second "eight thousand dollars".
    lines = ["Our budget is around fifty thousand dollars a year."]
    down, _ = await heard_in_a_pipeline(
        model, lines, make_vad_processor(make_vad()), stall=(2.0, 1.5)
    )
    assert sum(isinstance(f, VADUserStartedSpeakingFrame) for f in down) == 1
    heard = [f.text for f in down if isinstance(f, TranscriptionFrame)]
    print(heard)
    assert len(heard) == 1 and "fifty thousand dollars" in heard[0]


async def test_the_service_transcribes_vad_segments_in_a_pipeline(model: LanguageModel) -> None:
    lines = ["Our budget is around fifty thousand dollars a year.", "Take me off your list."]
    down, frames = await heard_in_a_pipeline(
        model, lines, VADProcessor(vad_analyzer=SileroVADAnalyzer())
    )
    assert sum(isinstance(f, VADUserStartedSpeakingFrame) for f in down) == len(lines)
    assert sum(isinstance(f, VADUserStoppedSpeakingFrame) for f in down) == len(lines)
    transcripts = [f for f in down if isinstance(f, TranscriptionFrame)]
    print([t.text for t in transcripts])
    assert len(transcripts) == len(lines)
    assert "fifty thousand dollars" in transcripts[0].text
    assert "take me off your list" in transcripts[1].text
    for t in transcripts:
        assert t.user_id == ""  # Twilio's websocket audio carries no user id
        assert t.finalized and t.language == Language.EN_US
        assert datetime.fromisoformat(t.timestamp)
        assert isinstance(t.result, Recognition) and t.result.decode_seconds > 0
        assert 0 < transcript_confidence(t.result) <= 1
    # Audio passes through for whatever follows the STT (recording, turn analysis).
    assert sum(isinstance(f, InputAudioRawFrame) for f in down) == len(frames)
