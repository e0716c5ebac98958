#!/usr/bin/env bash
# Installs what Switchboard needs on a fresh machine: system packages where missing
# (eSpeak NG, Redis, PostgreSQL), uv, and the virtual environment in .venv/ from the
# lock file. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v redis-server >/dev/null || missing+=(redis-server)
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if ! command -v uv >/dev/null; then
  echo "setup: installing uv"
  "$PYTHON" -m pip install --quiet "uv==0.13.8"
fi
UV=$(command -v uv || echo "$PYTHON -m uv")
# Bytecode is compiled here, once: where PYTHONDONTWRITEBYTECODE is set (as on these
# machines) every process, each session actor among them, would otherwise compile every
# module it imports from source, seconds of CPU per actor start.
$UV sync --frozen --quiet --compile-bytecode
.venv/bin/python -m compileall -q -j 0 actors graph db deployments switchboard load_tests >/dev/null
echo "setup: .venv ready ($(.venv/bin/python --version))"
