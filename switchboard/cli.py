"""The `switchboard` command line: `serve`, `call`, `demo-data`, `migrate`, `config`,
`campaign`, `webhooks`."""

from __future__ import annotations

import argparse
import sys

from db.migrate import add_arguments as add_migration_arguments
from switchboard.campaign_command import add_arguments as add_campaign_arguments
from switchboard.config_command import add_arguments as add_config_arguments
from switchboard.demo_data_command import add_arguments as add_demo_data_arguments
from switchboard.settings import SettingsError
from switchboard.webhooks_command import add_arguments as add_webhooks_arguments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard", description="AI phone agents on Ray Serve, Pipecat and LangGraph."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the whole application locally")
    serve.add_argument("--config", default="serve_config.yaml", help="Serve config file")

    call = commands.add_parser("call", help="place a simulated call")
    call.add_argument("scenario", nargs="?", help="scenario YAML (default: a demo call)")
    call.add_argument("--url", default=None, help="base URL, e.g. http://127.0.0.1:8000")
    call.add_argument("--text", action="store_true", help="text mode: no audio")
    call.add_argument("--json", dest="json_path", default=None, help="write the call report")

    demo_data = commands.add_parser(
        "demo-data",
        help="fill the database with realistic calls (an experiment, a campaign) to look at",
        description="Place a few hundred real text calls from generated callers, across "
        "the two variants of an experiment, and dial an outbound campaign through the "
        "Twilio sandbox. Starts its own Switchboard unless --url names a running one.",
    )
    add_demo_data_arguments(demo_data)

    migrate = commands.add_parser(
        "migrate",
        help="database schema migrations: up (the default), down, status",
        description="Apply, roll back or list the database schema migrations.",
    )
    add_migration_arguments(migrate)

    config = commands.add_parser(
        "config",
        help="live settings: check the user_config of a Serve config before deploying it",
        description="Validate live settings (user_config) the way the replicas will.",
    )
    add_config_arguments(config)

    campaign = commands.add_parser(
        "campaign",
        help="outbound campaigns: create from a CSV, start, pause, resume, cancel, status",
        description="Manage campaigns through the running application's API.",
    )
    add_campaign_arguments(campaign)

    webhooks = commands.add_parser(
        "webhooks",
        help="post-call webhooks: replay dead letters (or one event), list deliveries",
        description="Re-send post-call webhook events and look at their deliveries.",
    )
    add_webhooks_arguments(webhooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from switchboard.serve_command import serve

            return serve(args.config)
        if args.command == "call":
            from switchboard.caller import call_command

            return call_command(args)
        if args.command == "demo-data":
            from switchboard.demo_data_command import run as run_demo_data

            return run_demo_data(args)
        if args.command == "webhooks":
            from switchboard.webhooks_command import run as run_webhooks

            return run_webhooks(args)
        if args.command == "campaign":
            from switchboard.campaign_command import run as run_campaign

            return run_campaign(args)
        if args.command == "config":
            from switchboard.config_command import run as run_config

            return run_config(args)
        from db.migrate import run as run_migration

        return run_migration(args)
    except SettingsError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
