#!/usr/bin/env bash
# Runs the tests: lint, then the fast tier (or the tier given: fast | slow | cluster | all).
# `slow` is the chaos and load tests on this machine's Ray; `cluster` the drills that run
# a two-node `ray start` cluster of their own (ports, database and Redis prefix too), so
# CI can run them beside the other tiers.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
tier=${1:-fast}; shift || true
.venv/bin/ruff check .
case "$tier" in
  # Coverage includes the Ray workers and `serve` subprocesses (tests/coverage_flush.py);
  # their data files are found beside an absolute COVERAGE_FILE.
  fast) COVERAGE_FILE="$PWD/.coverage" exec .venv/bin/pytest -m "not slow" --cov --cov-report=term "$@" ;;
  slow) exec .venv/bin/pytest -m "slow and not cluster" --durations=25 "$@" ;;
  cluster) exec .venv/bin/pytest -m cluster --durations=10 -p no:cacheprovider "$@" ;;
  all)  exec .venv/bin/pytest "$@" ;;
  *) echo "usage: scripts/test.sh [fast|slow|cluster|all] [pytest args]"; exit 2 ;;
esac
