#!/usr/bin/env bash
# Installs what Switchboard needs on a fresh machine: system packages where missing
# (eSpeak NG, Redis, PostgreSQL, and Prometheus for its promtool), uv, and the virtual
# environment in .venv/ from the lock file. Safe to run again: it only installs what is
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v redis-server >/dev/null || missing+=(redis-server)
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
# Only Prometheus's promtool is used (tests/test_ops_monitoring.py checks and unit-tests
# ops/prometheus/ with it): no recommended packages, and no Prometheus server left running.
bare=()
command -v promtool >/dev/null || bare+=(prometheus)
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ ${#missing[@]} -gt 0 ] || [ ${#bare[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ${#bare[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${bare[*]} (for promtool)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${bare[@]}" >/dev/null
  # The package enables (and, where services may start, starts) a Prometheus server.
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/prometheus ]; then
    $SUDO /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    $SUDO update-rc.d prometheus disable >/dev/null 2>&1 || true
  fi
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
