"""What the local speech servers did, counted for tests and the benchmark (`GET /stats`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class EngineStats:
    """Counters since the server started."""

    listen_sessions: int = 0
    listen_sessions_open: int = 0
    transcripts: int = 0
    audio_seconds: float = 0.0
    decode_seconds: float = 0.0
    speech_requests: int = 0
    speech_characters: int = 0
    refused: int = 0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
