"""Agents served as MCP tools: the official ``mcp`` client against ``MCPEndpoint`` over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
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
from tests.servers.localhost import LocalHostProcess, app_env

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


# Origin (MCP 2025-11-25 basic/transports "Security Warning": servers MUST validate Origin; a present, invalid
# Origin MUST get 403, whose body MAY be a JSON-RPC error without id). The mcp SDK's own rule is the same for
# Origin (mcp/server/transport_security.py, TransportSecurityMiddleware._validate_origin: absent is fine).
def client_with(endpoint_url: str, headers: dict[str, str]) -> Client:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    return Client(streamable_http_client(endpoint_url, http_client=httpx2.AsyncClient(headers=headers)),
                  mode="legacy", cache=None)


async def test_a_foreign_origin_gets_403_and_runs_nothing(endpoint_url: str, agents: dict[str, FakeRunner]) -> None:
    with pytest.raises(Exception) as refused:
        async with client_with(endpoint_url, {"Origin": "http://evil.example"}) as client:
            await client.call_tool("WeatherBot", {"message": "Rain?"})
    assert "403" in repr(refused.value) or "Forbidden" in repr(refused.value)
    assert agents["WeatherBot"].requests == []
    async with httpx.AsyncClient() as http:
        for origin in ("http://evil.example", "null", "http://evil.example/path", "https://localhost.evil.example"):
            reply = await http.post(endpoint_url, headers={"Origin": origin, "accept": "application/json"},
                                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            assert reply.status_code == 403, origin
            error = reply.json()
            assert error["id"] is None and error["error"]["code"] == -32600
            assert "MCP_ALLOWED_ORIGINS" in error["error"]["message"] and origin not in error["error"]["message"]


async def test_an_allowed_or_absent_origin_is_served(endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_ALLOWED_ORIGINS", "https://portal.contoso.example, http://tools.example:8080")
    for headers in ({}, {"Origin": "https://portal.contoso.example"}, {"Origin": "HTTPS://Portal.Contoso.Example:443"},
                    {"Origin": "http://tools.example:8080"}, {"Origin": "http://localhost:6274"},
                    {"Origin": "http://127.0.0.1:6274"}):
        async with client_with(endpoint_url, headers) as client:
            result = await client.call_tool("WeatherBot", {"message": "Sun?"})
            assert not result.is_error and result.content[0].text.startswith("WeatherBot heard:"), headers
    async with httpx.AsyncClient() as http:
        other_port = await http.post(endpoint_url, headers={"Origin": "http://tools.example:9090"},
                                     json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert other_port.status_code == 403


# JSON-RPC errors (JSON-RPC 2.0 §5.1 codes; MCP 2025-06-18 removed batching): right codes, our words, never
# the input quoted back (the SDK's own answer to these is pydantic's validation dump with input_value=...).
@pytest.mark.parametrize(("body", "code", "words"), [
    (b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]', -32600, "batches are not supported"),
    (b'{"jsonrpc":"2.0","id":1,"method":"tools/list"', -32700, "not valid JSON"),
    (b'"<script>alert(1)</script>"', -32600, "one JSON-RPC message"),
    (b'{"jsonrpc":"1.0","id":1,"method":"tools/list"}', -32600, '"jsonrpc" must be "2.0"'),
    (b'{"jsonrpc":"2.0","id":true,"method":"tools/list"}', -32600, "id must be"),
    (b'{"jsonrpc":"2.0","id":1,"method":42}', -32600, "method must be"),
    (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["<script>"]}', -32602, "params must be"),
])
async def test_batch_and_malformed_requests_get_json_rpc_errors(endpoint_url: str, body: bytes, code: int,
                                                                words: str) -> None:
    async with httpx.AsyncClient() as http:
        reply = await http.post(endpoint_url, content=body, headers={
            "content-type": "application/json", "accept": "application/json, text/event-stream"})
    assert reply.status_code == 400
    error = reply.json()
    assert error["jsonrpc"] == "2.0" and error["error"]["code"] == code and words in error["error"]["message"]
    assert "input_value" not in reply.text and "<script>" not in reply.text and "data" not in error["error"]


async def test_unknown_methods_and_bad_tool_params_answer_without_echo(endpoint_url: str) -> None:
    async with Client(endpoint_url, mode="legacy", cache=None) as client:
        with pytest.raises(MCPError) as unknown_tool:
            await client.call_tool("No<script>Agent", {"message": "hi"})
        assert unknown_tool.value.error.code == -32602
        assert "<script>" not in unknown_tool.value.error.message and "WeatherBot" in unknown_tool.value.error.message
    async with httpx.AsyncClient() as http:
        headers = {"accept": "application/json, text/event-stream"}
        unknown = await http.post(endpoint_url, headers=headers,
                                  json={"jsonrpc": "2.0", "id": 5, "method": "no/such<script>"})
        assert unknown.json()["error"]["code"] == -32601 and "<script>" not in unknown.text


def test_the_app_route_applies_the_origin_rule(tmp_path: Path) -> None:
    """``POST /api/mcp`` of an ``AgentFunctionApp`` in the local host (offline model): the same rule on the real
    route, with the allow-list read from the app's environment."""
    app_dir = Path(__file__).resolve().parents[1] / "hosting" / "apps" / "basic"
    env = {**app_env(tmp_path), "MCP_ALLOWED_ORIGINS": "https://portal.contoso.example"}
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"accept": "application/json, text/event-stream"}
    with LocalHostProcess(app_dir, env=env) as host:
        url = f"{host.url}/api/mcp"
        foreign = httpx.post(url, json=body, headers={**headers, "Origin": "http://evil.example"}, timeout=30)
        assert foreign.status_code == 403 and foreign.json()["error"]["code"] == -32600
        for origin in (None, "https://portal.contoso.example"):
            extra = {"Origin": origin} if origin else {}
            served = httpx.post(url, json=body, headers={**headers, **extra}, timeout=30)
            assert served.status_code == 200, origin
            assert {t["name"] for t in served.json()["result"]["tools"]} == {"Orders", "Greeter"}
        batch = httpx.post(url, json=[body], headers=headers, timeout=30)
        assert batch.status_code == 400 and batch.json()["error"]["code"] == -32600
