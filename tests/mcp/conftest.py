"""Fixtures starting the real MCP reference servers for the MCP tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers.mcp_peers import EverythingServer, everything_available, everything_stdio_command

from azurefunctions.agents import (
    MCPServer,
    MCPServerMode,
    MCPServerSseParams,
    MCPServerStdioParams,
    MCPServerStreamableHttpParams,
)

NESTED_SERVER = Path(__file__).with_name("nested_server.py")

requires_node = pytest.mark.skipif(not everything_available(), reason="tests/node is not installed (npm ci)")


@pytest.fixture(scope="module")
def sse_everything() -> Iterator[EverythingServer]:
    with EverythingServer("sse") as server:
        yield server


@pytest.fixture(scope="module")
def http_everything() -> Iterator[EverythingServer]:
    with EverythingServer("streamableHttp") as server:
        yield server


def everything_server(transport: str, request: pytest.FixtureRequest, **options: object) -> MCPServer:
    """An ``MCPServer`` for server-everything over ``transport`` (HTTP servers come from the fixtures)."""
    if transport == "stdio":
        command, args = everything_stdio_command()
        return MCPServer("everything", MCPServerMode.STDIO, MCPServerStdioParams(command=command, args=args),
                         **options)  # type: ignore[arg-type]
    if transport == "sse":
        peer: EverythingServer = request.getfixturevalue("sse_everything")
        return MCPServer("everything", MCPServerMode.SSE, MCPServerSseParams(url=peer.url),
                         **options)  # type: ignore[arg-type]
    peer = request.getfixturevalue("http_everything")
    return MCPServer("everything", MCPServerMode.STREAMABLE_HTTP, MCPServerStreamableHttpParams(url=peer.url),
                     **options)  # type: ignore[arg-type]


def nested_server(name: str = "nested", *, call_timeout: float = 300.0, cache_tools_list: bool = False
                  ) -> MCPServer:
    """The SDK-based test server (nested schemas, a slow tool, a tool added at run time) over stdio."""
    params = MCPServerStdioParams(command=sys.executable, args=[str(NESTED_SERVER)],
                                  call_timeout=call_timeout)
    return MCPServer(name, MCPServerMode.STDIO, params, cache_tools_list=cache_tools_list)
