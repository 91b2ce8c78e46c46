from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.crash import crash_site, crash_stack  # noqa: F401 - the Idempotency-Key retry tests' worlds
from tests.servers.localhost import LocalHostProcess
from tests.servers.model_fixtures import model, script
from tests.servers.openai_server import OpenAIServer

__all__ = ["model", "script"]

BASIC_APP = Path(__file__).parent / "apps" / "basic"


@pytest.fixture(scope="module")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url, "TEST_MODEL_TIMEOUT": "1",
           "AGENTS_MAX_BODY_BYTES": "4096",
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("sessions") / "s.sqlite3")}
    with LocalHostProcess(BASIC_APP, env=env) as process:
        yield process
