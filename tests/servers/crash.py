"""Kill-test harness: a real worker process (the local host, ``python -m azurefunctions.agents serve``) running
the crash app (``crash_app/``) that a test stops at a chosen point of a turn (SIGKILL, or SIGTERM for a drain),
then a second worker that takes the turn over.

What a test can count, all outside the worker: the scripted model server's requests (one per model call, by
position in the turn), the tools' effects file, the payment ledger. The turn's lease and the local queue's
message visibility are short (``LEASE_SECONDS``), so a take-over happens within seconds. The session store is
the SQLite file or Cosmos DB (``@vercel/cosmosdb-server`` reached with a managed-identity token, as in Azure).
Import ``crash_site`` (and ``crash_stack``) into a test folder's conftest.py to use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from azurefunctions.agents.sessions.base import SessionStore

from .azurite import AzuriteQueues
from .cosmos import CosmosServer
from .identity import IdentityServer
from .localhost import MODEL_SETTINGS, LocalHostProcess
from .openai_server import OpenAIServer

CRASH_APP = Path(__file__).resolve().parent / "crash_app"
#: The agent of the crash app, and the start of its system prompt (how scripted replies find its calls).
AGENT = "Orders"
PROMPT = "Orders agent"
#: Seconds a claimed turn (and a received queue message) stays taken without renewal: a killed worker's turn
#: is taken over this long after its last renewal.
LEASE_SECONDS = 2


def wait_for(check: Callable[[], Any], *, timeout: float = 30.0, what: str = "the condition",
             interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something true (returned), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


class Worker(LocalHostProcess):
    """A worker process that a test can kill (no shutdown at all) or drain (SIGTERM, the platform's stop)."""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def drain(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for the process to end; returns its exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@dataclass
class CrashStack:
    """The servers every crash test shares: the model, Azurite's queues and, for Cosmos DB, the account."""

    model: OpenAIServer
    azurite: AzuriteQueues
    cosmos: CosmosServer | None = None
    identity: IdentityServer | None = None


@dataclass
class CrashSite:
    """One test's world: the app's environment, its folder of effects and the stack it runs against."""

    stack: CrashStack
    folder: Path
    env: dict[str, str]
    workers: list[Worker] = field(default_factory=list)

    @property
    def model(self) -> OpenAIServer:
        return self.stack.model

    def worker(self) -> Worker:
        """Start a worker (the local host serving HTTP and the work queue) and wait until it answers."""
        worker = Worker(CRASH_APP, env=self.env)
        self.workers.append(worker)
        worker.start()
        return worker

    # The gate the tools wait at ------------------------------------------------------------------------------
    def open_gate(self) -> None:
        (self.folder / "gate").touch()

    def close_gate(self) -> None:
        (self.folder / "gate").unlink(missing_ok=True)

    # What happened ------------------------------------------------------------------------------------------
    def effects(self, event: str | None = None, *, file: str = "effects.jsonl") -> list[dict[str, Any]]:
        path = self.folder / file
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        found = [json.loads(line) for line in lines if line.strip()]
        return [e for e in found if event is None or e["event"] == event]

    def payments(self) -> list[dict[str, Any]]:
        """What the payment ledger applied (once per idempotency key)."""
        return self.effects(file="ledger.jsonl")

    def model_calls(self, position: int) -> int:
        """Requests the model server received for the agent's ``position``-th model call of a turn that started
        a conversation (1: the user's message; 2: after one tool result ...)."""
        count = 0
        for request in self.model.script.requests:
            messages = request.get("messages") or []
            if not messages or not str(messages[0].get("content", "")).startswith(PROMPT):
                continue
            if sum(1 for m in messages if m.get("role") == "assistant") == position - 1:
                count += 1
        return count

    @contextlib.contextmanager
    def store(self) -> Iterator[SessionStore]:
        """The workers' session store, opened in this process (Cosmos DB with the managed identity's token)."""
        if "COSMOS_ENDPOINT" not in self.env:
            from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

            yield SqliteSessionStore(self.env["AGENTS_SESSION_DB"])
            return
        from azurefunctions.agents.sessions.cosmos import CosmosSessionStore

        assert self.stack.identity is not None
        with mock.patch.dict(os.environ, self.stack.identity.env):
            yield CosmosSessionStore(self.env["COSMOS_ENDPOINT"], database=self.env["COSMOS_DATABASE"],
                                     container=self.env["COSMOS_CONTAINER"], enable_endpoint_discovery=False)

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait(timeout=10)
            worker.stop()
            worker.log_path.unlink(missing_ok=True)


async def _create_container(endpoint: str, identity: IdentityServer, database: str, container: str) -> None:
    """The database and container the infrastructure creates in Azure (the data plane cannot)."""
    from azure.cosmos import PartitionKey
    from azure.cosmos.aio import CosmosClient
    from azure.identity.aio import ManagedIdentityCredential

    with mock.patch.dict(os.environ, identity.env):
        credential = ManagedIdentityCredential()
    async with credential, CosmosClient(endpoint, credential=credential,
                                        enable_endpoint_discovery=False) as client:
        created = await client.create_database_if_not_exists(database)
        await created.create_container_if_not_exists(container, partition_key=PartitionKey(path="/pk"))


@pytest.fixture(scope="module", params=["sqlite", "cosmos"])
def crash_stack(request: pytest.FixtureRequest) -> Iterator[CrashStack]:
    """The shared servers, once per module and backend (``sqlite``, ``cosmos``)."""
    backend = str(request.param)
    needed = [AzuriteQueues.available()] + ([CosmosServer.available()] if backend == "cosmos" else [])
    for reason in needed:
        if reason is not None:
            pytest.skip(reason)  # a failure under CI=true (tests/servers/network_guard/plugin.py)
    model = OpenAIServer()
    with model, AzuriteQueues() as azurite:
        if backend == "sqlite":
            yield CrashStack(model, azurite)
            return
        with CosmosServer() as cosmos, IdentityServer() as identity:
            yield CrashStack(model, azurite, cosmos, identity)


@pytest.fixture
def crash_site(crash_stack: CrashStack, tmp_path: Path) -> Iterator[CrashSite]:
    """A fresh world for one test: its own queue, database (Cosmos DB) or file (SQLite), effects folder; the
    gate open; the model's script empty. Every worker it started is stopped afterwards."""
    stack = crash_stack
    stack.model.script.clear()
    folder = tmp_path / "crash"
    folder.mkdir()
    env = dict.fromkeys(MODEL_SETTINGS, "")
    env.update({
        "OPENAI_API_KEY": stack.model.api_key, "OPENAI_BASE_URL": stack.model.base_url,
        "CRASH_DIR": str(folder),
        "AzureWebJobsStorage": stack.azurite.connection_string,
        "AGENTS_WORK_QUEUE": f"crash-{uuid.uuid4().hex[:12]}",
        "AGENTS_TURN_LEASE_SECONDS": str(LEASE_SECONDS),
        "AGENTS_LOCAL_QUEUE_VISIBILITY_SECONDS": str(LEASE_SECONDS),
        "AGENTS_LOCAL_QUEUE_POLL_SECONDS": "0.3",
        "AGENTS_SESSION_DB": str(tmp_path / "sessions.sqlite3"),
    })
    if stack.cosmos is not None and stack.identity is not None:
        database = f"crash-{uuid.uuid4().hex[:8]}"
        asyncio.run(_create_container(stack.cosmos.endpoint, stack.identity, database, "state"))
        env.update({"COSMOS_ENDPOINT": stack.cosmos.endpoint, "COSMOS_DATABASE": database,
                    "COSMOS_CONTAINER": "state", **stack.identity.env})
    site = CrashSite(stack, folder, env)
    site.open_gate()
    try:
        yield site
    finally:
        site.stop_all()
