"""Frames of our own that travel through a call's Pipecat pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import SystemFrame


@dataclass
class CallerSilenceFrame(SystemFrame):
    """Text mode: the caller let `seconds` pass without saying anything."""

    seconds: float = 0.0


@dataclass
class CallerHangupFrame(SystemFrame):
    """The caller hung up (Twilio `stop`, text `stop`, or the socket closed)."""

    reason: str = "caller_hangup"


@dataclass
class MarkPlayedFrame(SystemFrame):
    """Twilio echoed a `mark`: the caller has heard everything sent before it."""

    mark: str = ""  # not `name`: every Pipecat frame sets its own `name`
