"""``MCPEndpoint`` serving real ``Runner``s (a scripted OpenAI-compatible model, the SQLite session store) to
the official ``mcp`` client over real HTTP: sessions carry over between tool calls, belong to the caller, and
the runtime's errors reach the client as tool errors naming the problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.servers.base import LocalServer
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.mcp.endpoint import MCPEndpoint
from azurefunctions.agents.sessions.sqlite import SqliteSessionStore
from azurefunctions.agents.types import LLMConfig

pytestmark = pytest.mark.timeout(60)


def lookup(code: str) -> str:
    """Look up an order by its code."""
    return f"order {code} shipped"


@pytest.fixture
def served(openai: OpenAIServer, tmp_path: Path) -> Iterator[tuple[str, SqliteSessionStore]]:
    """The endpoint at /api/mcp; ``?as=NAME`` speaks as that user (the app's auth gives the endpoint a user id)."""
    config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=openai.api_key,
                       base_url=openai.base_url, max_retries=0, timeout=10)
    orders = Agent(name="Orders", instructions="Orders agent.", tools=[lookup], llm_config=config,
                   description="Tracks orders.")
    greeter = Agent(name="Greeter", instructions="Greeter agent.", llm_config=config)
    store = SqliteSessionStore(tmp_path / "sessions.sqlite3")
    agents = {a.name: a for a in (orders, greeter)}
    endpoint = MCPEndpoint({name: Runner(agent, session_store=store, agents=agents)
                            for name, agent in agents.items()})

    async def route(request: Request) -> Response:
        status, headers, body = await endpoint.handle(request.method, request.url.path, dict(request.headers),
                                                      await request.body(),
                                                      user_id=request.query_params.get("as"))
        return Response(body, status_code=status, headers=headers)

    app = Starlette(routes=[Route("/api/mcp", route, methods=["GET", "POST", "DELETE"])])
    with LocalServer(app) as server:
        yield f"{server.url}/api/mcp", store


async def test_a_session_carries_over_between_tool_calls(served: tuple[str, SqliteSessionStore],
                                                         openai: OpenAIServer) -> None:
    url, store = served
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "Q1"})]))
    async with Client(url, cache=None) as client:
        first = await client.call_tool("Orders", {"message": "where is Q1?"})
        assert not first.is_error, first.content
        assert first.content[0].text == "Here is what I found: order Q1 shipped"
        session_id = first.structured_content["session_id"]
        openai.script.add(Reply(text="Still shipped."))
        second = await client.call_tool("Orders", {"message": "and now?", "session_id": session_id})
        assert second.content[0].text == "Still shipped."
    sent = [m.get("content") for m in openai.script.requests[-1]["messages"]]
    assert sent[1] == "where is Q1?" and sent[-1] == "and now?"
    saved = await store.load(session_id)
    assert saved is not None and saved.messages[0].role == "user"
    await store.aclose()


async def test_another_callers_session_is_not_found(served: tuple[str, SqliteSessionStore],
                                                    openai: OpenAIServer) -> None:
    url, store = served
    openai.script.add(Reply(text="Hello Ana."))
    async with Client(f"{url}?as=ana", cache=None) as ana:
        mine = await ana.call_tool("Greeter", {"message": "hi"})
        session_id = mine.structured_content["session_id"]
    async with Client(f"{url}?as=bob", cache=None) as bob:
        stolen = await bob.call_tool("Greeter", {"message": "what did Ana say?", "session_id": session_id})
    assert stolen.is_error and "not found" in stolen.content[0].text
    assert openai.script.calls == 1  # Bob's call never reached the model
    await store.aclose()


async def test_runtime_errors_reach_the_client_as_tool_errors(served: tuple[str, SqliteSessionStore],
                                                              openai: OpenAIServer) -> None:
    url, store = served
    openai.script.add(Reply(status=500))
    async with Client(url, cache=None) as client:
        failed = await client.call_tool("Greeter", {"message": "hi"})
        assert failed.is_error and failed.content[0].text.startswith("Agent Greeter error:")
        bad_id = await client.call_tool("Greeter", {"message": "hi", "session_id": "../../etc/passwd"})
        assert bad_id.is_error and "session_id" in bad_id.content[0].text
        control = await client.call_tool("Greeter", {"message": "a\x00b"})
        assert control.is_error and "message contains the control character U+0000" in control.content[0].text
    assert openai.script.calls == 1  # only the first call reached the model
    await store.aclose()
