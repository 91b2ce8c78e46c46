"""Shared steps of the approval tests: start a turn that pauses, decide it, read SSE replies, read the ledger
of tool runs the test app keeps (tests/hosting/apps/approvals)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer

APPROVALS_APP = Path(__file__).parent / "apps" / "approvals"
AGENT = "Refunds"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test app's files (its SQLite sessions and the ledger of tool runs), one folder per test module."""
    return tmp_path_factory.mktemp("approvals")


@pytest.fixture(scope="module")
def host(model: OpenAIServer, state: Path) -> Iterator[LocalHostProcess]:
    """The approvals test app on the local host, for one test module."""
    with LocalHostProcess(APPROVALS_APP, env=app_env(model.base_url, model.api_key, state)) as process:
        yield process


@pytest.fixture
def script(model: OpenAIServer, state: Path) -> OpenAIServer:
    """The scripted model, emptied, and the ledger of tool runs cleared for the test."""
    model.script.clear()
    (state / "ledger.txt").unlink(missing_ok=True)
    return model


def app_env(model_base_url: str, api_key: str, state: Path, **extra: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": api_key, "OPENAI_BASE_URL": model_base_url,
            "AGENTS_SESSION_DB": str(state / "sessions.sqlite3"), "APPROVALS_LEDGER": str(state / "ledger.txt"),
            **extra}


def ledger(state: Path) -> list[str]:
    path = state / "ledger.txt"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def chat(host: LocalHostProcess, message: str, *, headers: dict[str, str] | None = None,
         **body: Any) -> httpx.Response:
    return httpx.post(f"{host.url}/api/agents/{AGENT}/chat", json={"message": message, **body},
                      headers=headers or {}, timeout=30)


def approvals_url(host: LocalHostProcess, session_id: str, turn_id: str) -> str:
    return f"{host.url}/api/sessions/{session_id}/turns/{turn_id}/approvals"


def decide(host: LocalHostProcess, paused: dict[str, Any], *decisions: dict[str, Any],
           user_id: str | None = "ana", headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    params = {"user_id": user_id} if user_id else {}
    return httpx.post(approvals_url(host, paused["session_id"], paused["turn_id"]), params=params,
                      json={"decisions": list(decisions), **body}, headers=headers or {}, timeout=30)


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, data)`` of each event of an SSE body."""
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "", ""
    for line in [*text.splitlines(), ""]:
        if not line:
            if data:
                events.append((name, json.loads(data)))
            name, data = "", ""
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
    return events


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])
