"""Build the ``mcp`` SDK transport for one server's parameters (imports the SDK: load only when used)."""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TextIO

import httpx2
from mcp import StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from .config import (
    MCPServerParams,
    MCPServerSseParams,
    MCPServerStdioParams,
    MCPServerStreamableHttpParams,
    _HttpParams,
)

Streams = tuple[Any, Any]
AsyncTokenProvider = Callable[[], Awaitable[str]]

_TOKEN_REFRESH_MARGIN = 300.0  # seconds before expiry at which a credential's token is fetched again


class BearerTokenAuth(httpx2.Auth):
    """Adds ``Authorization: Bearer <token>`` from a provider to every request of the MCP connection."""

    def __init__(self, provider: AsyncTokenProvider) -> None:
        self._provider = provider

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("BearerTokenAuth works with async clients only")

    async def async_auth_flow(  # type: ignore[override]
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        token = await self._provider()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def _from_callable(provider: Callable[[], Any]) -> AsyncTokenProvider:
    async def get() -> str:
        value = provider()
        if inspect.isawaitable(value):
            value = await value
        if not isinstance(value, str) or not value:
            raise ValueError("token_provider returned no token")
        return value

    return get


def _from_credential(credential: Any, scope: str) -> AsyncTokenProvider:
    """Tokens from an azure-identity credential (sync or aio), cached until shortly before they expire."""
    cached: list[Any] = []  # [token, expires_on]
    lock = asyncio.Lock()

    async def get() -> str:
        async with lock:
            if cached and cached[1] - _TOKEN_REFRESH_MARGIN > time.time():
                return str(cached[0])
            if inspect.iscoroutinefunction(credential.get_token):
                access = await credential.get_token(scope)
            else:  # a synchronous credential does network I/O: keep it off the event loop
                access = await asyncio.to_thread(credential.get_token, scope)
            cached[:] = [access.token, float(access.expires_on)]
            return str(access.token)

    return get


def token_provider_for(params: _HttpParams) -> AsyncTokenProvider | None:
    if params.token_provider is not None:
        return _from_callable(params.token_provider)
    if params.scope:
        credential = params.credential
        if credential is None:
            from azure.identity.aio import DefaultAzureCredential

            credential = DefaultAzureCredential()
            params.credential = credential
        return _from_credential(credential, params.scope)
    return None


def _errlog() -> TextIO:
    """Where a stdio server's stderr goes: ours when it is a real file, else nowhere."""
    try:
        sys.stderr.fileno()
        return sys.stderr
    except (AttributeError, OSError, ValueError):
        return open(os.devnull, "w")


@asynccontextmanager
async def _streamable_http(params: MCPServerStreamableHttpParams, auth: httpx2.Auth | None
                           ) -> AsyncGenerator[Streams, None]:
    http_client = create_mcp_http_client(
        headers=dict(params.headers or {}),
        timeout=httpx2.Timeout(params.timeout, read=params.sse_read_timeout),
        auth=auth,
    )
    async with http_client, streamable_http_client(
        str(params.url), http_client=http_client, terminate_on_close=params.terminate_on_close
    ) as (read, write):
        yield read, write


def open_transport(params: MCPServerParams) -> AbstractAsyncContextManager[Streams]:
    """The SDK transport context manager for ``params`` (entered by the connection's owner task)."""
    if isinstance(params, MCPServerStdioParams):
        return stdio_client(
            StdioServerParameters(
                command=params.command,
                args=list(params.args),
                env=dict(params.env) if params.env else None,
                cwd=os.fspath(params.cwd) if params.cwd is not None else None,
            ),
            errlog=_errlog(),
        )
    provider = token_provider_for(params)
    auth = BearerTokenAuth(provider) if provider is not None else None
    if isinstance(params, MCPServerSseParams):
        return sse_client(
            str(params.url),
            headers=dict(params.headers or {}),
            timeout=params.timeout,
            sse_read_timeout=params.sse_read_timeout,
            auth=auth,
        )
    return _streamable_http(params, auth)
