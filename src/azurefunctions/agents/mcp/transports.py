"""Build the ``mcp`` SDK transport for one server's parameters (imports the SDK: load only when used).

Secrets in the parameters (``SecretRef`` header values, a ``SecretRef`` bearer token, ``SecretRef`` stdio
``env`` values) are resolved here, when the connection opens, from the per-process Key Vault cache. HTTP ones
are put on each request by ``ConnectionAuth``, which also notices a 401: the secrets it sent are invalidated,
read again and the request is sent once more, so a rotated secret costs one request, not the connection.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TextIO

import httpx2
from mcp import StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from ..azure.secrets import SecretRef, invalidate
from .config import (
    MCPServerParams,
    MCPServerSseParams,
    MCPServerStdioParams,
    MCPServerStreamableHttpParams,
    SecretValue,
    _HttpParams,
)

logger = logging.getLogger("azurefunctions.agents.mcp")

Streams = tuple[Any, Any]
AsyncTokenProvider = Callable[[], Awaitable[str]]

_TOKEN_REFRESH_MARGIN = 300.0  # seconds before expiry at which a credential's token is fetched again


class ConnectionAuth(httpx2.Auth):
    """Puts the connection's credentials on every request of the MCP connection.

    ``provider`` gives ``Authorization: Bearer <token>``; ``secrets`` maps header names to a prefix and the
    ``SecretRef`` holding the rest of the value (read from the per-process cache: no I/O after the first
    read). When the server answers 401 to a request that carried Key Vault secrets, those values are dropped
    from the cache and the request is sent once more with the values read again.
    """

    def __init__(self, provider: AsyncTokenProvider | None = None,
                 secrets: Mapping[str, tuple[str, SecretRef]] | None = None) -> None:
        self._provider = provider
        self._secrets = dict(secrets or {})

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        raise RuntimeError("ConnectionAuth works with async clients only")

    async def _apply(self, request: httpx2.Request) -> list[tuple[SecretRef, str]]:
        if self._provider is not None:
            request.headers["Authorization"] = f"Bearer {await self._provider()}"
        sent: list[tuple[SecretRef, str]] = []
        for name, (prefix, ref) in self._secrets.items():
            value = await ref.aresolve()
            request.headers[name] = prefix + value
            sent.append((ref, value))
        return sent

    async def async_auth_flow(  # type: ignore[override]
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        sent = await self._apply(request)
        response = yield request
        if response.status_code != 401 or not sent:
            return
        # Every refused value is invalidated (not just the first), so all are re-read.
        retry = [invalidate(ref, value) for ref, value in sent]
        if not any(retry):
            return  # the vault was re-read moments ago and still holds what the server refused
        logger.warning("MCP server refused %s; re-reading and retrying once",
                       ", ".join(ref.describe() for ref, _ in sent))
        await self._apply(request)
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
    """The bearer token source of a callable ``token_provider`` or of ``credential``/``scope``."""
    if isinstance(params.token_provider, SecretRef):
        return None  # a Key Vault token is a secret header (``secret_headers``), refreshed on 401
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


def plain_values(values: Mapping[str, SecretValue] | None) -> dict[str, str]:
    """The values given as they are (the ``SecretRef`` ones are resolved elsewhere)."""
    return {k: v for k, v in (values or {}).items() if isinstance(v, str)}


def secret_headers(params: _HttpParams) -> dict[str, tuple[str, SecretRef]]:
    """Header name -> (prefix, secret) for every header whose value is kept in Key Vault."""
    found = {k: ("", v) for k, v in (params.headers or {}).items() if isinstance(v, SecretRef)}
    if isinstance(params.token_provider, SecretRef):
        found["Authorization"] = ("Bearer ", params.token_provider)
    return found


async def resolve_values(values: Mapping[str, SecretValue] | None) -> dict[str, str] | None:
    """``values`` with each ``SecretRef`` replaced by the secret (read once per process, off the loop)."""
    if values is None:
        return None
    return {k: v if isinstance(v, str) else await v.aresolve() for k, v in values.items()}


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
    # The client the SDK's transport would make for itself (``mcp.shared._httpx_utils.create_mcp_http_client``,
    # a private module), built here with the public httpx2 API: redirects stay off, because the transport
    # follows them itself within the server's origin.
    http_client = httpx2.AsyncClient(
        headers=plain_values(params.headers),
        timeout=httpx2.Timeout(params.timeout, read=params.sse_read_timeout),
        auth=auth,
        follow_redirects=False,
    )
    async with http_client, streamable_http_client(
        str(params.url), http_client=http_client, terminate_on_close=params.terminate_on_close
    ) as (read, write):
        yield read, write


@asynccontextmanager
async def _stdio(params: MCPServerStdioParams) -> AsyncGenerator[Streams, None]:
    env = await resolve_values(params.env)  # Key Vault secrets are read before the process starts
    async with stdio_client(
        StdioServerParameters(
            command=params.command,
            args=list(params.args),
            env=env or None,
            cwd=os.fspath(params.cwd) if params.cwd is not None else None,
        ),
        errlog=_errlog(),
    ) as (read, write):
        yield read, write


def open_transport(params: MCPServerParams) -> AbstractAsyncContextManager[Streams]:
    """The SDK transport context manager for ``params`` (entered by the connection's owner task)."""
    if isinstance(params, MCPServerStdioParams):
        return _stdio(params)
    provider = token_provider_for(params)
    secrets = secret_headers(params)
    auth = ConnectionAuth(provider, secrets) if provider is not None or secrets else None
    if isinstance(params, MCPServerSseParams):
        return sse_client(
            str(params.url),
            headers=plain_values(params.headers),
            timeout=params.timeout,
            sse_read_timeout=params.sse_read_timeout,
            auth=auth,
        )
    return _streamable_http(params, auth)
