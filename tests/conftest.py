"""Shared fixtures: local servers that stand in for cloud endpoints, and a clean environment per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.network_guard.plugin import ISOLATED
from tests.servers.openai_server import OpenAIServer

_ISOLATED = ISOLATED  # the list's home is the network-guard plugin; kept under its old name for importers


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The run started with these removed (tests/servers/network_guard/plugin.py); a test that set one is undone.
    for name in ISOLATED:
        monkeypatch.delenv(name, raising=False)
    # Apps built in a test keep their embedded session store in the test's own folder, not the checkout.
    monkeypatch.setenv("AGENTS_SESSION_DB", str(tmp_path / "agents-sessions.sqlite3"))
    # Never let a credential probe the cloud metadata endpoint from a test.
    monkeypatch.setenv("AZURE_IDENTITY_DISABLE_MULTITENANTAUTH", "1")
    monkeypatch.setenv("OTEL_SDK_DISABLED", os.environ.get("OTEL_SDK_DISABLED", "true"))


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def openai(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    """The local OpenAI server with an empty script, selected through the SDK's own settings."""
    openai_server.script.clear()
    monkeypatch.setenv("OPENAI_API_KEY", openai_server.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    return openai_server
