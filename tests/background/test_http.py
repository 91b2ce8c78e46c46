"""The chat route's asynchronous branch and the turn route, called as the Python worker calls HTTP functions
(``func.HttpRequest`` in, ``func.HttpResponse`` out)."""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import azure.functions as func
import pytest

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.sessions.base import Session
from azurefunctions.agents.sessions.memory import MemorySessionStore
from azurefunctions.agents.types import LLMConfig
from tests.servers.azurite import AzuriteQueues
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply


class Client:
    def __init__(self, app: AgentFunctionApp) -> None:
        self.app = app
        self.functions = {f.get_function_name(): f for f in app.get_functions()}

    async def call(self, function: str, method: str, path: str, *, body: Any = None,
                   headers: dict[str, str] | None = None, params: dict[str, str] | None = None,
                   route: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else b""
        request = func.HttpRequest(method=method, url=f"http://127.0.0.1:7071{path}", headers=headers or {},
                                   params=params or {}, route_params=route or {}, body=data)
        handler = self.functions[function].get_user_function()
        extra: dict[str, Any] = {}
        if "context" in inspect.signature(handler).parameters:  # the worker passes the invocation context
            extra["context"] = SimpleNamespace(invocation_id=str(uuid.uuid4()), function_name=function,
                                               trace_context=None)
        response = await handler(request, **extra)
        raw = response.get_body()
        return response.status_code, dict(response.headers), json.loads(raw) if raw else None

    async def chat(self, body: dict[str, Any], headers: dict[str, str] | None = None,
                   agent: str = "Helper") -> tuple[int, dict[str, str], Any]:
        return await self.call("agents_chat", "POST", f"/api/agents/{agent}/chat", body=body, headers=headers,
                               route={"agent_name": agent})

    async def turn(self, method: str, session_id: str, turn_id: str,
                   user_id: str | None = None) -> tuple[int, dict[str, str], Any]:
        return await self.call("sessions_turn", method, f"/api/sessions/{session_id}/turns/{turn_id}",
                               params={"user_id": user_id} if user_id else None,
                               route={"session_id": session_id, "turn_id": turn_id})


def make_app(background: bool) -> AgentFunctionApp:
    config = LLMConfig.from_env(model_name="gpt-4o-mini", max_retries=0)
    return AgentFunctionApp(agents=[Agent(name="Helper", instructions="Help.", llm_config=config)],
                            background=background, session_store=MemorySessionStore())


@pytest.fixture
async def client(storage: AzuriteQueues, openai: OpenAIServer) -> AsyncIterator[Client]:
    app = make_app(background=True)
    try:
        yield Client(app)
    finally:
        await app.aclose()


async def test_async_true_answers_202_with_the_ids_and_where_to_follow(client: Client) -> None:
    status, headers, data = await client.chat({"message": "Hi", "async": True, "user_id": "ana"})
    assert status == 202
    assert data["status"] == "queued" and data["agent"] == "Helper"
    assert headers["Location"] == f"/api/sessions/{data['session_id']}/turns/{data['turn_id']}" == data["location"]
    assert data["stream"] == f"/api/sessions/{data['session_id']}/stream"
    status, headers, turn = await client.turn("GET", data["session_id"], data["turn_id"], user_id="ana")
    assert status == 200 and turn["status"] == "queued" and headers["Retry-After"] == "1"
    assert (await client.turn("GET", data["session_id"], data["turn_id"]))[0] == 404  # not the owner


async def test_prefer_respond_async_queues_the_turn_too(client: Client) -> None:
    status, _, data = await client.chat({"message": "Hi", "session_id": "s-prefer"},
                                        headers={"Prefer": "wait=10, respond-async"})
    assert status == 202 and data["session_id"] == "s-prefer"


async def test_async_false_or_no_preference_answers_synchronously(client: Client, openai: OpenAIServer) -> None:
    openai.script.add(Reply(text="Right away."), Reply(text="Right away again."))
    status, _, data = await client.chat({"message": "Hi", "async": False}, headers={"Prefer": "respond-async"})
    assert status == 200 and data["response"] == "Right away."
    status, _, data = await client.chat({"message": "Hi"})
    assert status == 200 and data["response"] == "Right away again."


async def test_delete_cancels_and_a_finished_turn_stays_as_it_ended(client: Client) -> None:
    _, _, data = await client.chat({"message": "Hi", "async": True})
    status, headers, turn = await client.turn("DELETE", data["session_id"], data["turn_id"])
    assert status == 200 and turn["status"] == "cancelled" and "Retry-After" not in headers
    assert turn["error"] == {"code": "cancelled", "message": "The turn was cancelled."}
    status, _, again = await client.turn("DELETE", data["session_id"], data["turn_id"])
    assert status == 200 and again["status"] == "cancelled" and again["finished_at"] == turn["finished_at"]


async def test_bad_input_gets_clear_errors(client: Client) -> None:
    status, _, data = await client.chat({"message": "Hi", "async": "yes"})
    assert status == 400 and data["error"] == {"code": "invalid_request", "message": "async must be true or false"}
    status, _, data = await client.turn("GET", ".bad", "abc")
    assert status == 400 and "session_id" in data["error"]["message"]
    status, _, data = await client.turn("GET", "s-1", "not/a/turn")
    assert status == 400 and "turn_id" in data["error"]["message"]
    status, _, data = await client.turn("GET", "s-1", "0" * 32)
    assert status == 404 and data["error"]["code"] == "turn_not_found"
    status, _, _ = await client.call("sessions_turn", "POST", "/api/sessions/s-1/turns/t", body={},
                                     route={"session_id": "s-1", "turn_id": "t"})
    assert status == 405


async def test_someone_elses_session_cannot_be_continued_in_the_background(client: Client) -> None:
    await client.app.session_store.save(Session(id="s-owned", user_id="ana"))
    status, _, data = await client.chat({"message": "Hi", "async": True, "session_id": "s-owned", "user_id": "bob"})
    assert status == 404 and data["error"]["code"] == "session_not_found"


async def test_a_queue_that_cannot_be_reached_is_a_503_and_the_turn_is_not_left_queued(
        storage: AzuriteQueues, openai: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AzureWebJobsStorage")
    app = make_app(background=True)
    try:
        status, _, data = await Client(app).chat({"message": "Hi", "async": True, "session_id": "s-noqueue"})
        assert status == 503 and data["error"]["code"] == "queue_unavailable"
        assert "AzureWebJobsStorage" in data["error"]["message"]
    finally:
        await app.aclose()


async def test_an_app_without_background_work(openai: OpenAIServer) -> None:
    app = make_app(background=False)
    openai.script.add(Reply(text="Synchronously."))
    try:
        client = Client(app)
        assert not {"agent_turns", "agent_turns_poison"} & set(client.functions)
        status, _, data = await client.chat({"message": "Hi", "async": True})
        assert status == 400 and data["error"]["code"] == "async_not_enabled"
        assert "background=True" in data["error"]["message"]
        status, _, data = await client.chat({"message": "Hi"}, headers={"Prefer": "respond-async"})
        assert status == 200 and data["response"] == "Synchronously."
        assert (await client.turn("GET", "s-1", "0" * 32))[0] == 404
    finally:
        await app.aclose()


async def test_the_turn_route_is_in_the_openapi_description(client: Client) -> None:
    status, _, data = await client.call("openapi", "GET", "/api/openapi.json")
    assert status == 200
    assert "/api/sessions/{session_id}/turns/{turn_id}" in data["paths"]


async def test_an_async_turn_sent_again_with_its_idempotency_key_is_the_same_turn(
        client: Client, storage: AzuriteQueues, queue_name: str) -> None:
    from azure.storage.queue.aio import QueueClient

    key = {"Idempotency-Key": "order-42:refund.v1"}
    body = {"message": "Refund order 42", "async": True, "user_id": "ana"}
    status, _, first = await client.chat(body, headers=key)
    assert status == 202 and first["turn_id"] == "order-42:refund.v1"
    status, headers, again = await client.chat(body, headers=key)  # the client did not see the first 202
    assert status == 202 and again["location"] == first["location"] == headers["Location"]
    assert again["session_id"] == first["session_id"]  # derived from the caller and the key
    async with QueueClient.from_connection_string(storage.connection_string, queue_name) as queue:
        assert (await queue.get_queue_properties()).approximate_message_count == 1
    status, _, turn = await client.turn("GET", first["session_id"], first["turn_id"], user_id="ana")
    assert status == 200 and turn["status"] == "queued"
    status, _, other = await client.chat({**body, "user_id": "bob"}, headers=key)  # bob's key: his own turn
    assert status == 202 and other["session_id"] != first["session_id"]
