"""MCP server secrets from Key Vault: ``SecretRef`` header values, bearer token and stdio ``env``.

The real ``mcp`` client talks to the SDK's own server (streamable HTTP and SSE, behind a guard that answers
401 unless a header holds an accepted value, and over stdio); the real ``SecretClient`` reads the local vault.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets as pysecrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer as SdkServer
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from azurefunctions.agents import (
    MCPServer,
    MCPServerSseParams,
    MCPServerStdioParams,
    MCPServerStreamableHttpParams,
)
from azurefunctions.agents.azure import SecretRef
from tests.servers.base import LocalServer
from tests.servers.keyvault import KeyVaultServer

pytestmark = pytest.mark.timeout(60)

ENV_SERVER = Path(__file__).with_name("env_mcp_server.py")


class GuardedMCP:
    """The SDK's MCP server over streamable HTTP (``/mcp/``) and SSE (``/sse``), each request refused with
    401 unless ``header`` carries a value in ``accepted``."""

    def __init__(self, header: str) -> None:
        self.header = header.lower()
        self.accepted: set[str] = set()
        self.refused = 0
        sdk = SdkServer("guarded")

        @sdk.tool(description="Says who may call.")
        def whoami() -> str:
            return "authorized"

        http_app = sdk.streamable_http_app(stateless_http=True, json_response=True, streamable_http_path="/")
        sse_app = sdk.sse_app()

        @contextlib.asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[None]:
            async with sdk.session_manager.run():
                yield

        self.server = LocalServer(Starlette(
            routes=[Mount("/mcp", app=self._guard(http_app)), Mount("/", app=self._guard(sse_app))],
            lifespan=lifespan))
        self.server._server.config.lifespan = "on"

    def _guard(self, inner: ASGIApp) -> ASGIApp:
        async def guard(scope: Scope, receive: Receive, send: Send) -> None:
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
            if headers.get(self.header) not in self.accepted:
                self.refused += 1
                await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
                return
            await inner(scope, receive, send)

        return guard

    def url(self, transport: str) -> str:
        return f"{self.server.url}/mcp/" if transport == "streamable_http" else f"{self.server.url}/sse"


@pytest.fixture
def guarded() -> Iterator[GuardedMCP]:
    peer = GuardedMCP("X-Api-Key")
    with peer.server:
        yield peer


@pytest.fixture
def bearer_guarded() -> Iterator[GuardedMCP]:
    peer = GuardedMCP("Authorization")
    with peer.server:
        yield peer


def http_server(transport: str, url: str, **options: Any) -> MCPServer:
    params: Any = (MCPServerStreamableHttpParams(url=url, **options) if transport == "streamable_http"
                   else MCPServerSseParams(url=url, **options))
    return MCPServer("guarded", params=params, reconnect_delay=0.1)


async def whoami(server: MCPServer) -> tuple[list[str], str, bool]:
    names = [t.name for t in await server.list_tools()]
    out = await server.call_tool("whoami", {})
    return names, out.content, out.is_error


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
async def test_secret_header_read_once_then_refreshed_after_rotation(
        vault: KeyVaultServer, guarded: GuardedMCP, transport: str) -> None:
    key = f"mcp-{pysecrets.token_hex(12)}"
    vault.set_secret("weather-mcp-key", key)
    guarded.accepted.add(key)
    server = http_server(transport, guarded.url(transport), headers={
        "X-Api-Key": SecretRef("weather-mcp-key"), "X-Client": "tests"})
    try:
        for _ in range(5):
            assert await whoami(server) == (["whoami"], "authorized", False)
        assert vault.reads_of("weather-mcp-key") == 1
        assert guarded.refused == 0
        assert key not in repr(server) and key not in repr(server.params)

        rotated = f"mcp-rotated-{pysecrets.token_hex(12)}"
        guarded.accepted = {rotated}  # the server now refuses the old value
        vault.set_secret("weather-mcp-key", rotated)
        await server.aclose()  # a new connection: its first request meets the rotation
        assert await whoami(server) == (["whoami"], "authorized", False)
        assert vault.reads_of("weather-mcp-key") == 2
        assert guarded.refused == 1  # one refused request, sent again with the new value
    finally:
        await server.aclose()


async def test_rotation_on_a_live_connection_costs_one_request(vault: KeyVaultServer,
                                                               guarded: GuardedMCP) -> None:
    vault.set_secret("weather-mcp-key", "first-value")
    guarded.accepted.add("first-value")
    server = http_server("streamable_http", guarded.url("streamable_http"),
                         headers={"X-Api-Key": SecretRef("weather-mcp-key")})
    try:
        assert await whoami(server) == (["whoami"], "authorized", False)
        guarded.accepted = {"second-value"}
        vault.set_secret("weather-mcp-key", "second-value")
        results = await asyncio.gather(*(server.call_tool("whoami", {}) for _ in range(5)))
        assert [(r.content, r.is_error) for r in results] == [("authorized", False)] * 5
        assert vault.reads_of("weather-mcp-key") == 2  # concurrent refusals share one re-read
    finally:
        await server.aclose()


async def test_bearer_token_kept_in_the_vault(vault: KeyVaultServer, bearer_guarded: GuardedMCP) -> None:
    vault.set_secret("mcp-token", "token-one")
    bearer_guarded.accepted.add("Bearer token-one")
    server = http_server("streamable_http", bearer_guarded.url("streamable_http"),
                         token_provider=SecretRef("mcp-token"))
    try:
        assert await whoami(server) == (["whoami"], "authorized", False)
        bearer_guarded.accepted = {"Bearer token-two"}
        vault.set_secret("mcp-token", "token-two")
        out = await server.call_tool("whoami", {})
        assert (out.content, out.is_error) == ("authorized", False)
        assert vault.reads_of("mcp-token") == 2
    finally:
        await server.aclose()


async def test_refused_value_the_vault_still_holds_is_not_read_again_and_again(
        vault: KeyVaultServer, guarded: GuardedMCP, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    vault.set_secret("weather-mcp-key", "canary-7d41f0e2")
    server = http_server("streamable_http", guarded.url("streamable_http"),
                         headers={"X-Api-Key": SecretRef("weather-mcp-key")})
    try:
        names, text, is_error = await whoami(server)
        assert names == [] and is_error and "MCP server 'guarded' is unavailable" in text
        assert vault.reads_of("weather-mcp-key") == 2  # the first read, and one re-read after the 401
        for _ in range(3):
            await asyncio.sleep(0.25)  # past the back-off window: the connection is tried again
            await whoami(server)
        assert vault.reads_of("weather-mcp-key") == 2  # the vault was just re-read: no read storm
        assert "canary-7d41f0e2" not in text and "canary-7d41f0e2" not in caplog.text
        assert "weather-mcp-key" in caplog.text  # the refresh is logged by the secret's name
    finally:
        await server.aclose()


async def test_missing_secret_makes_the_server_unavailable_with_its_name(vault: KeyVaultServer,
                                                                         guarded: GuardedMCP) -> None:
    server = http_server("streamable_http", guarded.url("streamable_http"),
                         headers={"X-Api-Key": SecretRef("no-such-secret")})
    try:
        names, text, is_error = await whoami(server)
        assert names == [] and is_error
        assert "'no-such-secret' was not found" in text
        assert guarded.refused == 0  # nothing was sent without the secret
    finally:
        await server.aclose()


async def test_stdio_env_secret_reaches_the_process(vault: KeyVaultServer) -> None:
    token = f"stdio-{pysecrets.token_hex(12)}"
    vault.set_secret("stdio-mcp-token", token)
    params = MCPServerStdioParams(command=sys.executable, args=[str(ENV_SERVER)],
                                  env={"MCP_TOKEN": SecretRef("stdio-mcp-token"), "OTHER": "plain"})
    assert token not in repr(params)
    server = MCPServer("env", params=params)
    try:
        out = await server.call_tool("token_digest", {})
        assert (out.content, out.is_error) == (hashlib.sha256(token.encode()).hexdigest(), False)
        await server.aclose()
        await server.call_tool("token_digest", {})  # a new process, the value from memory
        assert vault.reads_of("stdio-mcp-token") == 1
    finally:
        await server.aclose()


def test_secret_values_are_validated() -> None:
    with pytest.raises(ValueError, match=r"MCPServerStdioParams.env.*SecretRef"):
        MCPServerStdioParams(command="python", env={"A": 1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"MCPServerSseParams.headers.*SecretRef"):
        MCPServerSseParams(url="http://127.0.0.1:1/sse", headers={"A": object()})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="token_provider"):
        MCPServerStreamableHttpParams(url="http://127.0.0.1:1/mcp", token_provider="not-callable")  # type: ignore[arg-type]
