"""Run a turn in a fresh process (telemetry set-up is process-global) against local peers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.appinsights import AppInsightsSink
from tests.servers.identity import IdentityServer
from tests.servers.network_guard.plugin import ISOLATED as _ISOLATED

ROOT = Path(__file__).resolve().parents[2]
#: Keep the Azure Monitor distro off the network and sample every trace (see docs/telemetry.md).
QUIET_EXPORTER = {
    "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "otel",
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    "AGENTS_TELEMETRY_LIVE_METRICS": "false",
    "OTEL_TRACES_SAMPLER": "microsoft.fixed_percentage",
    "OTEL_TRACES_SAMPLER_ARG": "1.0",
}


@dataclass
class Run:
    result: dict[str, Any]
    stdout: str
    stderr: str


def run_scenario(mode: str, env: dict[str, str], tmp_path: Path, timeout: float = 60) -> Run:
    """``tests.telemetry.scenario`` in a subprocess with a clean environment plus ``env``."""
    base = {k: v for k, v in os.environ.items()
            if k not in _ISOLATED and not k.startswith(("OTEL_", "APPLICATIONINSIGHTS_"))}
    base.update(TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT), AZURE_IDENTITY_DISABLE_MULTITENANTAUTH="1")
    base.update(env)
    proc = subprocess.run([sys.executable, "-m", "tests.telemetry.scenario", mode], cwd=ROOT, env=base,
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("SCENARIO "))
    return Run(json.loads(line.removeprefix("SCENARIO ")), proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def identity() -> Iterator[IdentityServer]:
    with IdentityServer() as server:
        yield server


@pytest.fixture
def sink() -> Iterator[AppInsightsSink]:
    with AppInsightsSink() as server:
        yield server
