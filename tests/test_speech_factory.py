"""The speech factory picks the services the settings name, and names what is missing."""

from __future__ import annotations

import pytest
from pipecat.services.cartesia.tts import CartesiaTTSService
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.elevenlabs.tts import ElevenLabsTTSService
from pipecat.services.openai.stt import OpenAISTTService
from pipecat.services.openai.tts import OpenAITTSService

from actors.speech.espeak import EspeakTTSService
from actors.speech.factory import make_stt, make_tts
from actors.speech.language_model import language_model
from actors.speech.pocketsphinx_stt import PocketSphinxSTTService
from graph.workflow.script import all_prompts
from switchboard.settings import SettingsError, SpeechSettings, load_settings


def test_defaults_are_the_offline_engines(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The default STT builds its language model in the default cache: point it at
    # the session's shared one.
    monkeypatch.setenv(
        "SWITCHBOARD_SPEECH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "speech-cache")
    )
    settings = load_settings()
    prompts = all_prompts(settings)
    stt = make_stt(settings.speech, prompts=prompts)
    tts = make_tts(settings.speech, sample_rate=8000)
    assert isinstance(stt, PocketSphinxSTTService)
    assert stt.language_model.lm_path == language_model(prompts).lm_path
    assert isinstance(tts, EspeakTTSService)


def test_espeak_takes_its_voice_and_rate_from_settings() -> None:
    tts = make_tts(
        SpeechSettings(espeak_voice="en-gb", espeak_words_per_minute=150), sample_rate=16000
    )
    assert isinstance(tts, EspeakTTSService)
    assert tts._settings.voice == "en-gb" and tts._settings.words_per_minute == 150


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (SpeechSettings(stt="deepgram", deepgram_api_key="dg-key"), DeepgramSTTService),
        (SpeechSettings(stt="openai", openai_api_key="sk-key"), OpenAISTTService),
    ],
)
def test_cloud_stt_is_pipecats_own_service(settings: SpeechSettings, expected: type) -> None:
    assert type(make_stt(settings, prompts=[])) is expected


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (SpeechSettings(tts="openai", openai_api_key="sk-key"), OpenAITTSService),
        (SpeechSettings(tts="cartesia", cartesia_api_key="c", voice="v-1"), CartesiaTTSService),
        (
            SpeechSettings(tts="elevenlabs", elevenlabs_api_key="e", voice="v-2"),
            ElevenLabsTTSService,
        ),
    ],
)
def test_cloud_tts_is_pipecats_own_service(settings: SpeechSettings, expected: type) -> None:
    tts = make_tts(settings, sample_rate=8000)
    assert type(tts) is expected
    if settings.voice:
        assert tts._settings.voice == settings.voice


def test_openai_tts_keeps_its_own_rate_and_says_so() -> None:
    # OpenAI only speaks 24 kHz; the frames carry that rate and the transport resamples.
    tts = make_tts(SpeechSettings(tts="openai", openai_api_key="sk-key"), sample_rate=8000)
    assert tts._init_sample_rate == 24000


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (SpeechSettings(stt="deepgram"), "SWITCHBOARD_SPEECH__DEEPGRAM_API_KEY"),
        (SpeechSettings(stt="openai"), "SWITCHBOARD_SPEECH__OPENAI_API_KEY"),
        (
            SpeechSettings(stt="deepgram", deepgram_api_key=""),
            "SWITCHBOARD_SPEECH__DEEPGRAM_API_KEY",
        ),
    ],
)
def test_a_cloud_stt_without_its_key_names_the_setting(
    settings: SpeechSettings, variable: str
) -> None:
    with pytest.raises(SettingsError, match=variable):
        make_stt(settings, prompts=[])


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (SpeechSettings(tts="openai"), "SWITCHBOARD_SPEECH__OPENAI_API_KEY"),
        (SpeechSettings(tts="cartesia", voice="v"), "SWITCHBOARD_SPEECH__CARTESIA_API_KEY"),
        (SpeechSettings(tts="elevenlabs", voice="v"), "SWITCHBOARD_SPEECH__ELEVENLABS_API_KEY"),
        (SpeechSettings(tts="cartesia", cartesia_api_key="c"), "SWITCHBOARD_SPEECH__VOICE"),
        (SpeechSettings(tts="elevenlabs", elevenlabs_api_key="e"), "SWITCHBOARD_SPEECH__VOICE"),
    ],
)
def test_a_cloud_tts_without_its_key_or_voice_names_the_setting(
    settings: SpeechSettings, variable: str
) -> None:
    with pytest.raises(SettingsError, match=variable):
        make_tts(settings, sample_rate=8000)


def test_engines_are_chosen_by_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_SPEECH__STT", "deepgram")
    monkeypatch.setenv("SWITCHBOARD_SPEECH__DEEPGRAM_API_KEY", "dg-from-env")
    monkeypatch.setenv("SWITCHBOARD_SPEECH__TTS", "elevenlabs")
    monkeypatch.setenv("SWITCHBOARD_SPEECH__ELEVENLABS_API_KEY", "el-from-env")
    monkeypatch.setenv("SWITCHBOARD_SPEECH__VOICE", "voice-from-env")
    speech = load_settings().speech
    assert isinstance(make_stt(speech, prompts=[]), DeepgramSTTService)
    tts = make_tts(speech, sample_rate=8000)
    assert isinstance(tts, ElevenLabsTTSService) and tts._settings.voice == "voice-from-env"
