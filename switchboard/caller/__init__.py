"""The simulated caller behind `switchboard call`: Twilio's side of a call, or text mode.

Modules, one job each: `twilio_protocol` (what Twilio sends), `signing` (its
signatures), `webhooks` (voice webhook and status callback), `audio_playback` (the
caller's loudspeaker clock), `turns` and `script` (turn taking), `audio_caller` and
`text_caller` (the two kinds of call), `report` (the call record), `command` (the CLI),
`generated` (callers made from a seed, for `switchboard demo-data` and the experiment
tests) and `batch` (many text calls at once).
"""

from switchboard.caller.command import call_command, run_call
from switchboard.caller.result import CallFailed, CallResult

__all__ = ["CallFailed", "CallResult", "call_command", "run_call"]
