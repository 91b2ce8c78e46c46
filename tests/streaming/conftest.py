"""Streaming tests: the HTTP tests' app in streams mode, served by the local host, and every provider's local
server (the fixtures of ``tests/providers``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providers.conftest import (  # noqa: F401 - fixtures used by the provider streaming tests
    _no_ollama_key,
    anthropic_server,
    gemini_server,
    ollama_server,
    provider_case,
)
from tests.servers.localhost import LocalHostProcess
from tests.servers.model_fixtures import script, scripted_model  # noqa: F401 - the shared fixtures
from tests.servers.openai_server import OpenAIServer

STREAMS_APP = Path(__file__).parent / "apps" / "streams"

#: One model for the package: the local host below, started once, is configured with its address.
model = scripted_model(scope="package")


@pytest.fixture(scope="package")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url, "TEST_MODEL_TIMEOUT": "1",
           "AGENTS_MAX_BODY_BYTES": "4096",
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("sessions") / "s.sqlite3")}
    with LocalHostProcess(STREAMS_APP, env=env) as process:
        yield process
