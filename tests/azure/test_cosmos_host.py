"""The production configuration end to end: the app served with Cosmos DB as its store.

The local host (a real process) runs ``apps/production`` with ``COSMOS_ENDPOINT`` pointing at
``@vercel/cosmosdb-server`` over HTTPS on 127.0.0.1, reached by the real ``azure-cosmos`` SDK with a token
from the local managed-identity endpoint (``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``, as App Service sets
them), background turns on Azurite's queues and the scripted OpenAI-compatible model. Chat, resume, a
background turn and an A2A task all go through Cosmos DB; the embedded SQLite file is never created.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

from tests.servers.azurite import AzuriteQueues
from tests.servers.cosmos import CosmosServer
from tests.servers.identity import IdentityServer
from tests.servers.localhost import LocalHostProcess, wait_for
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

APP = Path(__file__).parent / "apps" / "production"
DATABASE = "agents"
CONTAINER = "state"
# azure-cosmos asks for a token scoped to the account it talks to (aio/_cosmos_client_connection_async.py,
# CosmosClientConnection.__init__: base.create_scope_from_url(url)): here the local account's host.
ACCOUNT_SCOPE = "https://127.0.0.1"


@dataclass
class Stack:
    cosmos: CosmosServer
    identity: IdentityServer
    azurite: AzuriteQueues
    model: OpenAIServer


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    for reason in (CosmosServer.available(), AzuriteQueues.available()):
        if reason is not None:
            pytest.skip(reason)  # a failure under CI=true (tests/servers/network_guard/plugin.py)
    with CosmosServer() as cosmos, IdentityServer() as identity, AzuriteQueues() as azurite, \
            OpenAIServer() as model:
        asyncio.run(create_container(cosmos.endpoint, identity))  # the infrastructure creates it in Azure
        yield Stack(cosmos, identity, azurite, model)


async def create_container(endpoint: str, identity: IdentityServer) -> None:
    from azure.cosmos import PartitionKey
    from azure.cosmos.aio import CosmosClient
    from azure.identity.aio import ManagedIdentityCredential

    with mock.patch.dict(os.environ, identity.env):
        credential = ManagedIdentityCredential()
    async with credential, CosmosClient(endpoint, credential=credential,
                                        enable_endpoint_discovery=False) as client:
        database = await client.create_database_if_not_exists(DATABASE)
        await database.create_container_if_not_exists(CONTAINER, partition_key=PartitionKey(path="/pk"))


async def read_items(endpoint: str, identity: IdentityServer, partition: str) -> list[dict[str, Any]]:
    from azure.cosmos.aio import CosmosClient
    from azure.identity.aio import ManagedIdentityCredential

    with mock.patch.dict(os.environ, identity.env):
        credential = ManagedIdentityCredential()
    async with credential, CosmosClient(endpoint, credential=credential,
                                        enable_endpoint_discovery=False) as client:
        container = client.get_database_client(DATABASE).get_container_client(CONTAINER)
        # A read feed, filtered here: the local server does not take a partition key on queries.
        return [item async for item in container.read_all_items() if item.get("pk") == partition]


def host_env(stack: Stack, state_dir: Path, *, container: str = CONTAINER) -> dict[str, str]:
    return {
        "COSMOS_ENDPOINT": stack.cosmos.endpoint, "COSMOS_DATABASE": DATABASE, "COSMOS_CONTAINER": container,
        **stack.identity.env,
        "OPENAI_API_KEY": stack.model.api_key, "OPENAI_BASE_URL": stack.model.base_url,
        "AzureWebJobsStorage": stack.azurite.connection_string, "AGENTS_WORK_QUEUE": f"turns-{uuid.uuid4().hex[:8]}",
        "AGENTS_LOCAL_QUEUE_POLL_SECONDS": "0.5",
        # Set, so a fall-back to the embedded store would show: the file must never appear.
        "AGENTS_SESSION_DB": str(state_dir / "must-not-exist.sqlite3"),
    }


@pytest.fixture(scope="module")
def host(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    state_dir = tmp_path_factory.mktemp("cosmos-host")
    with LocalHostProcess(APP, env=host_env(stack, state_dir)) as process:
        yield process
    assert not (state_dir / "must-not-exist.sqlite3").exists()


@pytest.fixture
def model(stack: Stack) -> OpenAIServer:
    stack.model.script.clear()
    return stack.model


def test_chat_and_a_second_turn_live_in_cosmos(host: LocalHostProcess, stack: Stack, model: OpenAIServer) -> None:
    model.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "Z9"})]))
    tokens_before = len(stack.identity.requests)
    with httpx.Client(base_url=host.url, timeout=30) as client:
        first = client.post("/api/agents/Orders/chat", json={"message": "where is Z9?", "user_id": "ana"})
        assert first.status_code == 200, first.text
        session_id = first.json()["session_id"]
        assert first.json()["response"] == "Here is what I found: order Z9 shipped"
        assert first.json()["tool_calls"][0]["name"] == "lookup"
        model.script.add(Reply(text="Still Z9."))
        second = client.post("/api/agents/Orders/chat",
                             json={"message": "and now?", "user_id": "ana", "session_id": session_id})
        assert second.status_code == 200 and second.json()["response"] == "Still Z9."
        # Turn two saw turn one (read back from Cosmos DB by the host).
        contents = [m.get("content") for m in model.script.requests[-1]["messages"]]
        assert contents[1] == "where is Z9?" and contents[-1] == "and now?"
        session = client.get(f"/api/sessions/{session_id}", params={"user_id": "ana"})
        assert session.status_code == 200
        assert [m["role"] for m in session.json()["messages"]][:2] == ["user", "assistant"]
        assert client.get(f"/api/sessions/{session_id}", params={"user_id": "bob"}).status_code == 404
    # The host authenticated with the managed identity (it may have fetched its token on an earlier request).
    host_tokens = stack.identity.requests[tokens_before:] or stack.identity.requests[1:]
    assert host_tokens and all(r.resource.rstrip("/") == ACCOUNT_SCOPE for r in host_tokens)
    items = asyncio.run(read_items(stack.cosmos.endpoint, stack.identity, session_id))
    assert any(item["id"] == session_id for item in items), items


def test_a_streamed_turn_is_resumed_from_cosmos(host: LocalHostProcess, model: OpenAIServer) -> None:
    model.script.add(Reply(text="A streamed answer from the store."))
    with httpx.Client(base_url=host.url, timeout=30) as client:
        streamed = client.post("/api/agents/Orders/chat", json={"message": "stream it", "user_id": "eve"},
                               headers={"accept": "text/event-stream"})
        assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
        started = next(json.loads(line[5:]) for line in streamed.text.splitlines()
                       if line.startswith("data:") and "session_id" in line)
        session_id = started["session_id"]
        replay = client.get(f"/api/sessions/{session_id}/stream", params={"user_id": "eve"})
        assert replay.status_code == 200, replay.text
        assert "event: turn_started" in replay.text and "event: done" in replay.text
        assert "A streamed answer from the store." in replay.text


def test_a_background_turn_completes_through_cosmos(host: LocalHostProcess, model: OpenAIServer) -> None:
    model.script.add(Reply(text="Done in the background.", delay=0.5))
    with httpx.Client(base_url=host.url, timeout=30) as client:
        accepted = client.post("/api/agents/Orders/chat", json={"message": "later", "user_id": "ana", "async": True})
        assert accepted.status_code == 202, accepted.text
        location = accepted.json()["location"]
        done = wait_for(lambda: (s := client.get(location, params={"user_id": "ana"}).json())["status"]
                        not in ("queued", "running") and s, timeout=30)
        assert done["status"] == "completed", done
        assert done["response"]["response"] == "Done in the background."
        session = client.get(f"/api/sessions/{accepted.json()['session_id']}", params={"user_id": "ana"}).json()
        assert [(m["role"], m["content"]) for m in session["messages"]] == [
            ("user", "later"), ("assistant", "Done in the background.")]


def test_an_a2a_task_is_kept_in_cosmos(host: LocalHostProcess, stack: Stack, model: OpenAIServer) -> None:
    model.script.add(Reply(text="Shipped yesterday."))
    send = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {
        "messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": "where is my order?"}]}}}
    with httpx.Client(base_url=host.url, timeout=30, headers={"A2A-Version": "1.0"}) as client:
        sent = client.post("/api/agents/Orders/a2a", json=send)
        assert sent.status_code == 200, sent.text
        task = sent.json()["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED", task
        assert task["artifacts"][0]["parts"][0]["text"] == "Shipped yesterday."
        got = client.post("/api/agents/Orders/a2a",
                          json={"jsonrpc": "2.0", "id": 2, "method": "GetTask", "params": {"id": task["id"]}})
        assert got.json()["result"]["id"] == task["id"]
    items = asyncio.run(read_items(stack.cosmos.endpoint, stack.identity, task["contextId"]))
    assert items, "the A2A conversation was not stored in Cosmos DB"


def test_a_missing_container_fails_before_the_model_is_called(stack: Stack, model: OpenAIServer,
                                                               tmp_path: Path) -> None:
    env = host_env(stack, tmp_path, container="no-such-container")
    with LocalHostProcess(APP, env=env) as host, httpx.Client(base_url=host.url, timeout=30) as client:
        for _ in range(2):
            response = client.post("/api/agents/Orders/chat", json={"message": "hello"})
            assert response.status_code == 500, response.text
            error = response.json()["error"]
            assert error["code"] == "configuration_error"
            assert "no-such-container" in error["message"]
            assert "Traceback" not in response.text
    assert model.script.calls == 0
    assert not (tmp_path / "must-not-exist.sqlite3").exists()
