"""Configuration errors, bearer tokens (static, provider, azure-identity), name collisions, lazy import."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer as SdkServer
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send
from tests.servers.base import LocalServer
from tests.servers.identity import IdentityServer

from azurefunctions.agents import (
    MCPServer,
    MCPServerMode,
    MCPServerSseParams,
    MCPServerStdioParams,
    MCPServerStreamableHttpParams,
)
from azurefunctions.agents.mcp.tools import MCPTool, gather_mcp_tools, resolve_names

from .conftest import nested_server

pytestmark = pytest.mark.timeout(60)


class ProtectedMCP:
    """An SDK MCP server over streamable HTTP that answers 401 unless the bearer token is accepted."""

    def __init__(self) -> None:
        self.accepted: set[str] = {"static-secret"}
        self.seen: list[str] = []
        sdk = SdkServer("protected")

        @sdk.tool(description="Says who may call.")
        def whoami() -> str:
            return "authorized"

        inner = sdk.streamable_http_app(stateless_http=True, json_response=True, streamable_http_path="/")

        @contextlib.asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[None]:
            async with sdk.session_manager.run():
                yield

        async def guard(scope: Scope, receive: Receive, send: Send) -> None:
            headers = {k.decode(): v.decode() for k, v in scope.get("headers", [])}
            token = headers.get("authorization", "").removeprefix("Bearer ")
            self.seen.append(token)
            if token not in self.accepted:
                await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
                return
            await inner(scope, receive, send)

        self.app = Starlette(routes=[Mount("/mcp", app=guard)], lifespan=lifespan)
        self.server = LocalServer(self.app)
        self.server._server.config.lifespan = "on"

    @property
    def url(self) -> str:
        return f"{self.server.url}/mcp/"


@pytest.fixture
def protected() -> Iterator[ProtectedMCP]:
    peer = ProtectedMCP()
    with peer.server:
        yield peer


async def whoami(server: MCPServer) -> tuple[list[str], str, bool]:
    try:
        names = [t.name for t in await server.list_tools()]
        out = await server.call_tool("whoami", {})
        return names, out.content, out.is_error
    finally:
        await server.aclose()


async def test_static_bearer_header(protected: ProtectedMCP) -> None:
    ok = MCPServer("p", MCPServerMode.STREAMABLE_HTTP, MCPServerStreamableHttpParams(
        url=protected.url, headers={"Authorization": "Bearer static-secret"}))
    assert await whoami(ok) == (["whoami"], "authorized", False)
    wrong = MCPServer("p", MCPServerMode.STREAMABLE_HTTP, MCPServerStreamableHttpParams(
        url=protected.url, headers={"Authorization": "Bearer wrong"}))
    names, text, is_error = await whoami(wrong)
    assert names == [] and is_error and "MCP server 'p' is unavailable" in text
    assert "wrong" not in text and "static-secret" not in repr(ok)


async def test_token_provider_sync_and_async(protected: ProtectedMCP) -> None:
    protected.accepted.add("from-provider")
    calls: list[int] = []

    def sync_provider() -> str:
        calls.append(1)
        return "from-provider"

    async def async_provider() -> str:
        calls.append(2)
        return "from-provider"

    for provider in (sync_provider, async_provider):
        server = MCPServer("p", "streamable_http",
                           MCPServerStreamableHttpParams(url=protected.url, token_provider=provider))
        assert await whoami(server) == (["whoami"], "authorized", False)
    assert 1 in calls and 2 in calls


async def test_token_from_azure_identity(protected: ProtectedMCP, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.identity.aio import ManagedIdentityCredential

    with IdentityServer() as identity:
        for key, value in identity.env.items():
            monkeypatch.setenv(key, value)
        credential = ManagedIdentityCredential()
        server = MCPServer("p", MCPServerMode.STREAMABLE_HTTP, MCPServerStreamableHttpParams(
            url=protected.url, credential=credential, scope="api://mcp-test/.default"), reconnect_delay=0.1)
        try:
            names, _, _ = await whoami(server)
            assert names == []  # the server does not know the token yet
            protected.accepted.update(identity.tokens)
            await asyncio.sleep(0.15)  # past the back-off window
            assert await whoami(server) == (["whoami"], "authorized", False)
            assert identity.requests[0].resource == "api://mcp-test"
            # The token is cached: one token for all the requests of both connections.
            assert len(identity.tokens) == 1
        finally:
            await credential.close()


def test_parameter_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"MCPServerStdioParams.command"):
        MCPServerStdioParams(command="")
    with pytest.raises(ValueError, match=r"MCPServerSseParams.url"):
        MCPServerSseParams(url="localhost:8080/sse")
    with pytest.raises(ValueError, match=r"MCPServerStreamableHttpParams.url: required"):
        MCPServerStreamableHttpParams()
    with pytest.raises(ValueError, match="scope: required with credential"):
        MCPServerStreamableHttpParams(url="http://127.0.0.1:1/mcp", credential=object())
    with pytest.raises(ValueError, match="timeout"):
        MCPServerSseParams(url="http://127.0.0.1:1/sse", timeout=0)
    with pytest.raises(ValueError, match="mode stdio needs MCPServerStdioParams"):
        MCPServer("x", MCPServerMode.STDIO, MCPServerSseParams(url="http://127.0.0.1:1/sse"))
    with pytest.raises(ValueError, match="mode: expected one of"):
        MCPServer("x", "websocket", MCPServerSseParams(url="http://127.0.0.1:1/sse"))
    with pytest.raises(ValueError, match=r"MCPServer.params: required"):
        MCPServer("x", MCPServerMode.SSE)
    # session_url is the README's spelling of url; the mode can be left to the parameters.
    params = MCPServerStreamableHttpParams(session_url="http://127.0.0.1:1/mcp")
    assert params.url == "http://127.0.0.1:1/mcp"
    assert MCPServer("x", params=params).mode is MCPServerMode.STREAMABLE_HTTP
    secret = MCPServerStdioParams(command="python", env={"API_KEY": "hunter2"})
    assert "hunter2" not in repr(MCPServer("x", "stdio", secret))


async def test_colliding_tool_names_are_prefixed_with_the_server_name() -> None:
    first, second = nested_server("first"), nested_server("second")
    try:
        tools = await gather_mcp_tools([first, second], reserved=["slow"])
        names = [t.name for t in tools]
        assert names == ["order_weight", "first_slow", "register_extra",
                         "second_order_weight", "second_slow", "second_register_extra"]
        by_name = {t.name: t for t in tools}
        assert isinstance(by_name["second_slow"], MCPTool) and by_name["second_slow"].server is second
        out = await by_name["second_slow"].invoke({"seconds": 0}, None)  # type: ignore[arg-type]
        assert out.content == "waited 0 s" or out.content == "waited 0.0 s"
    finally:
        await first.aclose()
        await second.aclose()


def test_names_made_valid_for_models_and_unique() -> None:
    server = MCPServer("my server", "stdio", MCPServerStdioParams(command="python"))
    tools = [MCPTool(server, name, None, {}) for name in ("files/read", "files.read", "x" * 80)]
    resolved = resolve_names([(server, tools)])
    assert [t.name for t in resolved] == ["files_read", "my_server_files_read", "x" * 64]
    assert [t.remote_name for t in resolved] == ["files/read", "files.read", "x" * 80]  # type: ignore[attr-defined]
    assert resolved[0].parameters == {"type": "object", "properties": {}}


def test_declaring_mcp_servers_does_not_import_the_sdk() -> None:
    code = (
        "import sys\n"
        "from azurefunctions.agents import MCPServer, MCPServerMode, MCPServerSseParams\n"
        "MCPServer('s', MCPServerMode.SSE, MCPServerSseParams(url='http://127.0.0.1:1/sse'))\n"
        "assert 'mcp' not in sys.modules and 'httpx2' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
