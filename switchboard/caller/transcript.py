"""How the simulated caller prints a call: one line per utterance, speaker first."""

from __future__ import annotations

from typing import TextIO

CALLER = "caller"
AGENT = "agent"


def utterance(speaker: str, text: str) -> str:
    """One printed line of the call: `caller  › Yes, this is Dana.`"""
    return f"{speaker:<7} › {text}"


class Transcript:
    """Prints `caller  › …` / `agent   › …` lines as the call goes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def caller(self, text: str) -> None:
        self._line(CALLER, text)

    def agent(self, text: str) -> None:
        self._line(AGENT, text)

    def note(self, text: str) -> None:
        """Something about the call rather than something said."""
        print(f"  ({text})", file=self.out, flush=True)

    def _line(self, speaker: str, text: str) -> None:
        print(utterance(speaker, text), file=self.out, flush=True)
