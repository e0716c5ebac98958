"""`python -m switchboard.twilio_sandbox`: serve the Twilio double on a port.

`--port 0` picks a free port. The chosen port is printed and, with `--port-file`,
written to that file once the socket is listening, so a parent process can wait for
the file and connect at once.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

import uvicorn

from switchboard.twilio_sandbox.rest_api import create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m switchboard.twilio_sandbox",
        description="A local double of Twilio's REST API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the chosen port to this file")
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
    args = parser.parse_args(argv)
    if not args.account_sid or not args.auth_token:
        parser.error("--account-sid and --auth-token are required")
    return args


def listen(host: str, port: int) -> socket.socket:
    """A listening socket; bound before uvicorn starts so the port is known and taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def write_port_file(path: Path, port: int) -> None:
    # Written whole then renamed, so a reader never sees a half-written number.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{port}\n", encoding="utf-8")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sock = listen(args.host, args.port)
    port = sock.getsockname()[1]
    app = create_app(args.account_sid, args.auth_token)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f"twilio sandbox listening on http://{args.host}:{port}", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
