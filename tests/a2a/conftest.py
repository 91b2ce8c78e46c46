"""Local host processes serving the A2A test app, sharing one SQLite store per test module; with background
work, Azurite's queue service (npm azurite) as their storage account."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.servers.azurite import AzuriteQueues
from tests.servers.localhost import LocalHostProcess
from tests.sessions.conftest import backend, cosmos, cosmos_target  # noqa: F401 - the stores' backends

APP = Path(__file__).resolve().parent / "app"
#: Webhooks of the tests listen on 127.0.0.1, which the SSRF guard refuses unless it is allowed.
PUSH_ALLOWED = {"A2A_PUSH_ALLOWED_HOSTS": "127.0.0.1"}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("a2a") / "sessions.sqlite3"


@pytest.fixture(scope="module")
def host(store_path: Path) -> Iterator[LocalHostProcess]:
    """The app on the classic Functions types (SSE bodies are sent once complete)."""
    with LocalHostProcess(APP, env={"AGENTS_SESSION_DB": str(store_path), **PUSH_ALLOWED}) as process:
        yield process


@pytest.fixture(scope="module")
def streaming_host(store_path: Path) -> Iterator[LocalHostProcess]:
    """The app on the HTTP-streams types (SSE events sent as they happen), same store."""
    env = {"AGENTS_SESSION_DB": str(store_path), "A2A_TEST_STREAMING": "1", "PYTHON_ENABLE_INIT_INDEXING": "1",
           **PUSH_ALLOWED}
    with LocalHostProcess(APP, env=env) as process:
        yield warm(process)


@pytest.fixture(scope="module")
def azurite() -> Iterator[AzuriteQueues]:
    reason = AzuriteQueues.available()
    if reason is not None:
        pytest.skip(reason)
    with AzuriteQueues() as server:
        yield server


@pytest.fixture(scope="module")
def background_env(azurite: AzuriteQueues, store_path: Path) -> dict[str, str]:
    """Two instances of one app: the same store (SQLite file) and the same work queue (Azurite)."""
    return {"AGENTS_SESSION_DB": str(store_path), "A2A_TEST_BACKGROUND": "1",
            "AzureWebJobsStorage": azurite.connection_string, "AGENTS_WORK_QUEUE": f"a2a-{uuid.uuid4().hex[:12]}",
            "AGENTS_LOCAL_QUEUE_POLL_SECONDS": "0.2", **PUSH_ALLOWED}


def warm(process: LocalHostProcess) -> LocalHostProcess:
    """Load the A2A SDK in ``process`` (its first A2A request imports it, lazily), so timings measure the
    protocol's behaviour and not that one-time import."""
    httpx.post(f"{process.url}/api/agents/Sleeper/a2a", headers={"A2A-Version": "1.0"}, timeout=30,
               json={"jsonrpc": "2.0", "id": 0, "method": "GetTask", "params": {"id": "warm-up"}})
    return process


@pytest.fixture(scope="module")
def instance_a(background_env: dict[str, str]) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(APP, env=background_env) as process:
        yield warm(process)


@pytest.fixture(scope="module")
def instance_b(background_env: dict[str, str]) -> Iterator[LocalHostProcess]:
    """The second instance, on the HTTP-streams types so a subscriber sees events as they happen."""
    env = {**background_env, "A2A_TEST_STREAMING": "1", "PYTHON_ENABLE_INIT_INDEXING": "1"}
    with LocalHostProcess(APP, env=env) as process:
        yield warm(process)
