from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.crash import crash_site, crash_stack  # noqa: F401 - the Idempotency-Key retry tests' worlds
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer

BASIC_APP = Path(__file__).parent / "apps" / "basic"


@pytest.fixture(scope="module")
def model() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url, "TEST_MODEL_TIMEOUT": "1",
           "AGENTS_MAX_BODY_BYTES": "4096",
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("sessions") / "s.sqlite3")}
    with LocalHostProcess(BASIC_APP, env=env) as process:
        yield process


@pytest.fixture
def script(model: OpenAIServer):  # type: ignore[no-untyped-def]
    model.script.clear()
    return model.script
