#!/usr/bin/env bash
# Installs everything the tests need (Python packages, npm peers) and runs lint, type checks and all tests.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
venv_python="$PWD/.venv/bin/python"
"$venv_python" -m pip install --quiet --upgrade pip
"$venv_python" -m pip install --quiet -e ".[all,dev]"

if command -v npm >/dev/null 2>&1; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "npm not found: tests that need Node.js peers will be skipped" >&2
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
echo "== import contracts (pyproject.toml [tool.importlinter])" && "$PWD/.venv/bin/lint-imports" --no-cache
echo "== runtime and sample tests"
"$venv_python" -m pytest "$@"

if [ -f scripts/ci/infra.sh ]; then
  echo "== infrastructure and template checks"
  bash scripts/ci/infra.sh
fi
