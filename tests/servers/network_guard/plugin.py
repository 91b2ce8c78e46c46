"""The pytest plugin every test runs under (loaded by the repository's root ``conftest.py``).

- The environment is scrubbed once, before any fixture or test module reads it: settings that point at a real
  service (model keys and endpoints, Azure identity, Cosmos DB, storage) are removed from ``os.environ``, so a
  module-scoped fixture that copies the environment, or a child process, cannot inherit a developer's keys.
- The loopback-only socket guard is installed in this process, and child Python processes started with
  ``guarded_env()`` install it too; a connection off loopback from either fails the test running at the time,
  even when the code under test caught the error.

``AGENTS_TEST_REAL_AZURE=1`` (the deployment workflow's contract tests against a real Cosmos DB account) keeps
the Azure settings and lifts the guard; nothing else does.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import loopback_only

GUARD_DIR = Path(__file__).resolve().parent
REAL_AZURE = os.environ.get("AGENTS_TEST_REAL_AZURE") == "1"

# Settings that would point a test at a real service or change model selection.
ISOLATED = (
    "AGENT_PROVIDER", "AGENT_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
    "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT", "AZURE_OPENAI_API_VERSION",
    "AZURE_OPENAI_AD_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "OLLAMA_API_KEY",
    "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_GENAI_USE_VERTEXAI", "OLLAMA_HOST", "AZURE_KEY_VAULT_ENDPOINT",
    "APPLICATIONINSIGHTS_CONNECTION_STRING", "WEBSITE_INSTANCE_ID", "AZURE_CLIENT_ID", "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
    "AZURE_USERNAME", "AZURE_PASSWORD", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET",
    "AzureWebJobsStorage", "AGENTS_WORK_QUEUE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
    "https_proxy", "all_proxy",
)
ISOLATED_PREFIXES = ("COSMOS_", "AzureWebJobsStorage__", "AGENTS_", "A2A_", "MCP_", "OTEL_EXPORTER_")
#: Test-suite settings under those prefixes that a developer may set on purpose.
KEPT = ("AGENTS_TEST_CACHE", "AGENTS_TEST_REAL_AZURE", "AGENTS_TEST_HOSTILE_SEED")
REAL_AZURE_KEPT_PREFIXES = ("COSMOS_", "AZURE_", "IDENTITY_")


def scrub_environment(environ: os._Environ[str] | dict[str, str]) -> list[str]:
    """Remove every isolated setting from ``environ``; returns the names removed."""
    removed = []
    for name in list(environ):
        if name in KEPT:
            continue
        if REAL_AZURE and name.startswith(REAL_AZURE_KEPT_PREFIXES):
            continue
        if name in ISOLATED or name.startswith(ISOLATED_PREFIXES):
            del environ[name]
            removed.append(name)
    return removed


_log_file = Path(tempfile.gettempdir()) / f"agents-network-guard-{os.getpid()}.log"


def guarded_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child Python process: this (scrubbed) environment, ``env`` on top, and the guard
    loaded at the child's start-up (``sitecustomize`` on ``PYTHONPATH``), reporting to this test run."""
    merged = {**os.environ, **(env or {})}
    if not REAL_AZURE:
        paths = [str(GUARD_DIR), *[p for p in merged.get("PYTHONPATH", "").split(os.pathsep) if p]]
        merged["PYTHONPATH"] = os.pathsep.join(paths)
        merged[loopback_only.LOG_SETTING] = str(_log_file)
    return merged


def pytest_configure(config: pytest.Config) -> None:
    scrub_environment(os.environ)
    if not REAL_AZURE:
        _log_file.write_text("")
        loopback_only.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    _log_file.unlink(missing_ok=True)


def _child_violations(offset: int) -> tuple[str, int]:
    try:
        text = _log_file.read_text(encoding="utf-8")
    except OSError:
        return "", offset
    return text[offset:], len(text)


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    """Fails the test when it (or a child process it uses) connected, or tried to, off loopback."""
    before = len(loopback_only.violations)
    _, offset = _child_violations(0)
    yield
    if REAL_AZURE:
        return
    mine = loopback_only.violations[before:]
    children, _ = _child_violations(offset)
    if mine or children:
        details = "\n".join([*mine, *children.splitlines()])
        pytest.fail(f"the test reached for the network outside loopback:\n{details}", pytrace=False)


# --- Under CI=true a skip is a failure, unless the test can never apply in this configuration ------------------
ON_CI = os.environ.get("CI", "").lower() == "true"
#: Skips that hold in every correct build (a case that does not apply to one parametrization or one target).
#: Anything else - a missing peer, a module that does not import, a server that stopped misbehaving - fails CI.
STRUCTURAL_SKIPS = (
    "the memory store lives in one process",
    "the memory store keeps nothing across a restart",
    "a real account removes expired items itself",
    "needs the local token endpoint",
    "creates nothing on a real account",
)


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _fail_skip_on_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not ON_CI or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    if any(allowed in reason for allowed in STRUCTURAL_SKIPS):
        return
    report.outcome = "failed"
    report.longrepr = (f"skipped under CI=true: {reason}\nscripts/test.sh installs every peer (Python extras, "
                       "tests/node, mcp-server-time); a skip here means one is missing or a regression hid a test")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    _fail_skip_on_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _fail_skip_on_ci(outcome.get_result())
