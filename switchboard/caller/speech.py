"""The caller's voice: its lines spoken by the offline TTS, as Twilio's 8 kHz μ-law."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from switchboard.caller.twilio_protocol import SAMPLE_RATE


async def synthesize_ulaw(text: str) -> bytes:
    """`text` spoken by eSpeak NG, μ-law encoded at 8 kHz."""
    # Imported here so that text mode never loads the speech engines.
    from pipecat.audio.utils import create_file_resampler, pcm_to_ulaw

    from actors.speech.espeak import synthesize

    pcm = await synthesize(text, sample_rate=SAMPLE_RATE)
    return await pcm_to_ulaw(pcm, SAMPLE_RATE, SAMPLE_RATE, create_file_resampler())


async def synthesize_lines(lines: Iterable[str]) -> dict[str, bytes]:
    """Every line spoken in advance, so no turn waits for the TTS mid-call."""
    unique = list(dict.fromkeys(lines))
    spoken = await asyncio.gather(*(synthesize_ulaw(line) for line in unique))
    return dict(zip(unique, spoken, strict=True))
