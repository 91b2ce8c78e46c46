#!/usr/bin/env bash
# Installs everything the tests need (Python packages, npm peers) and runs lint, type checks and all tests.
# Usage: bash scripts/test.sh [pytest args...]   (TEST_LOWEST_VERSIONS=1: at the lowest allowed versions)
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-python3}"
venv=.venv
constraints=()
if [ "${TEST_LOWEST_VERSIONS:-}" = "1" ]; then
  # The lowest dependency versions pyproject.toml allows, in a virtual environment of their own.
  venv=.venv-lowest
  constraints=(--constraint constraints/lowest.txt)
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv"
fi
venv_python="$PWD/$venv/bin/python"
"$venv_python" -m pip install --quiet --upgrade pip
"$venv_python" -m pip install --quiet "${constraints[@]}" -e ".[all,dev]"

# Node.js peers (Azurite, @vercel/cosmosdb-server, the MCP reference servers), pinned by tests/node/package-lock.json.
# Node itself comes from Debian when it is missing and we may install packages; under CI=true a peer that cannot
# be installed fails the run here, and any test that would still skip for a missing peer fails too.
on_ci=false
if [ "${CI:-}" = "true" ]; then on_ci=true; fi
if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing Node.js and npm (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if command -v npm >/dev/null 2>&1; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
elif [ "$on_ci" = true ]; then
  echo "npm not found and it could not be installed: CI=true needs every test peer" >&2
  exit 1
else
  echo "npm not found: tests that need Node.js peers will be skipped (they fail under CI=true)" >&2
fi
# The stdio MCP reference server (PyPI mcp-server-time, pinned) in its own venv under .test-cache.
"$venv_python" -m tests.servers.mcp_peers >/dev/null
# The real Functions worker library (azure-functions-runtime, pinned) on Python 3.13 with the compiled host
# protocol, for tests/worker. Python 3.13: PYTHON313, python3.13 on PATH, or pyenv.
if ! "$venv_python" -m tests.worker.prepare >/dev/null; then
  if [ "$on_ci" = true ]; then
    echo "the real-worker harness could not be prepared (Python 3.13 needed): CI=true needs it" >&2
    exit 1
  fi
  echo "the real-worker harness is not prepared: tests/worker will be skipped (they fail under CI=true)" >&2
fi

# Browser tests of the playground (tests/playground): Debian's chromium, driven by Playwright for Python
# (launched by path: Playwright's own browser download is never used) and axe-core from npm.
if [ ! -x /usr/bin/chromium ]; then
  as_root=""; [ "$(id -u)" -eq 0 ] || as_root="sudo"
  $as_root apt-get update -qq
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
"$venv_python" -m pip install --quiet "playwright>=1.49,<2"
if command -v npm >/dev/null 2>&1; then
  (cd tests/playground/node && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== ruff"
"$venv_python" -m ruff check .
echo "== mypy"
"$venv_python" -m mypy
echo "== import contracts (pyproject.toml [tool.importlinter])" && "$(dirname "$venv_python")/lint-imports" --no-cache
echo "== runtime and sample tests"
"$venv_python" -m pytest "$@"

if [ -f scripts/ci/infra.sh ]; then
  echo "== infrastructure and template checks"
  bash scripts/ci/infra.sh
fi
