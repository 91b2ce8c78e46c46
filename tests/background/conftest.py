"""Background-work tests: Azurite's queue service (npm azurite) on 127.0.0.1, shared by the package's tests
(it takes seconds to start); each test uses queues of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.servers.azurite import AzuriteQueues
from tests.servers.crash import crash_site, crash_stack  # noqa: F401 - the kill tests' worlds
from tests.servers.model_fixtures import model  # noqa: F401 - the shared scripted model
from tests.sessions.conftest import cosmos, cosmos_target  # noqa: F401 - the Cosmos DB store's fixtures


@pytest.fixture(scope="package")
def azurite() -> Iterator[AzuriteQueues]:
    reason = AzuriteQueues.available()
    if reason is not None:
        pytest.skip(reason)
    with AzuriteQueues() as server:
        yield server


@pytest.fixture
def queue_name() -> str:
    """A fresh work-queue name (its poison queue is ``<name>-poison``)."""
    return f"turns-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def storage(azurite: AzuriteQueues, queue_name: str, monkeypatch: pytest.MonkeyPatch) -> AzuriteQueues:
    """Azurite as the app's ``AzureWebJobsStorage``, and the test's own work queue as ``AGENTS_WORK_QUEUE``."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("AGENTS_WORK_QUEUE", queue_name)
    return azurite
