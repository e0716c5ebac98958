"""`switchboard config check FILE`: validate live settings before deploying them.

FILE is a Serve config (every deployment's `user_config` is checked, and the
deployments of one application must carry the same block) or a bare `user_config`
block. The same checks `reconfigure()` makes, so a block that passes here is not
refused by the replicas.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from switchboard.live_config import LiveConfigError, parse_live_config
from switchboard.settings import load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check", help="validate the user_config blocks of a Serve config (or one block)"
    )
    check.add_argument("file", help="serve_config.yaml, or a YAML file of one user_config")


def blocks_of(document: Any) -> list[tuple[str, Any]]:
    """(where, block) for every `user_config` in a Serve config, or the document itself."""
    if not isinstance(document, dict) or "applications" not in document:
        return [("user_config", document)]
    found = []
    for app in document.get("applications") or []:
        for deployment in app.get("deployments") or []:
            if "user_config" in deployment:
                where = f"{app.get('name', 'default')}/{deployment.get('name')}"
                found.append((where, deployment["user_config"]))
    return found


def check(path: Path, out: TextIO | None = None) -> int:
    """0 when every block is valid; 1 (naming the field) when one is not."""
    out = out or sys.stdout
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        print(f"{path}: cannot read: {exc}", file=out)
        return 1
    base = load_settings()
    found = blocks_of(document)
    if not found:
        print(f"{path}: no user_config to check", file=out)
        return 1
    failed = False
    by_app: dict[str, Any] = {}
    for where, block in found:
        app = where.partition("/")[0]
        if by_app.setdefault(app, block) != block:
            print(f"{where}: differs from the other deployments of {app}: every deployment "
                  "of an application must get the same user_config", file=out)
            failed = True
            continue
        try:
            live = parse_live_config(block, base)
        except LiveConfigError as exc:
            print(f"{where}: invalid: {exc}", file=out)
            failed = True
            continue
        print(f"{where}: version {live.version} is valid", file=out)
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    return check(Path(args.file))
