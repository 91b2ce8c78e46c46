#!/usr/bin/env bash
# Infrastructure and template checks, in their own virtual environment (infra/.venv).
#
# Runs on a fresh clone with no state (CI runs it as root) and again on a developer machine: every step is
# idempotent. It needs python3 and, for the shell-script checks, shellcheck (installed with apt-get when
# missing and running as root). pulumi-azure-native is large (about 360 MB), which is why it lives here and
# not in the runtime's environment.
set -euo pipefail

repo_root="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
cd "$repo_root"

venv="infra/.venv"
if [ ! -x "$venv/bin/python" ]; then
  echo "infra: creating $venv"
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r infra/requirements.txt -r infra/requirements-dev.txt

if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "infra: installing shellcheck"
    apt-get install -y -qq shellcheck >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq shellcheck >/dev/null 2>&1; } \
      || echo "infra: could not install shellcheck (under CI=true its test fails)"
  else
    echo "infra: shellcheck not found (apt-get install shellcheck); under CI=true its test fails"
  fi
fi

echo "infra: mypy (strict) on infra/ and scripts/"
"$venv/bin/python" -m mypy --config-file infra/mypy.ini

echo "infra: running infra/tests"
exec "$venv/bin/python" -m pytest infra/tests -p no:cacheprovider "$@"
