#!/usr/bin/env bash
# Runs the tests: lint, then the fast tier (or the tier given: fast | slow | all).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
tier=${1:-fast}; shift || true
.venv/bin/ruff check .
case "$tier" in
  fast) exec .venv/bin/pytest -m "not slow" "$@" ;;
  slow) exec .venv/bin/pytest -m slow "$@" ;;
  all)  exec .venv/bin/pytest "$@" ;;
  *) echo "usage: scripts/test.sh [fast|slow|all] [pytest args]"; exit 2 ;;
esac
