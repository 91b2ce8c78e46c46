"""The README's MCP snippets, unchanged except for URLs pointed at local servers, run against real servers."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from tests.servers.mcp_peers import EverythingServer
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

from .conftest import NESTED_SERVER, requires_node

pytestmark = [requires_node, pytest.mark.timeout(90)]


@pytest.fixture
def sse_peer() -> EverythingServer:
    with EverythingServer("sse") as peer:
        yield peer  # type: ignore[misc]


async def test_sse_code_agent_snippet(sse_peer: EverythingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAIServer(api_key="your-openai-api-key") as model:
        monkeypatch.setenv("OPENAI_BASE_URL", model.base_url)
        # --- README: Model Context Protocol (MCP) Integration (URL pointed at the local server) ---
        from azurefunctions.agents import Agent, MCPServer, MCPServerMode  # noqa: I001
        from azurefunctions.agents import MCPServerSseParams
        from azurefunctions.agents.types import LLMConfig, LLMProvider
        # Configure LLM for the agent
        llm_config = LLMConfig(
            provider=LLMProvider.OPENAI,
            model_name="gpt-4",
            api_key="your-openai-api-key"
        )
        # Configure MCP server (SSE mode example)
        mcp_server = MCPServer(
            name="CodeExecutionMCPServer",
            mode=MCPServerMode.SSE,
            params=MCPServerSseParams(
                url=sse_peer.url,
                headers={
                    "Authorization": "Bearer your-mcp-api-token"
                },
                timeout=5.0,
                sse_read_timeout=300.0
            ),
            cache_tools_list=False
        )
        # Add to agent
        code_agent = Agent(
            name="CodeExecutionAgent",
            instructions="You are a code execution agent that can run Python code to perform tasks.",
            mcp_servers=[mcp_server],
            llm_config=llm_config,
            description="A code execution agent that can run Python code to perform tasks."
        )
        # --- end of snippet ---
        try:
            model.script.add(Reply(tool_calls=[ScriptedToolCall("get-sum", {"a": 40, "b": 2})]))
            assert await code_agent.chat("40 + 2?") == "Here is what I found: The sum of 40 and 2 is 42."
        finally:
            await code_agent.aclose()


async def test_mode_snippets(sse_peer: EverythingServer, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    # The stdio snippet runs `python my_mcp_server.py` from the working directory.
    shutil.copy(NESTED_SERVER, tmp_path / "my_mcp_server.py")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with EverythingServer("streamableHttp") as http_peer:
        # --- README: STDIO Mode ---
        from azurefunctions.agents import MCPServer, MCPServerMode  # noqa: I001
        from azurefunctions.agents import MCPServerStdioParams
        mcp_server = MCPServer(
            name="MyStdioServer",
            mode=MCPServerMode.STDIO,
            params=MCPServerStdioParams(
                command="python",
                args=["my_mcp_server.py"],
                env={"API_KEY": "your-key"}
            )
        )
        stdio_server = mcp_server
        # --- README: SSE Mode ---
        from azurefunctions.agents import MCPServer, MCPServerMode  # noqa: I001
        from azurefunctions.agents import MCPServerSseParams
        mcp_server = MCPServer(
            name="MySSEServer",
            mode=MCPServerMode.SSE,
            params=MCPServerSseParams(
                url=sse_peer.url,
                headers={"Authorization": "Bearer token"}
            )
        )
        sse_server = mcp_server
        # --- README: Streamable HTTP Mode ---
        from azurefunctions.agents import MCPServer, MCPServerMode  # noqa: I001
        from azurefunctions.agents import MCPServerStreamableHttpParams
        mcp_server = MCPServer(
            name="MyHttpServer",
            mode=MCPServerMode.STREAMABLE_HTTP,
            params=MCPServerStreamableHttpParams(
                session_url=http_peer.url
            )
        )
        http_server = mcp_server
        # --- end of snippets ---
        try:
            assert "order_weight" in {t.name for t in await stdio_server.list_tools()}
            assert (await stdio_server.call_tool("slow", {"seconds": 0})).content == "waited 0.0 s"
            for server in (sse_server, http_server):
                assert (await server.call_tool("echo", {"message": server.name})).content == f"Echo: {server.name}"
        finally:
            for server in (stdio_server, sse_server, http_server):
                await server.aclose()


async def test_add_mcp_server_snippet(sse_peer: EverythingServer) -> None:
    from azurefunctions.agents import Agent, LLMConfig, MCPServer, MCPServerMode, MCPServerSseParams

    with OpenAIServer() as model:
        agent = Agent(name="MyAgent", instructions="You are a helpful assistant",
                      llm_config=LLMConfig(provider="openai", api_key="test-openai-key", base_url=model.base_url))
        # --- README: MCP Server Integration (URL pointed at the local server) ---
        agent.add_mcp_server(MCPServer(
            name="MyMCPServer",
            mode=MCPServerMode.SSE,
            params=MCPServerSseParams(url=sse_peer.url)
        ))
        # --- end of snippet ---
        try:
            model.script.add(Reply(tool_calls=[ScriptedToolCall("echo", {"message": "added"})]))
            assert await agent.chat("echo") == "Here is what I found: Echo: added"
        finally:
            await agent.aclose()
