"""Offline speech to text: PocketSphinx 5 as a Pipecat segmented STT service.

Pipecat has no PocketSphinx service; this one is written like its local Whisper
service. Silero VAD cuts the caller's speech into segments; the base class
buffers each one and hands it to `run_stt` as raw 16-bit PCM at the pipeline's
input rate (8 kHz on a Twilio call). We upsample it to the 16 kHz the bundled
en-us acoustic model was trained on and decode it with a language model built
for the workflow (see `language_model`), which is what makes PocketSphinx
usable on phone answers at all.

A `pocketsphinx.Decoder` is not thread safe and decoding takes tens to hundreds
of milliseconds of CPU, so every service owns one decoder and one worker
thread: the event loop never blocks, and the decoder is only ever touched from
that thread.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pocketsphinx
import soxr
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    StartFrame,
    TranscriptionFrame,
)
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601
from pipecat.utils.tracing.service_decorators import traced_stt

from actors.speech.features import trimmed_cepstra
from actors.speech.language_model import LanguageModel, language_model

#: The bundled acoustic model is a 16 kHz one.
DECODER_SAMPLE_RATE = 16_000

#: Segments whose peak stays below this (about -54 dBFS) hold no speech.
SILENCE_AMPLITUDE = 64

#: End of speech to transcript, for Pipecat's turn strategies: an estimate from
#: the decode real-time factor (~0.12 on one busy core) on answers up to ~5 s.
POCKETSPHINX_TTFS_P99 = 0.6

#: Decoder settings. We swept the language weights (lw/fwdflatlw/bestpathlw),
#: word insertion penalty and beams on our own development phrasings (not the
#: scenarios); PocketSphinx's defaults were at or within noise of the best.
#: `ascale` only divides the acoustic scores when the lattice's word posteriors are
#: computed (the words decoded are the same at any value). Of 2, 5, 10 and 20
#: (PocketSphinx's), 5 gave the confidence that best told answers read wrong from
#: answers read right on bench_recognition's tuning set (README).
DEFAULT_DECODER_OPTIONS: dict[str, Any] = {"ascale": 5.0}

#: What is not a word of the caller's in a segmentation: sentence marks, silence and
#: fillers ("[NOISE]", "[SPEECH]", "++UH++").
_NOT_WORDS = re.compile(r"^(?:<.*>|\[.*\]|\+\+.*\+\+)$")
#: PocketSphinx's frames are 10 ms.
FRAMES_PER_SECOND = 100


@dataclass
class PocketSphinxSTTSettings(STTSettings):
    """Settings for `PocketSphinxSTTService` (model and language are fixed)."""


@dataclass(frozen=True)
class WordHeard:
    """One word of a recognition: its posterior and where it lies in the segment."""

    word: str
    confidence: float
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Recognition:
    """What the decoder made of one segment, kept on `TranscriptionFrame.result`.

    `confidence` is the mean of the words' posteriors in the decoder's lattice (0 when
    nothing was heard): how sure the decode is, as `actors.speech.confidence` reads it
    from any engine's result."""

    text: str
    score: int
    audio_seconds: float
    decode_seconds: float
    confidence: float = 0.0
    words: tuple[WordHeard, ...] = ()


