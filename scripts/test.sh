#!/usr/bin/env bash
# Runs the tests: lint, then the fast tier (or the tier given: fast | slow | cluster | all,
# and CI's halves of the slow tier: serial | beside).
# `slow` is the chaos and load tests on this machine's Ray; `cluster` the drills that run
# a two-node `ray start` cluster of their own (ports, database and Redis prefix too), so
# CI can run them beside the other tiers. CI splits `slow`: the `parallel_safe` tests
# (they hold under load: no tight timing) run beside the fast tier after the cluster drills
# (`beside`), the rest after the fast tier (`serial`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
tier=${1:-fast}; shift || true
.venv/bin/ruff check .
# CI collects each tier's JUnit report, to print why tests failed at the end of its log.
if [ -n "${SWITCHBOARD_JUNIT_DIR:-}" ]; then set -- "--junitxml=$SWITCHBOARD_JUNIT_DIR/$tier.xml" "$@"; fi
case "$tier" in
  # Coverage includes the Ray workers and `serve` subprocesses (tests/coverage_flush.py);
  # their data files are found beside an absolute COVERAGE_FILE.
  fast) COVERAGE_FILE="$PWD/.coverage" exec .venv/bin/pytest -m "not slow" --cov --cov-report=term "$@" ;;
  slow) exec .venv/bin/pytest -m "slow and not cluster" --durations=25 "$@" ;;
  serial) exec .venv/bin/pytest -m "slow and not cluster and not parallel_safe" --durations=25 "$@" ;;
  beside) exec .venv/bin/pytest -m "parallel_safe and not cluster" --durations=10 -p no:cacheprovider "$@" ;;
  cluster) exec .venv/bin/pytest -m cluster --durations=10 -p no:cacheprovider "$@" ;;
  all)  exec .venv/bin/pytest "$@" ;;
  *) echo "usage: scripts/test.sh [fast|slow|cluster|serial|beside|all] [pytest args]"; exit 2 ;;
esac
