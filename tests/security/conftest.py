"""Shared pieces of the security tests: the apps, a scripted model, and the tally of hostile requests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess
from tests.servers.model_fixtures import script, scripted_model  # noqa: F401 - the shared fixtures
from tests.servers.openai_server import OpenAIServer

APPS = Path(__file__).parent / "apps"
SURFACE_APP = APPS / "surface"
LEVELS_APP = APPS / "levels"
ENTRA_APP = APPS / "entra"

#: What must never be in a response body: tracebacks, file paths of this machine, Python exception reprs.
LEAKS = re.compile(r"Traceback \(most recent call last\)|File \"/|/work/|site-packages|\.py\", line \d+|"
                   r"\b(?:Key|Type|Value|Attribute|Index|Runtime|Unicode\w*)Error\(")


@dataclass
class Tally:
    """Every hostile request sent, by suite, and the 5xx answers seen (which must stay 0)."""

    requests: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)

    def record(self, suite: str, method: str, path: str, status: int) -> None:
        self.requests[suite] = self.requests.get(suite, 0) + 1
        if status >= 500:
            self.server_errors.append(f"{method} {path} -> {status}")


TALLY = Tally()


def check_reply(response: httpx.Response, suite: str) -> None:
    """The hostile-input contract of one response: no 5xx, no leak, errors in the JSON envelope."""
    TALLY.record(suite, response.request.method, response.request.url.path, response.status_code)
    assert response.status_code < 500, f"{response.request.method} {response.request.url} -> " \
                                       f"{response.status_code}: {response.text[:300]}"
    text = response.text
    assert not LEAKS.search(text), f"internal detail in the body: {text[:300]}"
    path = response.request.url.path
    protocol = path == "/api/mcp" or path.endswith("/a2a")  # MCP and A2A answer errors in their own protocol
    if response.status_code >= 400 and not protocol and response.request.method != "HEAD":
        assert response.headers.get("content-type", "").startswith("application/json"), text[:300]
        data = response.json()
        assert isinstance(data.get("error"), dict) and isinstance(data["error"].get("code"), str), text[:300]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.requests:
        return
    total = sum(TALLY.requests.values())
    parts = ", ".join(f"{suite} {count}" for suite, count in sorted(TALLY.requests.items()))
    from tests.security.hostile_inputs import SEED

    terminalreporter.write_line(f"hostile-input suite: {total} requests tried ({parts}); "
                                f"5xx seen = {len(TALLY.server_errors)}; random seed {SEED} "
                                f"(replay: AGENTS_TEST_HOSTILE_SEED={SEED})")


model = scripted_model(api_key="security-model-key-0001")


def surface_env(model: OpenAIServer, tmp: Path, **extra: str) -> dict[str, str]:
    return {"SECURITY_MODEL_KEY": model.api_key, "SECURITY_MODEL_BASE_URL": model.base_url,
            "SECURITY_TOOL_LOG": str(tmp / "tools.jsonl"), "AGENTS_SESSION_DB": str(tmp / "s.sqlite3"),
            "AGENTS_MAX_BODY_BYTES": "65536", **extra}


@pytest.fixture(scope="module")
def surface(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    """The surface app on the local host, without keys (as `func start` runs it)."""
    tmp = tmp_path_factory.mktemp("surface")
    with LocalHostProcess(SURFACE_APP, env=surface_env(model, tmp)) as process:
        yield process
