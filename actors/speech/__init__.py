"""Speech engines of a call: Pipecat STT and TTS services chosen by settings.

- `factory`: `make_stt` / `make_tts` from `SpeechSettings` (offline by default).
- `espeak`: `synthesize()` and `EspeakTTSService` (eSpeak NG, offline TTS).
- `pocketsphinx_stt`: `PocketSphinxSTTService` (offline STT on VAD segments).
- `confidence`: how sure a transcript is, from any engine's result.
- `features`: PocketSphinx's MFCC front end, plus the band a phone call lacks.
- `language_model`: the cached trigram the recogniser uses; `corpus`: what
  callers say; `pronounce`: dictionary entries; `spoken`: text as spoken words.

Nothing is imported here, so text-mode sessions never load the engines.
"""
