"""Running the local speech server in its own process, for tests and the benchmark."""

from __future__ import annotations

import os
import sys

from switchboard.server_process import ServerProcess

#: Where the server reads the key its clients must present.
KEY_VARIABLE = "SWITCHBOARD_SPEECH_SERVER_KEY"
#: The decoders run side by side on threads of their own; OpenBLAS's own threads on top
#: of them fought over the cores (2 decode threads on 2 cores: 2.4x less feature
#: extraction per CPU second), and the server fell minutes behind a 4-call run. Ray
#: sets the same in its workers, where the session actors decode.
ONE_MATH_THREAD = {"OMP_NUM_THREADS": "1"}
#: Building the language model on a cold disk cache takes ~4 s on a busy machine.
SPEECH_SERVER_START_TIMEOUT_S = 60.0


class SpeechServerProcess(ServerProcess):
    """A running `python -m switchboard.speech_server`; `url` is its HTTP base URL."""

    @property
    def ws_url(self) -> str:
        """The WebSocket base URL, Deepgram's `base_url`."""
        return "ws://" + self.url.removeprefix("http://")

    @property
    def openai_base_url(self) -> str:
        """The OpenAI client's `base_url`."""
        return f"{self.url}/v1"

    @classmethod
    def start(
        cls, api_key: str, *, host: str = "127.0.0.1", decoder_threads: int | None = None
    ) -> SpeechServerProcess:
        """Start the server and wait until it listens on a free port."""
        command = [sys.executable, "-m", "switchboard.speech_server", "--host", host, "--port", "0"]
        if decoder_threads:
            command += ["--decoder-threads", str(decoder_threads)]
        env = dict(os.environ, **{KEY_VARIABLE: api_key}, **ONE_MATH_THREAD)
        return cls.launch(
            "speech server", command, env=env, host=host, timeout_s=SPEECH_SERVER_START_TIMEOUT_S
        )
