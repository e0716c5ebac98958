"""How sure the recogniser was of a transcript, read from whichever engine made it.

Pipecat 1.14's `TranscriptionFrame` has no confidence field; each STT service keeps
its engine's own result on `frame.result`. This module owns reading a confidence
(0-1) out of those results, so the rest of the call (`actors.conversation`, the
script's gate in `graph.workflow.script`) deals in one number:

- PocketSphinx (`actors.speech.pocketsphinx_stt.Recognition`): the mean posterior of
  the words decoded;
- Deepgram (Pipecat's `DeepgramSTTService` keeps the SDK's `ListenV1Results`, or a
  dict of the same JSON): the first alternative's `confidence`. The local Deepgram
  server (`switchboard.speech_server`) sends PocketSphinx's there, so the same
  threshold holds through it;
- anything else (a text-mode turn, an engine that reports none): None, and a turn
  with no confidence is never gated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def transcript_confidence(result: Any) -> float | None:
    """The confidence of a `TranscriptionFrame.result`, or None when it carries none.

    Read by shape, not by class: a text-mode call must not import the engines."""
    if result is None:
        return None
    channel = _field(result, "channel")
    if channel is not None:  # Deepgram's Results
        alternatives = _field(channel, "alternatives")
        return _unit(_field(alternatives[0], "confidence")) if alternatives else None
    return _unit(_field(result, "confidence"))  # PocketSphinx's Recognition


def _unit(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return min(1.0, max(0.0, float(value)))


def _field(value: Any, name: str) -> Any:
    """`value.name` or `value[name]`: the SDK's models and their JSON alike."""
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)