class PocketSphinxDecoder:
    """One PocketSphinx decoder, used from a single worker thread.

    Callable outside Pipecat too (the tests and the benchmark use it directly).
    """

    def __init__(self, model: LanguageModel, options: Mapping[str, Any] | None = None):
        config = {
            "hmm": pocketsphinx.get_model_path("en-us/en-us"),
            "lm": str(model.lm_path),
            "dict": str(model.dict_path),
            "samprate": DECODER_SAMPLE_RATE,
            "loglevel": "FATAL",
            **DEFAULT_DECODER_OPTIONS,
            **(options or {}),
        }
        self._decoder = pocketsphinx.Decoder(**config)

    def decode(self, pcm: bytes, sample_rate: int) -> Recognition:
        """Recognise a whole utterance of 16-bit mono PCM at `sample_rate`."""
        started = time.perf_counter()
        samples = np.frombuffer(pcm, dtype=np.int16)
        if sample_rate != DECODER_SAMPLE_RATE:
            # Upsampling only changes the rate to the one the acoustic model
            # expects; the band above the phone's 4 kHz stays empty until
            # `features.trimmed_cepstra` estimates it. Resampling int16 to int16 keeps
            # digital silence exactly zero, as the model's own front end would
            # see it (float output leaves filter ringing there, which measured
            # worse on our development set).
            samples = soxr.resample(samples, sample_rate, DECODER_SAMPLE_RATE, quality="HQ")
        text, score, words = "", 0, ()
        # Nothing above the noise floor means no words; the decoder would
        # otherwise still pick its likeliest one.
        if len(samples) and int(np.abs(samples.astype(np.int32)).max()) >= SILENCE_AMPLITUDE:
            features, first_frame = trimmed_cepstra(samples, audio_sample_rate=sample_rate)
            if len(features):
                decoder = self._decoder
                decoder.start_utt()
                # full_utt: the whole segment is known, so cepstral mean
                # normalisation uses all of it (the model's "batch" CMN).
                decoder.process_cep(features.tobytes(), no_search=False, full_utt=True)
                decoder.end_utt()
                hyp = decoder.hyp()
                if hyp is not None:
                    text, score = hyp.hypstr.strip(), int(hyp.score)
                    words = self._words(first_frame) if text else ()
        return Recognition(
            text=text,
            score=score,
            audio_seconds=len(samples) / DECODER_SAMPLE_RATE,
            decode_seconds=time.perf_counter() - started,
            confidence=mean_posterior(words),
            words=words,
        )

    def _words(self, first_frame: int) -> tuple[WordHeard, ...]:
        """The best path's words with their lattice posteriors (bestpath is on by default,
        so `seg()` carries them), timed from the segment's start (`first_frame`: where the
        decoded frames begin once silence was trimmed)."""
        return tuple(
            WordHeard(
                word=segment.word.split("(")[0],  # "six(2)": the dictionary's 2nd form
                confidence=min(1.0, max(0.0, float(segment.prob))),
                start_s=(first_frame + segment.start_frame) / FRAMES_PER_SECOND,
                end_s=(first_frame + segment.end_frame + 1) / FRAMES_PER_SECOND,
            )
            for segment in self._decoder.seg()
            if not _NOT_WORDS.match(segment.word)
        )


def mean_posterior(words: Iterable[WordHeard]) -> float:
    """A recognition's confidence: its words' mean posterior. Measured against the
    product of the posteriors (longer answers score lower whatever they say), the
    smallest one, and duration weighting on `load_tests/bench_recognition`'s tuning
    set, the mean separated misread facts from right ones best (README)."""
    posteriors = [word.confidence for word in words]
    return sum(posteriors) / len(posteriors) if posteriors else 0.0


