#!/usr/bin/env bash
# Install what the project needs, idempotently and quickly when nothing changed.
#   scripts/bootstrap.sh runtime   the virtualenv with the package (enough to serve)
#   scripts/bootstrap.sh dev       + dev tools, npm packages for tests, headless Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-runtime}"

log() { printf '[bootstrap] %s\n' "$*" >&2; }

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.13 python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY="$cand"; break
    fi
  done
fi
[ -n "$PY" ] || { log "Python 3.11 or newer is required"; exit 1; }

if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $PY"
  "$PY" -m venv .venv
fi

extras=""
[ "$mode" = "dev" ] && extras="[dev]"
stamp=".venv/.bootstrap-$mode"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing cryptoql$extras into .venv (first run takes about a minute)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras" 2>&1 \
    | grep -v -E "^WARNING: Location .* is ignored" || true
  .venv/bin/python -c "import app.cli, strawberry" || { log "install failed"; exit 1; }
  echo "$want" > "$stamp"
fi

if [ "$mode" = "dev" ]; then
  if [ -f package.json ]; then
    nstamp="node_modules/.bootstrap"
    nwant="$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)"
    if [ ! -f "$nstamp" ] || [ "$(cat "$nstamp")" != "$nwant" ]; then
      log "installing npm packages for tests (graphql-ws client, anvil)"
      if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
      echo "$nwant" > "$nstamp"
    fi
  fi
  # Debian packages the tests drive for real: chromium (the GraphiQL browser test) and wrk
  # (the speed bench's baseline load generator, whose error counting is tested).
  for need in "chromium:the GraphiQL browser test" "wrk:the wrk load test of bench/wrk.py"; do
    pkg="${need%%:*}"; why="${need#*:}"
    command -v "$pkg" >/dev/null 2>&1 && continue
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      log "installing Debian's $pkg for $why"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null) \
        || log "could not install $pkg; $why will fail"
    else
      log "$pkg not found and cannot be installed (not root); $why will fail"
    fi
  done
fi
