"""Backends for the session store contract suite.

Cosmos DB runs against ``@vercel/cosmosdb-server`` on 127.0.0.1, authenticated through azure-identity's
managed identity credential and a local token endpoint, unless ``COSMOS_ENDPOINT`` is set: then the suite runs
against that real account (``COSMOS_DATABASE``/``COSMOS_CONTAINER``, credential ``DefaultAzureCredential``).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.servers.cosmos import CosmosServer
from tests.servers.identity import IdentityServer

from azurefunctions.agents.sessions import MemorySessionStore, SessionStore

# Read at import: the shared autouse fixture clears COSMOS_*, AZURE_CLIENT_ID, IDENTITY_* for each test.
REAL_COSMOS = {
    "endpoint": os.environ.get("COSMOS_ENDPOINT", "").strip(),
    "database": os.environ.get("COSMOS_DATABASE", "").strip() or "agents",
    "container": os.environ.get("COSMOS_CONTAINER", "").strip() or "state",
}
# What DefaultAzureCredential needs to reach a real account (workload identity federation, managed identity).
_REAL_IDENTITY_ENV = {
    name: os.environ[name]
    for name in (
        "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
        "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
    )
    if REAL_COSMOS["endpoint"] and os.environ.get(name)
}
#: Data written to a real account by the tests expires by itself after this long.
REAL_ACCOUNT_TTL = 3600


@dataclass
class CosmosTarget:
    endpoint: str
    database: str
    container: str
    local: bool
    env: dict[str, str]
    identity: IdentityServer | None = None


@pytest.fixture(scope="session")
def cosmos_target() -> Iterator[CosmosTarget]:
    if REAL_COSMOS["endpoint"]:
        yield CosmosTarget(
            REAL_COSMOS["endpoint"],
            REAL_COSMOS["database"],
            REAL_COSMOS["container"],
            local=False,
            env=dict(_REAL_IDENTITY_ENV),
        )
        return
    reason = CosmosServer.available()
    if reason is not None:
        pytest.skip(reason)
    with CosmosServer() as server, IdentityServer() as identity:
        yield CosmosTarget(
            endpoint=server.endpoint,
            database=f"test-{uuid.uuid4().hex[:8]}",
            container="state",
            local=True,
            env=dict(identity.env),
            identity=identity,
        )


@pytest.fixture
def cosmos(cosmos_target: CosmosTarget, monkeypatch: pytest.MonkeyPatch) -> CosmosTarget:
    """The Cosmos DB target, with the environment pointing azure-identity at its token endpoint."""
    pytest.importorskip("azure.cosmos")
    for name, value in cosmos_target.env.items():
        monkeypatch.setenv(name, value)
    return cosmos_target


class Clock:
    """Wall time that a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        import time

        return time.time() + self.offset


@dataclass
class Backend:
    """Makes store objects of one backend over the same data (file or account)."""

    name: str
    tmp_path: Path
    cosmos: CosmosTarget | None = None
    created: list[SessionStore] = field(default_factory=list)
    shared_memory: MemorySessionStore | None = None

    @property
    def persistent(self) -> bool:
        return self.name != "memory"

    @property
    def db_path(self) -> Path:
        return self.tmp_path / "data" / "sessions.sqlite3"

    def make(
        self, *, ttl_seconds: float | None = None, clock: Callable[[], float] | None = None, **options: Any
    ) -> SessionStore:
        extra: dict[str, Any] = {} if clock is None else {"clock": clock}
        store: SessionStore
        if self.name == "memory":
            if ttl_seconds is None and clock is None and self.shared_memory is not None:
                return self.shared_memory
            store = MemorySessionStore(ttl_seconds, **extra)
            if ttl_seconds is None and clock is None:
                self.shared_memory = store
        elif self.name == "sqlite":
            from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

            store = SqliteSessionStore(self.db_path, ttl_seconds=ttl_seconds, **extra, **options)
        else:
            from azurefunctions.agents.sessions.cosmos import CosmosSessionStore

            assert self.cosmos is not None
            if ttl_seconds is None and not self.cosmos.local:
                ttl_seconds = REAL_ACCOUNT_TTL
            store = CosmosSessionStore(
                self.cosmos.endpoint,
                database=self.cosmos.database,
                container=self.cosmos.container,
                ttl_seconds=ttl_seconds,
                create_if_missing=self.cosmos.local,
                enable_endpoint_discovery=not self.cosmos.local,
                **extra,
                **options,
            )
        self.created.append(store)
        return store

    def subprocess_env(self) -> dict[str, str]:
        """Environment under which ``create_session_store()`` in another process opens the same data."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("COSMOS_", "AGENTS_"))}
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), *sys.path])
        if self.name == "sqlite":
            env["AGENTS_SESSION_DB"] = str(self.db_path)
        else:
            assert self.cosmos is not None
            env.update(self.cosmos.env)
            env.update(
                {
                    "COSMOS_ENDPOINT": self.cosmos.endpoint,
                    "COSMOS_DATABASE": self.cosmos.database,
                    "COSMOS_CONTAINER": self.cosmos.container,
                }
            )
        return env


@pytest.fixture(params=["memory", "sqlite", "cosmos"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    cosmos = request.getfixturevalue("cosmos") if request.param == "cosmos" else None
    if request.param == "sqlite":
        pytest.importorskip("aiosqlite")
    made = Backend(request.param, tmp_path, cosmos)
    try:
        yield made
    finally:
        for store in made.created:
            await store.aclose()


@pytest.fixture
def new_id() -> Callable[[], str]:
    return lambda: f"s-{uuid.uuid4().hex}"
