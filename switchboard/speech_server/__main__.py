"""`python -m switchboard.speech_server`: serve the local speech engines on a port.

`--port 0` picks a free port; with `--port-file` the chosen port is written there once
the socket listens. The PocketSphinx language model is built (or read from its disk
cache) from the configured workflow's prompts before then, so the first call does not
wait for it.
"""

from __future__ import annotations

import argparse
import os
import sys

from switchboard.server_process import add_server_arguments, serve
from switchboard.speech_server.launch import KEY_VARIABLE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m switchboard.speech_server",
        description="Deepgram's and OpenAI's speech protocols, on PocketSphinx and eSpeak NG.",
    )
    add_server_arguments(parser)
    parser.add_argument("--decoder-threads", type=int, default=None,
                        help="recognitions run at once (default: one per CPU)")  # fmt: skip
    args = parser.parse_args(argv)
    args.api_key = os.environ.get(KEY_VARIABLE, "")
    if not args.api_key:
        parser.error(f"set ${KEY_VARIABLE} to the key clients must present")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported after the arguments are checked: these load Pipecat and the models.
    from actors.speech.language_model import language_model
    from graph.workflow.script import all_prompts
    from switchboard.settings import get_settings
    from switchboard.speech_server.app import create_app

    settings = get_settings()
    app = create_app(
        args.api_key,
        language_model(all_prompts(settings)),
        voice=settings.speech.espeak_voice,
        words_per_minute=settings.speech.espeak_words_per_minute,
        decoder_threads=args.decoder_threads,
    )
    serve(app, name="speech engines", host=args.host, port=args.port,
          port_file=args.port_file, ws="websockets-sansio")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
