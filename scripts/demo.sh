#!/usr/bin/env bash
# Starts Switchboard (private Redis/PostgreSQL and the Twilio sandbox unless configured),
# places a simulated phone call against it with audio, prints the call record, and
# stops everything. Extra arguments go to `switchboard call` (a scenario, --text, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p .switchboard
PORT=${SWITCHBOARD_PORT:-8000}
echo "demo: starting Switchboard on port $PORT (log: .switchboard/serve.log)"
.venv/bin/switchboard serve >.switchboard/serve.log 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $SERVER 2>/dev/null; then
    echo "demo: Switchboard did not start; last lines of .switchboard/serve.log:"; tail -30 .switchboard/serve.log; exit 1
  fi
  sleep 1
done
echo "demo: Switchboard is up; placing a call"
.venv/bin/switchboard call --url "http://127.0.0.1:$PORT" "$@"
