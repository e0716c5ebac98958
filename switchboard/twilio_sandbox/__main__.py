"""`python -m switchboard.twilio_sandbox`: serve the Twilio double on a port.

`--port 0` picks a free port. The chosen port is printed and, with `--port-file`,
written to that file once the socket is listening, so a parent process can wait for
the file and connect at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from switchboard.server_process import add_server_arguments, serve
from switchboard.twilio_sandbox.rest_api import DEFAULT_RING_S, create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m switchboard.twilio_sandbox",
        description="A local double of Twilio's REST API.",
    )
    add_server_arguments(parser)
    parser.add_argument(
        "--account-sid",
        default=os.environ.get("SWITCHBOARD_TWILIO_ACCOUNT_SID"),
        help="the account SID clients authenticate with (default: $SWITCHBOARD_TWILIO_ACCOUNT_SID)",
    )
    parser.add_argument(
        "--auth-token",
        default=os.environ.get("SWITCHBOARD_TWILIO_AUTH_TOKEN"),
        help="the auth token clients authenticate with (default: $SWITCHBOARD_TWILIO_AUTH_TOKEN)",
    )
    parser.add_argument(
        "--leads",
        type=Path,
        default=os.environ.get("SWITCHBOARD_SANDBOX_LEADS") or None,
        help="the leads file: who answers the calls the sandbox places "
        "(default: $SWITCHBOARD_SANDBOX_LEADS; unset, nobody answers)",
    )
    parser.add_argument(
        "--ring-s",
        type=float,
        default=float(os.environ.get("SWITCHBOARD_SANDBOX_RING_S") or DEFAULT_RING_S),
        help="how long an unanswered call rings (default: $SWITCHBOARD_SANDBOX_RING_S or 5)",
    )
    args = parser.parse_args(argv)
    if not args.account_sid or not args.auth_token:
        parser.error("--account-sid and --auth-token are required")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = create_app(args.account_sid, args.auth_token, leads_file=args.leads,
                     ring_s=args.ring_s)
    serve(app, name="twilio sandbox", host=args.host, port=args.port,
          port_file=args.port_file, lifespan="off")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