class PocketSphinxSTTService(SegmentedSTTService):
    """Speech to text with PocketSphinx, on segments cut by the pipeline's VAD.

    Args:
        prompts: What the workflow's agents say; their words go into the
            language model (callers echo them). Ignored when `model` is given.
        model: A language model already built by `language_model()`; building
            is cached on disk, but a process that starts many sessions can
            build once and share it.
        decoder_options: PocketSphinx configuration overrides (e.g. ``lw``).
        push_empty_transcripts: Push an empty `TranscriptionFrame` when a
            segment holds no words (VAD fired on noise), so a turn is not left
            waiting for a transcript.
        **kwargs: Passed on to `SegmentedSTTService` (e.g. ``sample_rate``).
    """

    Settings = PocketSphinxSTTSettings
    _settings: Settings

    def __init__(
        self,
        *,
        prompts: Iterable[str] = (),
        model: LanguageModel | None = None,
        decoder_options: Mapping[str, Any] | None = None,
        push_empty_transcripts: bool = False,
        settings: Settings | None = None,
        ttfs_p99_latency: float | None = POCKETSPHINX_TTFS_P99,
        **kwargs: Any,
    ):
        default_settings = self.Settings(model="pocketsphinx-en-us", language=Language.EN_US)
        if settings is not None:
            default_settings.apply_update(settings)
        super().__init__(settings=default_settings, ttfs_p99_latency=ttfs_p99_latency, **kwargs)
        self._model = model or language_model(prompts)
        self._decoder_options = dict(decoder_options or {})
        self._push_empty_transcripts = push_empty_transcripts
        self._executor: ThreadPoolExecutor | None = None
        self._decoder: asyncio.Future[PocketSphinxDecoder] | None = None

    @property
    def wants_wav_segments(self) -> bool:
        """Segments come as raw 16-bit PCM: the decoder reads samples, not files."""
        return False

    @property
    def language_model(self) -> LanguageModel:
        """The language model this service decodes with."""
        return self._model

    def can_generate_metrics(self) -> bool:
        """Processing time and TTFB metrics are reported."""
        return True

    def language_to_service_language(self, language: Language) -> str | None:
        """Only US English ships with PocketSphinx; other English variants map onto it."""
        if str(language).lower().startswith("en"):
            return "en-US"
        logger.warning(f"{self}: PocketSphinx has no model for {language}, using en-US")
        return None

    async def start(self, frame: StartFrame):
        """Start the service and load the decoder in its worker thread.

        Loading takes ~0.1 s (the dictionary holds only the model's words);
        it runs while the call connects, and a first segment queues behind it.
        """
        await super().start(frame)
        self._ensure_decoder()

    async def stop(self, frame: EndFrame):
        """Transcribe what is queued, then release the decoder thread."""
        await super().stop(frame)
        self._shutdown()

    async def cancel(self, frame: CancelFrame):
        """Stop at once and release the decoder thread."""
        await super().cancel(frame)
        self._shutdown()

    async def cleanup(self):
        """Release the decoder thread at teardown."""
        await super().cleanup()
        self._shutdown()

    def _ensure_decoder(self) -> asyncio.Future[PocketSphinxDecoder]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self}")
        if self._decoder is None:
            loop = asyncio.get_running_loop()
            self._decoder = loop.run_in_executor(
                self._executor, PocketSphinxDecoder, self._model, self._decoder_options
            )
        return self._decoder

    def _shutdown(self) -> None:
        if self._executor is not None:
            # Queued work is abandoned; a decode in flight finishes on its own.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
            self._decoder = None

    async def _recognise(self, pcm: bytes) -> Recognition:
        decoder = await self._ensure_decoder()
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, decoder.decode, pcm, self.sample_rate)

    @traced_stt
    async def _handle_transcription(
        self, transcript: str, is_final: bool, language: Language | None = None
    ):
        """Handle a transcription result with tracing."""

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        """Transcribe one VAD segment (raw 16-bit PCM at the pipeline's input rate).

        Yields:
            A `TranscriptionFrame` with the words heard (none for silence), or
            an `ErrorFrame` if decoding failed.
        """
        try:
            await self.start_processing_metrics()
            recognition = await self._recognise(audio)
            await self.stop_processing_metrics()
        except Exception as e:  # a broken decoder must not end the call
            logger.exception(f"{self}: decoding failed")
            yield ErrorFrame(error=f"PocketSphinx decoding failed: {e}")
            return

        logger.debug(
            f"{self}: [{recognition.text}] ({recognition.audio_seconds:.2f} s audio, "
            f"decoded in {recognition.decode_seconds * 1000:.0f} ms)"
        )
        if recognition.text or self._push_empty_transcripts:
            await self._handle_transcription(recognition.text, True, Language.EN_US)
            yield TranscriptionFrame(
                recognition.text,
                self._user_id,
                time_now_iso8601(),
                Language.EN_US,
                result=recognition,
            )
