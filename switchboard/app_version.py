"""The code version that serves a call: `SWITCHBOARD_APP_VERSION`, else the package's
version and the git commit it was read from (when the code is a git checkout)."""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

APP_VERSION_ENV = "SWITCHBOARD_APP_VERSION"


@lru_cache(maxsize=1)
def app_version() -> str:
    """Set in `runtime_env` to name a release; otherwise `0.1.0+g<commit>`."""
    named = os.environ.get(APP_VERSION_ENV, "").strip()
    if named:
        return named
    try:
        package = version("switchboard")
    except PackageNotFoundError:
        package = "0+unknown"
    commit = _git_commit(Path(__file__).resolve().parents[1])
    return f"{package}+g{commit}" if commit else package


def _git_commit(root: Path) -> str | None:
    # Code shipped in a runtime_env working_dir has no .git: the package version only.
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None
