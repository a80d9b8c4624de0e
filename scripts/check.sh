#!/usr/bin/env bash
# Every check the project has, in one place; CI runs exactly this (through ./run check).
# Stops at the first failing step and says which it was.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
SRC="app schema resolvers loaders storage sources ingest pubsub cost"

step() {
  local name="$1"; shift
  local t0=$SECONDS
  printf '\n=== %s\n' "$name"
  if "$@"; then
    printf -- '--- %s ok (%ss)\n' "$name" "$((SECONDS - t0))"
  else
    printf -- '--- %s FAILED\n' "$name"
    exit 1
  fi
}

step "format (ruff format --check)" ruff format --check .
step "lint (ruff check)" ruff check .
step "types (mypy --strict on the source)" mypy $SRC
step "import contracts (lint-imports)" lint-imports
step "schema.graphql drift" cryptoql export-schema --check
step "tests (pytest, SQLite + PostgreSQL + Redis)" python -m pytest -p no:cacheprovider "$@"
