"""Error codes a caller meets on the chat and turn routes when state lives in a real store: a background turn
whose workers kept stopping (``turn_interrupted``), work of a kind the app does not run (``unknown_kind``), a
cancel that keeps losing the race for the turn's record (409 ``turn_busy``), a queued A2A task that expired
before its worker ran (``task_not_found``) or whose model failed (``task_failed``), and a turn too large for
one Cosmos DB item or transaction (413 ``message_too_large``). The app's HTTP functions are called as the
Python worker calls them (``func.HttpRequest`` in, ``func.HttpResponse`` out); the queue is Azurite, the stores
SQLite and ``@vercel/cosmosdb-server`` (through the real ``azure-cosmos`` SDK), the model the scripted
OpenAI-compatible server."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.background.records import TurnRecord
from azurefunctions.agents.sessions.base import SessionStore
from azurefunctions.agents.sessions.memory import MemorySessionStore
from azurefunctions.agents.types import LLMConfig
from tests.servers.azurite import AzuriteQueues
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall
from tests.sessions.conftest import CosmosTarget

from .test_http import Client

LEAKS = ("Traceback", 'File "', "/site-packages/", "Exception")


def assert_envelope(status: int, body: Any, expected_status: int, code: str) -> dict[str, Any]:
    """The JSON error envelope: ``{"error": {"code", "message"}}``, a message and no stack text."""
    assert status == expected_status, body
    return assert_error_shape(body, code)


def assert_error_shape(body: Any, code: str) -> dict[str, Any]:
    assert isinstance(body, dict) and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    text = json.dumps(body)
    for leak in LEAKS:
        assert leak not in text
    return body


def make_app(store: SessionStore, *, tools: list[Any] | None = None) -> AgentFunctionApp:
    config = LLMConfig.from_env(model_name="gpt-4o-mini", max_retries=0, timeout=30)
    agent = Agent(name="Helper", instructions="Help.", llm_config=config, tools=tools or [])
    return AgentFunctionApp(agents=[agent], background=True, session_store=store)


@pytest.fixture
async def background_client(storage: AzuriteQueues, openai: OpenAIServer,
                            monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    monkeypatch.setenv("AGENTS_TURN_LEASE_SECONDS", "1")
    app = make_app(MemorySessionStore())
    try:
        yield Client(app)
    finally:
        await app.aclose()


async def next_message(storage: AzuriteQueues, queue_name: str, wait: float = 10.0) -> tuple[bytes, int]:
    """The next work-queue message as the Functions host hands it to the queue trigger (base64 decoded), with
    its dequeue count."""
    from azure.storage.queue import BinaryBase64DecodePolicy
    from azure.storage.queue.aio import QueueClient

    deadline = time.monotonic() + wait
    async with QueueClient.from_connection_string(storage.connection_string, queue_name,
                                                  message_decode_policy=BinaryBase64DecodePolicy()) as queue:
        while True:
            async for message in queue.receive_messages(max_messages=1, visibility_timeout=30):
                await queue.delete_message(message)
                return bytes(message.content), int(message.dequeue_count or 1)
            assert time.monotonic() < deadline, f"no message on {queue_name}"
            await _sleep(0.2)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_a_turn_whose_workers_kept_stopping_is_reported_failed_turn_interrupted_on_the_turn_route(
        background_client: Client, storage: AzuriteQueues, queue_name: str, openai: OpenAIServer) -> None:
    client = background_client
    status, _, queued = await client.chat({"message": "Hello", "async": True, "user_id": "ana"})
    assert status == 202, queued
    session_id, turn_id = queued["session_id"], queued["turn_id"]
    background = client.app.background
    assert background is not None

    # Three workers took the turn and each stopped (instance recycled) before finishing: the record is what
    # they left, a running turn whose lease has run out.
    def left_by_dead_workers(current: TurnRecord) -> bool:
        current.status, current.claim, current.attempts = "running", "dead", 3
        current.lease_until, current.history_length = time.time() - 1, 0
        return True

    await background.turns.update(session_id, turn_id, left_by_dead_workers)
    body, dequeue_count = await next_message(storage, queue_name)
    calls = len(openai.script.requests)
    assert await background.handle_message(body, dequeue_count + 3) == "gave_up"
    assert len(openai.script.requests) == calls  # not started a fourth time

    status, headers, turn = await client.turn("GET", session_id, turn_id, user_id="ana")
    assert status == 200 and "Retry-After" not in headers  # finished: nothing more to wait for
    assert turn["status"] == "failed" and turn["attempts"] == 3
    assert_error_shape(turn, "turn_interrupted")  # the turn's error has the envelope's shape
    assert "3 times" in turn["error"]["message"] and "will not be started again" in turn["error"]["message"]
    # DELETE of a finished turn leaves it as it ended
    status, _, again = await client.turn("DELETE", session_id, turn_id, user_id="ana")
    assert status == 200 and again["status"] == "failed" and again["error"]["code"] == "turn_interrupted"



async def test_work_of_a_kind_this_app_does_not_run_is_failed_unknown_kind_on_the_turn_route(
        background_client: Client, storage: AzuriteQueues, queue_name: str, openai: OpenAIServer) -> None:
    """Work queued by another version of the app (one that registered a ``digest`` kind, ``register_kind``)
    and picked up by this one, which has no such kind: the turn ends failed, named, never run."""
    from azurefunctions.agents.types import ChatRequest

    background = background_client.app.background
    assert background is not None
    record = await background.submit("Helper", ChatRequest(message="Summarize my week", user_id="ana"),
                                     kind="digest")
    message, dequeue_count = await next_message(storage, queue_name)
    calls = len(openai.script.requests)
    assert await background.handle_message(message, dequeue_count) == "failed"
    assert len(openai.script.requests) == calls

    status, headers, turn = await background_client.turn("GET", record.session_id, record.turn_id, user_id="ana")
    assert status == 200 and "Retry-After" not in headers
    assert turn["status"] == "failed" and turn["attempts"] == 0
    assert_error_shape(turn, "unknown_kind")
    assert "'digest'" in turn["error"]["message"]


async def test_a_cancel_that_keeps_losing_the_race_for_the_turn_record_is_a_409_turn_busy(
        storage: AzuriteQueues, openai: OpenAIServer, tmp_path: Path) -> None:
    """Every write of the turn's record loses to another writer (here a SQLite trigger on the store's own file
    ignores each update of that row, as a competing instance's write would make it fail its etag check): the
    cancel gives up after its retries with 409 ``turn_busy``, and succeeds once the record is left alone."""
    from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

    database = tmp_path / "sessions.sqlite3"
    app = make_app(SqliteSessionStore(database))
    client = Client(app)
    try:
        status, _, queued = await client.chat({"message": "Hello", "async": True, "user_id": "ana"})
        assert status == 202, queued
        session_id, turn_id = queued["session_id"], queued["turn_id"]
        with sqlite3.connect(database) as other:
            other.execute(f"""CREATE TRIGGER always_changed BEFORE UPDATE ON items
                              WHEN OLD.pk = '{session_id}' AND OLD.kind = 'turn'
                              BEGIN SELECT RAISE(IGNORE); END""")
        status, _, busy = await client.turn("DELETE", session_id, turn_id, user_id="ana")
        body = assert_envelope(status, busy, 409, "turn_busy")
        assert turn_id in body["error"]["message"] and "try again" in body["error"]["message"]

        with sqlite3.connect(database) as other:
            other.execute("DROP TRIGGER always_changed")
        status, _, cancelled = await client.turn("DELETE", session_id, turn_id, user_id="ana")
        assert status == 200 and cancelled["status"] == "cancelled"
    finally:
        await app.aclose()

@pytest.fixture
async def cosmos_store(cosmos: CosmosTarget) -> AsyncIterator[SessionStore]:
    from azurefunctions.agents.sessions.cosmos import CosmosSessionStore

    store = CosmosSessionStore(cosmos.endpoint, database=cosmos.database, container=cosmos.container,
                               create_if_missing=cosmos.local, enable_endpoint_discovery=not cosmos.local)
    try:
        yield store
    finally:
        await store.aclose()


def dump(part: int) -> str:
    """Returns 700 kB of text: three of these outgrow one Cosmos DB transaction."""
    return str(part) * 700_000


async def test_a_turn_too_large_for_one_cosmos_transaction_is_a_413_message_too_large(
        storage: AzuriteQueues, openai: OpenAIServer, cosmos_store: SessionStore) -> None:
    app = make_app(cosmos_store, tools=[dump])
    client = Client(app)
    try:
        openai.script.add(Reply(text="ok"))
        status, _, first = await client.chat({"message": "Hi", "user_id": "ana"})
        assert status == 200, first
        session_id = first["session_id"]
        openai.script.add(Reply(tool_calls=[ScriptedToolCall("dump", {"part": n}) for n in range(3)]))
        openai.script.add(Reply(text="Dumped."))
        status, _, data = await client.chat({"message": "Dump it", "user_id": "ana", "session_id": session_id})
        body = assert_envelope(status, data, 413, "message_too_large")
        assert "smaller" in body["error"]["message"] and "bytes" in body["error"]["message"]
        assert data.get("session_id") in (None, session_id)
        # nothing of the refused turn was stored: the session still holds the first exchange only
        status, _, history = await client.call("sessions_item", "GET", f"/api/sessions/{session_id}",
                                                params={"user_id": "ana"}, route={"session_id": session_id})
        assert status == 200, history
        assert [m["content"] for m in history["messages"]] == ["Hi", "ok"]
    finally:
        await app.aclose()


async def test_a_model_answer_too_large_for_one_cosmos_item_is_a_413_message_too_large(
        storage: AzuriteQueues, openai: OpenAIServer, cosmos_store: SessionStore) -> None:
    app = make_app(cosmos_store)
    client = Client(app)
    try:
        openai.script.add(Reply(text="x" * (2 * 1024 * 1024 + 10), chunk_size=1 << 20))
        status, _, data = await client.chat({"message": "Write a lot", "user_id": "ana"})
        body = assert_envelope(status, data, 413, "message_too_large")
        assert "smaller" in body["error"]["message"]
    finally:
        await app.aclose()



async def a2a_rpc(client: Client, method: str, params: dict[str, Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    status, _, data = await client.call("a2a_rpc", "POST", "/api/agents/Helper/a2a", body=body,
                                        headers={"content-type": "application/json", "a2a-version": "1.0"},
                                        route={"agent_name": "Helper"})
    assert status == 200, data  # A2A answers errors as JSON-RPC errors with HTTP 200
    assert isinstance(data, dict)
    return data


async def test_a_queued_a2a_task_that_expired_before_its_worker_ran_is_failed_task_not_found(
        storage: AzuriteQueues, queue_name: str, openai: OpenAIServer) -> None:
    """Tasks live in the session store and expire with it (``AGENTS_SESSION_TTL_SECONDS``; here 1 s): a queued
    task whose worker comes later finds nothing to run. The turn route says so, and the A2A ``GetTask``
    answers the protocol's TaskNotFoundError (-32001: a2a-python, ``a2a/utils/errors.py``,
    ``JSON_RPC_ERROR_CODE_MAP``)."""
    from azurefunctions.agents import AgentMode

    config = LLMConfig.from_env(model_name="gpt-4o-mini", max_retries=0, timeout=30)
    app = AgentFunctionApp(agents=[Agent(name="Helper", instructions="Help.", llm_config=config)],
                           mode=AgentMode.A2A, background=True, streaming=False,
                           session_store=MemorySessionStore(ttl_seconds=1))
    client = Client(app)
    try:
        sent = await a2a_rpc(client, "SendMessage", {
            "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "Hi"}]},
            "configuration": {"returnImmediately": True}})
        task = sent["result"]["task"]
        assert task["status"]["state"] == "TASK_STATE_SUBMITTED"
        await _sleep(1.5)  # the worker is late: the task has expired
        message, dequeue_count = await next_message(storage, queue_name)
        assert app.background is not None
        calls = len(openai.script.requests)
        await app.background.handle_message(message, dequeue_count)
        assert len(openai.script.requests) == calls  # nothing ran

        status, headers, turn = await client.turn("GET", task["contextId"], task["id"])
        assert status == 200 and "Retry-After" not in headers
        assert turn["status"] == "failed" and turn["turn_id"] == task["id"]
        assert_error_shape(turn, "task_not_found")
        assert turn["error"]["message"] == "The task no longer exists."

        missing = await a2a_rpc(client, "GetTask", {"id": task["id"]})
        assert missing["error"]["code"] == -32001 and "result" not in missing
        for leak in LEAKS:
            assert leak not in json.dumps(missing)
    finally:
        await app.aclose()



@pytest.fixture
async def a2a_client(storage: AzuriteQueues, openai: OpenAIServer) -> AsyncIterator[Client]:
    from azurefunctions.agents import AgentMode, ask_user

    config = LLMConfig.from_env(model_name="gpt-4o-mini", max_retries=0, timeout=30)
    agent = Agent(name="Helper", instructions="Help.", llm_config=config, tools=[ask_user])
    app = AgentFunctionApp(agents=[agent], mode=AgentMode.A2A, background=True, streaming=False,
                           session_store=MemorySessionStore())
    try:
        yield Client(app)
    finally:
        await app.aclose()


async def run_queued_task(client: Client, storage: AzuriteQueues, queue_name: str) -> dict[str, Any]:
    """Send a non-blocking message (``returnImmediately``), run its queued work as the queue trigger does, and
    return the task as the send answered it."""
    sent = await a2a_rpc(client, "SendMessage", {
        "message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "Weather?"}]},
        "configuration": {"returnImmediately": True}})
    task: dict[str, Any] = sent["result"]["task"]
    message, dequeue_count = await next_message(storage, queue_name)
    assert client.app.background is not None
    await client.app.background.handle_message(message, dequeue_count)
    return task


async def test_a_queued_a2a_task_whose_model_fails_is_failed_task_failed_on_the_turn_route(
        a2a_client: Client, storage: AzuriteQueues, queue_name: str, openai: OpenAIServer) -> None:
    openai.script.add(Reply(status=500))
    task = await run_queued_task(a2a_client, storage, queue_name)
    status, _, turn = await a2a_client.turn("GET", task["contextId"], task["id"])
    assert status == 200 and turn["status"] == "failed"
    assert_error_shape(turn, "task_failed")
    assert "HTTP 500" in turn["error"]["message"]
    got = await a2a_rpc(a2a_client, "GetTask", {"id": task["id"]})
    assert got["result"]["status"]["state"] == "TASK_STATE_FAILED"
    assert got["result"]["status"]["message"]["metadata"]["code"] == "provider_error"


async def test_a_queued_a2a_task_that_asks_for_input_is_a_completed_turn_not_a_failed_one(
        a2a_client: Client, storage: AzuriteQueues, queue_name: str, openai: OpenAIServer) -> None:
    """As a chat turn that ends with ``ask_user`` completes with the question as its answer, so does the turn
    of an A2A task that goes ``input-required``: the task waits for the client's next message."""
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("ask_user", {"question": "Which city?"})]))
    task = await run_queued_task(a2a_client, storage, queue_name)
    status, _, turn = await a2a_client.turn("GET", task["contextId"], task["id"])
    assert status == 200 and turn["status"] == "completed" and "error" not in turn, turn
    assert turn["response"]["status"] == "success" and turn["response"]["response"] == "Which city?"
    assert turn["response"]["input_required"]["question"] == "Which city?"
    got = await a2a_rpc(a2a_client, "GetTask", {"id": task["id"]})
    assert got["result"]["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
