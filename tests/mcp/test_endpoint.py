"""Agents served as MCP tools: the official ``mcp`` client against ``MCPEndpoint`` over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.servers.base import LocalServer

from azurefunctions.agents.mcp.endpoint import MCPEndpoint

pytestmark = pytest.mark.timeout(60)


@dataclass
class FakeAgent:
    name: str
    description: str | None


@dataclass
class FakeResponse:
    status: str
    response: str | None
    session_id: str | None
    error: str | None = None


class FakeRunner:
    """Answers like a Runner: echoes the message, keeps per-session history, fails on 'fail'."""

    def __init__(self, name: str, description: str | None) -> None:
        self.agent = FakeAgent(name, description)
        self.requests: list[Any] = []
        self.history: dict[str, list[str]] = {}

    async def run(self, request: Any) -> FakeResponse:
        self.requests.append(request)
        if request["message"] == "fail":
            return FakeResponse("error", None, None, error="the model is unavailable")
        session = request.get("session_id") or f"s{len(self.history) + 1}"
        turns = self.history.setdefault(session, [])
        turns.append(request["message"])
        return FakeResponse("success", f"{self.agent.name} heard: {' / '.join(turns)}", session)


@pytest.fixture
def agents() -> dict[str, FakeRunner]:
    return {"WeatherBot": FakeRunner("WeatherBot", "Answers weather questions."),
            "Travel Planner": FakeRunner("Travel Planner", None)}


@pytest.fixture
def endpoint_url(agents: dict[str, FakeRunner]) -> Iterator[str]:
    endpoint = MCPEndpoint(agents)

    async def route(request: Request) -> Response:
        status, headers, body = await endpoint.handle(request.method, request.url.path, dict(request.headers),
                                                      await request.body())
        return Response(body, status_code=status, headers=headers)

    app = Starlette(routes=[Route("/api/mcp", route, methods=["GET", "POST", "DELETE"])])
    with LocalServer(app) as server:
        yield f"{server.url}/api/mcp"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_official_client_lists_and_calls_agents(endpoint_url: str, agents: dict[str, FakeRunner],
                                                      mode: str) -> None:
    async with Client(endpoint_url, mode=mode, cache=None) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"WeatherBot", "Travel_Planner"}
        assert tools["WeatherBot"].description == "Answers weather questions."
        assert tools["Travel_Planner"].description == "Chat with the agent Travel Planner."
        assert tools["WeatherBot"].input_schema["required"] == ["message"]
        assert set(tools["WeatherBot"].input_schema["properties"]) == {"message", "session_id"}

        first = await client.call_tool("WeatherBot", {"message": "Rain in Oslo?"})
        assert not first.is_error
        assert first.content[0].text == "WeatherBot heard: Rain in Oslo?"
        session = first.structured_content["session_id"]
        second = await client.call_tool("WeatherBot", {"message": "And tomorrow?", "session_id": session})
        assert second.content[0].text == "WeatherBot heard: Rain in Oslo? / And tomorrow?"
        assert agents["WeatherBot"].requests[-1] == {"message": "And tomorrow?", "session_id": session}

        planner = await client.call_tool("Travel_Planner", {"message": "Paris"})
        assert planner.content[0].text == "Travel Planner heard: Paris"


async def test_errors_reach_the_client(endpoint_url: str) -> None:
    async with Client(endpoint_url, cache=None) as client:
        failed = await client.call_tool("WeatherBot", {"message": "fail"})
        assert failed.is_error and "the model is unavailable" in failed.content[0].text
        missing = await client.call_tool("WeatherBot", {"message": ""})
        assert missing.is_error and "'message' is required" in missing.content[0].text
        with pytest.raises(MCPError):
            await client.call_tool("NoSuchAgent", {"message": "hi"})


async def test_stateless_endpoint_answers_only_post(endpoint_url: str) -> None:
    async with httpx.AsyncClient() as http:
        get = await http.get(endpoint_url, headers={"accept": "text/event-stream"})
        assert get.status_code == 405 and get.headers["allow"] == "POST"
        big = await http.post(endpoint_url, content=b"x" * (1024 * 1024 + 1),
                              headers={"content-type": "application/json"})
        assert big.status_code == 413
        # A plain JSON-RPC initialize, as an IDE sends it, gets a JSON answer (no SSE stream).
        init = await http.post(endpoint_url, json={
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "curl", "version": "1"}}},
            headers={"accept": "application/json, text/event-stream"})
        assert init.status_code == 200
        assert init.headers["content-type"].startswith("application/json")
        assert init.json()["result"]["serverInfo"]["name"] == "azurefunctions-agents"
        assert "mcp-session-id" not in init.headers


def test_agent_names_that_collide_as_tool_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="share the MCP tool name 'a_b'"):
        MCPEndpoint({"a b": FakeRunner("a b", None), "a_b": FakeRunner("a_b", None)})
