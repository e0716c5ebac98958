"""`switchboard campaign create|start|pause|resume|cancel|status`: campaigns from the
command line, through the running application's API (`/v1/campaigns`).

The server is `--url`, else `SWITCHBOARD_PUBLIC_URL`; the API token is
`SWITCHBOARD_API_TOKEN`, else the development secrets `switchboard serve` wrote (as for
`switchboard call`). Exit status: 0 done, 1 refused by the server (the reason is
printed), 2 the server could not be reached or no token was found.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import httpx

from switchboard.settings import load_settings

STATE_ACTIONS = ("start", "pause", "resume", "cancel")
TIMEOUT_S = 60.0  # a large lead list is checked and stored in one request


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", help="the server, e.g. http://127.0.0.1:8000 (default: the public URL)"
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create",
        help="create a campaign (draft) from a CSV of leads",
        description="Header row: number (E.164) required; name, company, timezone optional; "
        "other columns are kept as lead data. Bad rows are reported and the rest load.",
    )
    create.add_argument("file", type=Path, help="the lead list, FILE.csv")
    create.add_argument("--name", required=True, help="the campaign's name")
    create.add_argument("--max-concurrent", type=int, help="calls at once")
    create.add_argument("--calls-per-minute", type=int, help="calls placed per minute")
    create.add_argument("--max-attempts", type=int, help="attempts per lead, the first included")
    create.add_argument("--retry-after-s", type=float, help="wait before a retry, in seconds")
    create.add_argument("--window", help="calling hours in the lead's local time, 08:00-21:00")
    for action in (*STATE_ACTIONS, "status"):
        verb = "show" if action == "status" else action
        change = actions.add_parser(action, help=f"{verb} a campaign")
        change.add_argument("campaign_id", metavar="ID", help="the campaign's id")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Runs the command `add_arguments` parsed; returns the exit status."""
    out = out or sys.stdout
    # Here, not at the top: `switchboard.caller` is heavy, and every `switchboard`
    # command imports this module to build its parser.
    from switchboard.caller.tokens import CredentialsError, resolve_credentials

    settings = load_settings()
    try:
        token = resolve_credentials(settings, need_auth_token=False).api_token
    except CredentialsError as exc:
        print(f"campaign: {exc}", file=sys.stderr)
        return 2
    base_url = (args.url or settings.public_url).rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base_url, headers=headers, timeout=TIMEOUT_S) as client:
            response = _request(client, args)
    except (OSError, httpx.HTTPError) as exc:
        print(f"campaign: cannot reach {base_url}: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # the lead list could not be read
        print(f"campaign: {exc}", file=sys.stderr)
        return 2
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text.strip() or f"HTTP {response.status_code}"}
    if response.is_error:
        print(f"campaign: {body.get('error', body)} (HTTP {response.status_code})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, indent=2), file=out)
    elif args.action == "create":
        _print_created(body, out)
    else:
        _print_status(body, out)
    return 0


def _request(client: httpx.Client, args: argparse.Namespace) -> httpx.Response:
    if args.action == "create":
        try:
            content = args.file.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {args.file}: {exc.strerror}") from None
        pacing = {
            "max_concurrent": args.max_concurrent,
            "calls_per_minute": args.calls_per_minute,
            "max_attempts": args.max_attempts,
            "retry_after_s": args.retry_after_s,
            "window": args.window,
        }
        params = {"name": args.name, **{k: v for k, v in pacing.items() if v is not None}}
        return client.post(
            "/v1/campaigns",
            params=params,
            content=content,
            headers={"Content-Type": "text/csv"},
        )
    path = f"/v1/campaigns/{args.campaign_id}"
    if args.action == "status":
        return client.get(path)
    return client.post(f"{path}/{args.action}")


def _print_created(body: dict[str, Any], out: TextIO) -> None:
    rejected = body["rejected"]
    print(
        f"campaign {body['id']} created (draft): {body['accepted']} leads loaded, "
        f"{len(rejected)} rows rejected",
        file=out,
    )
    for row in rejected:
        print(f"  row {row['row']}: {row['number'] or '(no number)'}  {row['reason']}", file=out)
    if body["accepted"]:
        print(f"start it with: switchboard campaign start {body['id']}", file=out)


def _print_status(body: dict[str, Any], out: TextIO) -> None:
    print(
        f"campaign {body['id']} {body['name']!r}: {body['state']}, {body['leads']} leads",
        file=out,
    )
    for title in ("attempts", "outcomes"):
        counts = {k: n for k, n in body[title].items() if n}
        shown = ", ".join(f"{k} {n}" for k, n in counts.items()) or "none"
        print(f"  {title}: {shown}", file=out)
