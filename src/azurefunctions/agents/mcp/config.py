"""How an agent reaches an MCP server: ``MCPServer`` and one parameter class per transport.

Nothing here imports the ``mcp`` SDK. ``MCPServer`` opens its connection on first use (the first turn of an
agent that lists it), so a Function App that declares MCP servers pays nothing for them at indexing time.

A header value, a stdio ``env`` value or the bearer token may be a ``SecretRef``: it is read from Key Vault when
the connection opens (once per process), never stored in these objects and never shown in their ``repr``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..azure.secrets import SecretRef
from ..tools.base import (
    ApprovalPolicy,
    ApprovalReason,
    Tool,
    ToolOutput,
    check_approval_reason,
    check_needs_approval,
    check_repeatable,
    per_tool,
)

if TYPE_CHECKING:
    from .client import MCPClient

TokenProvider = Callable[[], "str | Awaitable[str]"]
"""Returns a bearer token (without the ``Bearer`` prefix); called before every HTTP request to the server."""

SecretValue = str | SecretRef
"""A configured value that is either given as is or kept in Key Vault (``SecretRef("name")``)."""


class MCPServerMode(StrEnum):
    """The transport used to talk to an MCP server."""

    STDIO = "stdio"
    SSE = "sse"
    STREAMABLE_HTTP = "streamable_http"

    @classmethod
    def parse(cls, value: MCPServerMode | str) -> MCPServerMode:
        if isinstance(value, MCPServerMode):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace("-", "_")
            aliases = {"http": cls.STREAMABLE_HTTP, "streamablehttp": cls.STREAMABLE_HTTP}
            if key in aliases:
                return aliases[key]
            for mode in cls:
                if mode.value == key:
                    return mode
        raise ValueError(
            f"mode: expected one of {', '.join(m.value for m in cls)} (or MCPServerMode.*), got {value!r}"
        )


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name}: expected a positive number of seconds, got {value!r}")
    return float(value)


def _check_url(owner: str, url: Any) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"{owner}.url: expected an http:// or https:// URL, got {url!r}")
    return url


def _check_values(owner: str, values: Any, what: str) -> dict[str, SecretValue] | None:
    if values is None:
        return None
    if not isinstance(values, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str | SecretRef) for k, v in values.items()
    ):
        raise ValueError(f"{owner}: expected a mapping of {what} to strings or SecretRef(...) values")
    return dict(values)


@dataclass
class MCPServerStdioParams:
    """Start the server as a subprocess and speak MCP over its stdin/stdout.

    The subprocess gets a minimal environment (``PATH``, ``HOME`` and the like) plus ``env``: it does not
    inherit the Function App's settings, so pass explicitly what the server needs. An ``env`` value may be a
    ``SecretRef``, read from Key Vault when the process starts.
    ``timeout`` bounds start-up, the handshake and each tool listing; ``call_timeout`` bounds one tool
    call.
    """

    command: str
    args: Sequence[str] = field(default_factory=list)
    env: Mapping[str, SecretValue] | None = field(default=None, repr=False)
    cwd: str | os.PathLike[str] | None = None
    timeout: float = 30.0
    call_timeout: float = 300.0

    def __post_init__(self) -> None:
        if not isinstance(self.command, str) or not self.command.strip():
            raise ValueError("MCPServerStdioParams.command: expected the executable to run, e.g. 'python'")
        if isinstance(self.args, str) or not all(isinstance(a, str) for a in self.args):
            raise ValueError("MCPServerStdioParams.args: expected a list of strings")
        self.args = list(self.args)
        self.env = _check_values("MCPServerStdioParams.env", self.env, "variable names")
        self.timeout = _positive("MCPServerStdioParams.timeout", self.timeout)
        self.call_timeout = _positive("MCPServerStdioParams.call_timeout", self.call_timeout)


@dataclass
class _HttpParams:
    """What the two HTTP transports share: URL, headers and where a bearer token comes from.

    ``token_provider`` (a function returning a token, sync or async) or ``credential`` + ``scope`` (an
    azure-identity credential, e.g. ``ManagedIdentityCredential()``, and the server's app ID URI scope such
    as ``api://<app-id>/.default``) put a fresh ``Authorization: Bearer`` header on every request. With
    ``scope`` alone, ``DefaultAzureCredential`` is used (managed identity in Azure, developer sign-in
    locally).

    A ``headers`` value may be a ``SecretRef`` (the whole header value, e.g. ``{"X-Api-Key":
    SecretRef("weather-mcp-key")}``), and ``token_provider`` may be a ``SecretRef`` holding a bearer token.
    Such secrets are read from Key Vault once per process; when the server answers HTTP 401 (the secret was
    rotated) they are read again and the request is sent once more.
    """

    url: str | None = None
    headers: Mapping[str, SecretValue] | None = field(default=None, repr=False)
    timeout: float = 30.0
    sse_read_timeout: float = 300.0
    token_provider: TokenProvider | SecretRef | None = field(default=None, repr=False)
    credential: Any = field(default=None, repr=False)
    scope: str | None = None

    def _validate(self, owner: str) -> None:
        self.url = _check_url(owner, self.url)
        self.headers = _check_values(f"{owner}.headers", self.headers, "header names")
        self.timeout = _positive(f"{owner}.timeout", self.timeout)
        self.sse_read_timeout = _positive(f"{owner}.sse_read_timeout", self.sse_read_timeout)
        if self.token_provider is not None and not (
                callable(self.token_provider) or isinstance(self.token_provider, SecretRef)):
            raise ValueError(f"{owner}.token_provider: expected a function returning a token, or a SecretRef")
        if self.token_provider is not None and (self.credential is not None or self.scope is not None):
            raise ValueError(f"{owner}: pass either token_provider or credential/scope, not both")
        if self.credential is not None and not self.scope:
            raise ValueError(f"{owner}.scope: required with credential (e.g. 'api://<app-id>/.default')")
        if self.scope is not None and (not isinstance(self.scope, str) or not self.scope.strip()):
            raise ValueError(f"{owner}.scope: expected a token scope such as 'api://<app-id>/.default'")
        if self.credential is not None and not hasattr(self.credential, "get_token"):
            raise ValueError(f"{owner}.credential: expected an azure-identity credential (with get_token)")

    @property
    def call_timeout(self) -> float:
        """A tool call may run as long as the server keeps its response stream open."""
        return self.sse_read_timeout


@dataclass
class MCPServerSseParams(_HttpParams):
    """The HTTP+SSE transport (MCP 2024-11-05): ``url`` is the server's SSE endpoint, often ``.../sse``."""

    timeout: float = 5.0

    def __post_init__(self) -> None:
        self._validate("MCPServerSseParams")


@dataclass
class MCPServerStreamableHttpParams(_HttpParams):
    """The streamable HTTP transport: ``url`` is the server's MCP endpoint, often ``.../mcp``.

    ``session_url`` is accepted as another name for ``url``. ``terminate_on_close`` ends the server-side
    session (HTTP DELETE) when the connection is closed.
    """

    session_url: str | None = None
    terminate_on_close: bool = True

    def __post_init__(self) -> None:
        if self.url is None:
            self.url = self.session_url
        elif self.session_url is not None and self.session_url != self.url:
            raise ValueError("MCPServerStreamableHttpParams: url and session_url differ; pass only one")
        if self.url is None:
            raise ValueError("MCPServerStreamableHttpParams.url: required (the server's MCP endpoint URL)")
        self.session_url = None
        self._validate("MCPServerStreamableHttpParams")


MCPServerParams = MCPServerStdioParams | MCPServerSseParams | MCPServerStreamableHttpParams

_PARAMS_FOR_MODE: dict[MCPServerMode, type[Any]] = {
    MCPServerMode.STDIO: MCPServerStdioParams,
    MCPServerMode.SSE: MCPServerSseParams,
    MCPServerMode.STREAMABLE_HTTP: MCPServerStreamableHttpParams,
}


class MCPServer:
    """An MCP server whose tools an agent can call.

    The connection opens on first use and is reused by every request the process serves; after the server
    drops it, the next use reconnects. A server that cannot be reached does not fail the turn: its tools
    answer with an error the model sees (or, before the first successful listing, the agent simply has none
    of them), and reconnection is attempted again after ``reconnect_delay`` seconds, doubling up to
    ``max_reconnect_delay`` while it stays down.

    ``cache_tools_list=True`` lists the server's tools once and reuses the list (until the server announces
    a change, or ``invalidate_tools_cache()``); otherwise the list is fetched on every turn.

    ``needs_approval``, ``approval_reason`` and ``repeatable`` declare what the ``Tool`` attributes of the same
    names declare, for every tool of the server, or per tool as ``{"tool name": value}`` (MCP names; a tool
    not in the mapping keeps the default). MCP tools never receive an idempotency key.
    """

    def __init__(
        self,
        name: str,
        mode: MCPServerMode | str | None = None,
        params: MCPServerParams | None = None,
        cache_tools_list: bool = False,
        *,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        needs_approval: bool | ApprovalPolicy | Mapping[str, bool | ApprovalPolicy] = False,
        approval_reason: ApprovalReason | Mapping[str, ApprovalReason] | None = None,
        repeatable: bool | Mapping[str, bool] = True,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("MCPServer.name: expected a non-empty name")
        if params is None:
            raise ValueError(
                "MCPServer.params: required (MCPServerStdioParams, MCPServerSseParams or "
                "MCPServerStreamableHttpParams)"
            )
        if mode is None:
            found = [m for m, cls in _PARAMS_FOR_MODE.items() if isinstance(params, cls)]
            if not found:
                raise ValueError(f"MCPServer.params: unsupported parameter object {type(params).__name__}")
            mode = found[0]
        self.mode = MCPServerMode.parse(mode)
        expected = _PARAMS_FOR_MODE[self.mode]
        if not isinstance(params, expected):
            raise ValueError(
                f"MCPServer.params: mode {self.mode.value} needs {expected.__name__}, "
                f"got {type(params).__name__}"
            )
        self.name = name.strip()
        self.params: MCPServerParams = params
        self.cache_tools_list = bool(cache_tools_list)
        self.reconnect_delay = _positive("MCPServer.reconnect_delay", reconnect_delay)
        self.max_reconnect_delay = max(
            self.reconnect_delay, _positive("MCPServer.max_reconnect_delay", max_reconnect_delay)
        )
        self.needs_approval = per_tool(needs_approval, "MCPServer.needs_approval", check_needs_approval)
        self.approval_reason = per_tool(approval_reason, "MCPServer.approval_reason", check_approval_reason)
        self.repeatable = per_tool(repeatable, "MCPServer.repeatable", check_repeatable)
        self._client: MCPClient | None = None

    def declared(self, tool_name: str) -> tuple[bool | ApprovalPolicy, ApprovalReason | None, bool]:
        """``needs_approval``, ``approval_reason`` and ``repeatable`` of the server's tool ``tool_name``."""
        def pick(value: Any, default: Any) -> Any:
            return value.get(tool_name, default) if isinstance(value, Mapping) else value

        return pick(self.needs_approval, False), pick(self.approval_reason, None), pick(self.repeatable, True)

    def __repr__(self) -> str:
        return f"MCPServer(name={self.name!r}, mode={self.mode.value!r}, params={self.params!r})"

    @property
    def client(self) -> MCPClient:
        """The connection manager (created, and the ``mcp`` SDK imported, on first access)."""
        if self._client is None:
            try:
                from .client import MCPClient
            except ModuleNotFoundError as exc:
                from ..errors import missing_extra

                raise missing_extra(f"The MCP server {self.name!r}", "mcp", exc) from exc
            self._client = MCPClient(self)
        return self._client

    async def list_tools(self) -> list[Tool]:
        """This server's tools as agent tools. Never raises for an unreachable server (see the class doc)."""
        return await self.client.list_tools()

    def known_tools(self) -> list[Tool] | None:
        """The tools last listed (by a turn), or ``None`` before any listing succeeded; never connects."""
        return self._client.known_tools() if self._client is not None else None

    async def call_tool(self, tool_name: str, arguments: dict[str, Any] | None = None) -> ToolOutput:
        """Call one of the server's tools by its MCP name; failures come back as ``is_error`` outputs."""
        return await self.client.call_tool(tool_name, arguments or {})

    def invalidate_tools_cache(self) -> None:
        """Fetch the tool list again on the next turn, even with ``cache_tools_list=True``."""
        if self._client is not None:
            self._client.invalidate_tools_cache()

    async def aclose(self) -> None:
        """Close the connection (and stop a stdio server's process). The server may be used again later."""
        if self._client is not None:
            await self._client.aclose()

    async def __aenter__(self) -> MCPServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
