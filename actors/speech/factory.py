"""Speech services by settings: offline by default, Pipecat's cloud services with a key.

`SpeechSettings.stt` picks PocketSphinx (default), Deepgram or OpenAI;
`SpeechSettings.tts` picks eSpeak NG (default), OpenAI, Cartesia or ElevenLabs.
Cloud services are Pipecat's own classes, imported only when chosen. A cloud
engine without its key (or, for Cartesia and ElevenLabs, without a voice id)
is a configuration mistake: it raises `SettingsError` naming the variable to
set, at session start, rather than failing on the caller's first word.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from switchboard.settings import SettingsError, SpeechSettings

_ENV = "SWITCHBOARD_SPEECH__"


def _key(settings: SpeechSettings, field: str, engine: str) -> str:
    value = getattr(settings, field)
    secret = value.get_secret_value() if value is not None else ""
    if not secret:
        raise SettingsError(f"{_ENV}{field.upper()} must be set to use {engine}")
    return secret


def _voice(settings: SpeechSettings, engine: str) -> str:
    if not settings.voice:
        raise SettingsError(f"{_ENV}VOICE must be set to a {engine} voice id to use {engine}")
    return settings.voice


def make_stt(settings: SpeechSettings, *, prompts: Iterable[str]) -> STTService:
    """The speech-to-text service the settings choose.

    Args:
        settings: The speech settings.
        prompts: What the workflow's agents say; PocketSphinx builds its language
            model from them (cached on disk). Cloud engines ignore them.
    """
    if settings.stt == "pocketsphinx":
        from actors.speech.pocketsphinx_stt import PocketSphinxSTTService

        return PocketSphinxSTTService(prompts=prompts)
    if settings.stt == "deepgram":
        from pipecat.services.deepgram.stt import DeepgramSTTService

        return DeepgramSTTService(
            api_key=_key(settings, "deepgram_api_key", "Deepgram"),
            base_url=settings.deepgram_base_url or "",
        )
    if settings.stt == "openai":
        from pipecat.services.openai.stt import OpenAISTTService

        return OpenAISTTService(
            api_key=_key(settings, "openai_api_key", "OpenAI speech to text"),
            base_url=settings.openai_base_url,
        )
    raise SettingsError(f"{_ENV}STT: unknown engine {settings.stt!r}")


def make_tts(settings: SpeechSettings, *, sample_rate: int) -> TTSService:
    """The text-to-speech service the settings choose, producing audio at `sample_rate`.

    OpenAI's speech endpoint only produces 24 kHz; its frames say so and the
    output transport resamples them to the call's rate.
    """
    if settings.tts == "espeak":
        from actors.speech.espeak import EspeakTTSService

        return EspeakTTSService(
            voice=settings.espeak_voice,
            words_per_minute=settings.espeak_words_per_minute,
            sample_rate=sample_rate,
        )
    if settings.tts == "openai":
        from pipecat.services.openai._constants import OPENAI_SAMPLE_RATE
        from pipecat.services.openai.tts import OpenAITTSService

        api_key = _key(settings, "openai_api_key", "OpenAI text to speech")
        return OpenAITTSService(
            api_key=api_key,
            base_url=settings.openai_base_url,
            sample_rate=OPENAI_SAMPLE_RATE,
            settings=OpenAITTSService.Settings(voice=settings.voice) if settings.voice else None,
        )
    if settings.tts == "cartesia":
        from pipecat.services.cartesia.tts import CartesiaTTSService

        api_key = _key(settings, "cartesia_api_key", "Cartesia")
        return CartesiaTTSService(
            api_key=api_key,
            sample_rate=sample_rate,
            settings=CartesiaTTSService.Settings(voice=_voice(settings, "Cartesia")),
        )
    if settings.tts == "elevenlabs":
        from pipecat.services.elevenlabs.tts import ElevenLabsTTSService

        api_key = _key(settings, "elevenlabs_api_key", "ElevenLabs")
        return ElevenLabsTTSService(
            api_key=api_key,
            sample_rate=sample_rate,
            settings=ElevenLabsTTSService.Settings(voice=_voice(settings, "ElevenLabs")),
        )
    raise SettingsError(f"{_ENV}TTS: unknown engine {settings.tts!r}")
