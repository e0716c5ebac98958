"""Local servers that speak the speech engines' own protocols, backed by the offline engines.

Production calls use remote engines: Deepgram's streaming speech to text and an
OpenAI-compatible speech endpoint. These servers speak those protocols on this machine,
so Pipecat's real service classes run unchanged against them (as the Twilio sandbox
does for Twilio): PocketSphinx answers `wss://…/v1/listen`, eSpeak NG answers
`POST /v1/audio/speech`. Tests use them to run the production path offline, and the
voice benchmark uses them to measure Switchboard's CPU apart from the engines'.

`python -m switchboard.speech_server --port 0 --port-file PATH` runs both on one port;
clients authenticate with `$SWITCHBOARD_SPEECH_SERVER_KEY`. Run it with
`OMP_NUM_THREADS=1` (as `SpeechServerProcess` does): it decodes on a thread per CPU, and
OpenBLAS's own threads beside those cost more than half its throughput.
"""

from switchboard.speech_server.app import EngineStats, create_app
from switchboard.speech_server.launch import SpeechServerProcess

__all__ = ["EngineStats", "SpeechServerProcess", "create_app"]
