"""Shared set-up of the infrastructure tests: import paths, and the program run under Pulumi mocks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

INFRA_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = INFRA_DIR.parent
# The program's package, and the runtime's settings module (standard library only) for the name contract.
for path in (INFRA_DIR, REPO_ROOT / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.harness import Deployment, run_stack  # noqa: E402


@pytest.fixture(scope="session")
def default_stack() -> Deployment:
    """The stack with only the required config: what `azd up` provisions out of the box."""
    return run_stack()
