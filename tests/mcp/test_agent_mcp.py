"""Agents calling MCP tools: a scripted OpenAI-compatible model (real SDK, real HTTP) drives the tool loop."""

from __future__ import annotations

import asyncio

import pytest
from tests.servers.mcp_peers import EverythingServer, time_server_command
from tests.servers.model_fixtures import scripted_model
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

from azurefunctions.agents import (
    Agent,
    LLMConfig,
    MCPServer,
    MCPServerMode,
    MCPServerStdioParams,
    MCPServerStreamableHttpParams,
)

from .conftest import everything_server, requires_node

pytestmark = pytest.mark.timeout(90)


model = scripted_model(scope="function")


def make_agent(model: OpenAIServer, *servers: MCPServer) -> Agent:
    return Agent(name="ToolUser", instructions="Use the tools.", mcp_servers=list(servers),
                 llm_config=LLMConfig(provider="openai", api_key="test-openai-key", base_url=model.base_url))


def tool_messages(model: OpenAIServer) -> list[str]:
    return [m["content"] for m in model.script.requests[-1]["messages"] if m.get("role") == "tool"]


@requires_node
@pytest.mark.parametrize("transport", ["stdio", "sse", "streamable_http"])
async def test_agent_calls_echo_and_get_sum(transport: str, model: OpenAIServer,
                                            request: pytest.FixtureRequest) -> None:
    server = everything_server(transport, request)
    agent = make_agent(model, server)
    try:
        model.script.add(Reply(tool_calls=[ScriptedToolCall("echo", {"message": "hi"})]))
        assert await agent.chat("Echo hi") == "Here is what I found: Echo: hi"
        offered = {t["function"]["name"]: t["function"] for t in model.script.requests[0]["tools"]}
        assert offered["echo"]["parameters"]["properties"]["message"]["type"] == "string"
        assert offered["get-structured-content"]["parameters"]["properties"]["location"]["enum"] == [
            "New York", "Chicago", "Los Angeles"]

        model.script.add(Reply(tool_calls=[ScriptedToolCall("get-sum", {"a": 2, "b": 3})]))
        assert await agent.chat("2 + 3?") == "Here is what I found: The sum of 2 and 3 is 5."
    finally:
        await agent.aclose()


async def test_time_server_bad_timezone_reaches_the_model_as_a_tool_error(model: OpenAIServer) -> None:
    server = MCPServer("time", MCPServerMode.STDIO, MCPServerStdioParams(command=time_server_command()))
    agent = make_agent(model, server)
    try:
        model.script.add(Reply(tool_calls=[ScriptedToolCall("get_current_time", {"timezone": "Mars/Base"})]))
        answer = await agent.chat("What time is it on Mars?")
        assert "Invalid timezone" in answer
        assert any("Invalid timezone" in content for content in tool_messages(model))
    finally:
        await agent.aclose()


@requires_node
async def test_add_mcp_server_after_the_first_request(model: OpenAIServer,
                                                      request: pytest.FixtureRequest) -> None:
    agent = make_agent(model)
    try:
        assert await agent.chat("hello") == "Hello from the scripted model."
        assert "tools" not in model.script.requests[-1]
        agent.add_mcp_server(everything_server("streamable_http", request))
        model.script.add(Reply(tool_calls=[ScriptedToolCall("echo", {"message": "later"})]))
        assert await agent.chat("echo later") == "Here is what I found: Echo: later"
    finally:
        await agent.aclose()


@requires_node
async def test_server_killed_between_requests(model: OpenAIServer) -> None:
    peer = EverythingServer("streamableHttp").start()
    server = MCPServer("everything", MCPServerMode.STREAMABLE_HTTP,
                       MCPServerStreamableHttpParams(url=peer.url), reconnect_delay=0.3)

    def local_time() -> str:
        """The local time."""
        return "12:00"

    agent = make_agent(model, server)
    agent.add_tool(local_time)
    try:
        model.script.add(Reply(tool_calls=[ScriptedToolCall("echo", {"message": "one"})]))
        assert await agent.chat("one") == "Here is what I found: Echo: one"

        peer.stop()
        model.script.add(Reply(tool_calls=[ScriptedToolCall("echo", {"message": "two"})]))
        answer = await agent.chat("two")
        assert "MCP server 'everything'" in answer  # the model saw a clear tool error; the turn succeeded
        # The agent's other tools keep working while the server is down.
        model.script.add(Reply(tool_calls=[ScriptedToolCall("local_time", {})]))
        assert await agent.chat("time?") == "Here is what I found: 12:00"

        peer.start()
        await asyncio.sleep(0.4)
        model.script.add(Reply(tool_calls=[ScriptedToolCall("echo", {"message": "three"})]))
        assert await agent.chat("three") == "Here is what I found: Echo: three"
    finally:
        await agent.aclose()
        peer.stop()
