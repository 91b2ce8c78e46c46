"""One MCP server's connection: opened lazily, shared by every request of the process, repaired after drops.

The SDK's transports and ``mcp.Client`` are async context managers whose task groups must be entered and
left by the same task, while requests arrive on many tasks. So each connection has an *owner task* that
enters them, publishes the connected client and waits for the signal to close; request tasks only send
messages through that client. A connection belongs to the event loop it was opened on: on another loop (a
second ``asyncio.run``) a new one is opened.

Failure policy, so that a down server costs a turn little and never fails it:
- connecting is bounded by the parameters' ``timeout``; a failed attempt starts a back-off window
  (``reconnect_delay`` doubling to ``max_reconnect_delay``) during which no new attempt is made and the
  server's tools answer at once with an ``is_error`` output naming the problem;
- a failed request is followed by a ping: if that fails too, the connection is dropped (the next use
  reconnects at once). Listing tools is retried once on a fresh connection; a tool call is not retried
  (it may have run), the model sees the error and can call again;
- the last successfully listed tools stay offered while the server is down, so the model gets a clear
  error rather than tools vanishing mid-conversation; before any successful listing the agent has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import mcp_types
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .. import __version__
from ..tools.base import Tool, ToolOutput
from .results import to_tool_output
from .tools import MCPTool
from .transports import open_transport

if TYPE_CHECKING:
    from .config import MCPServer

logger = logging.getLogger("azurefunctions.agents.mcp")

_MAX_PAGES = 100
_CLOSE_TIMEOUT = 5.0
_PING_TIMEOUT = 5.0
_QUERY = re.compile(r"(https?://[^\s'\"?#]+)[?#][^\s'\"]*")
_USERINFO = re.compile(r"(https?://)[^\s/@'\"]+@")


class MCPUnavailableError(ConnectionError):
    """The server cannot be reached now; the message is written for the model and the log."""


def describe_error(exc: BaseException) -> str:
    """A one-line description of what went wrong, without URL query strings or credentials."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = _USERINFO.sub(r"\1", _QUERY.sub(r"\1", text))[:300]
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _is_connection_loss(exc: BaseException) -> bool:
    return isinstance(exc, MCPError) and exc.code == mcp_types.CONNECTION_CLOSED


class _Connection:
    """A connected ``mcp.Client`` and the owner task holding its transport open."""

    def __init__(self, client: Client, owner: asyncio.Task[None], stop: asyncio.Event,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.client = client
        self.owner = owner
        self.stop = stop
        self.loop = loop

    @property
    def alive(self) -> bool:
        return not self.owner.done()

    async def close(self) -> None:
        self.stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.owner), _CLOSE_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError):
            self.owner.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.owner, _CLOSE_TIMEOUT)
        except Exception as exc:  # the transport failing while closing leaves nothing to clean up
            logger.debug("MCP connection closed with %s", describe_error(exc))

    def close_from_other_loop(self) -> None:
        """Ask the owner to stop when the connection was opened on a loop other than the running one."""
        if not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.stop.set)


class MCPClient:
    """Connection management, tool listing and tool calls for one ``MCPServer``."""

    def __init__(self, server: MCPServer) -> None:
        self.server = server
        self._connection: _Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._tools: list[Tool] | None = None
        self._tools_stale = True
        self._retry_at = 0.0
        self._delay = server.reconnect_delay
        self._last_error: str | None = None

    # Timeouts --------------------------------------------------------------------------------------------
    @property
    def timeout(self) -> float:
        return float(self.server.params.timeout)

    @property
    def call_timeout(self) -> float:
        return float(self.server.params.call_timeout)

    # Connection ------------------------------------------------------------------------------------------
    def _bind_loop(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if loop is not self._loop or self._lock is None:
            if self._connection is not None:
                self._connection.close_from_other_loop()
                self._connection = None
            self._loop = loop
            self._lock = asyncio.Lock()
        return self._lock

    def _on_message(self, message: Any) -> None:
        method = getattr(getattr(message, "root", message), "method", None)
        if method == "notifications/tools/list_changed":
            self._tools_stale = True

    async def _handle_message(self, message: Any) -> None:
        self._on_message(message)

    async def _own(self, ready: asyncio.Future[Client], stop: asyncio.Event) -> None:
        """The owner task: enter the transport and the client, publish the client, hold until ``stop``."""
        try:
            client = Client(
                open_transport(self.server.params),
                cache=None,
                read_timeout_seconds=self.timeout,
                message_handler=self._handle_message,
                client_info=mcp_types.Implementation(name="azurefunctions-agents", version=__version__),
            )
            async with client:
                if not ready.done():
                    ready.set_result(client)
                await stop.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.set_exception(TimeoutError())
            raise
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else ConnectionError(str(exc)))
            else:
                logger.debug("MCP server %r connection ended: %s", self.server.name, describe_error(exc))

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Client] = loop.create_future()
        stop = asyncio.Event()
        owner = asyncio.create_task(self._own(ready, stop), name=f"mcp-connection:{self.server.name}")
        try:
            client = await asyncio.wait_for(asyncio.shield(ready), self.timeout)
        except BaseException:
            owner.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(owner, _CLOSE_TIMEOUT)
            if ready.done() and not ready.cancelled():
                ready.exception()  # retrieved, so asyncio does not report it as never retrieved
            raise
        return _Connection(client, owner, stop, loop)

    async def _connected(self) -> _Connection:
        """The live connection, opening one if needed (unless in the back-off window after a failure)."""
        lock = self._bind_loop()
        connection = self._connection
        if connection is not None and connection.alive:
            return connection
        async with lock:
            connection = self._connection
            if connection is not None and connection.alive:
                return connection
            self._connection = None
            now = time.monotonic()
            if now < self._retry_at:
                raise MCPUnavailableError(self._unavailable_message(self._retry_at - now))
            try:
                connection = await self._open()
            except Exception as exc:
                self._last_error = describe_error(exc)
                self._retry_at = time.monotonic() + self._delay
                logger.warning("MCP server %r cannot be reached (%s); next attempt in %.0f s",
                               self.server.name, self._last_error, self._delay)
                self._delay = min(self._delay * 2, self.server.max_reconnect_delay)
                raise MCPUnavailableError(self._unavailable_message(None)) from exc
            self._connection = connection
            self._delay = self.server.reconnect_delay
            self._retry_at = 0.0
            if self._last_error is not None:
                logger.info("MCP server %r is reachable again", self.server.name)
            self._last_error = None
            logger.debug("MCP server %r connected (protocol %s)", self.server.name,
                         connection.client.protocol_version)
            return connection

    def _unavailable_message(self, retry_in: float | None) -> str:
        reason = f" ({self._last_error})" if self._last_error else ""
        when = f" The next connection attempt is in {retry_in:.0f} s." if retry_in is not None else ""
        return f"MCP server '{self.server.name}' is unavailable{reason}; its tools cannot be used now.{when}"

    async def _drop(self, connection: _Connection, reason: str) -> None:
        if self._connection is connection:
            self._connection = None
            self._last_error = reason
            logger.warning("MCP server %r connection lost (%s); it will be reopened on next use",
                           self.server.name, reason)
        await connection.close()

    @staticmethod
    async def _probe(client: Client) -> None:
        """A cheap request that fails when the connection is gone: ping where the protocol has it (up to
        2025-11-25), else a tool listing (2026-07-28 removed ping)."""
        if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await client.list_tools()
        else:
            await client.session.send_ping()

    async def _check(self, connection: _Connection, exc: BaseException) -> bool:
        """After a failed request: is the connection still usable? Drops it when not."""
        healthy = not _is_connection_loss(exc) and connection.alive
        if healthy:
            try:
                await asyncio.wait_for(self._probe(connection.client), min(self.timeout, _PING_TIMEOUT))
            except Exception:
                healthy = False
        if not healthy:
            await self._drop(connection, describe_error(exc))
        return healthy

    # Tools -----------------------------------------------------------------------------------------------
    def invalidate_tools_cache(self) -> None:
        self._tools_stale = True

    async def _fetch_tools(self, connection: _Connection) -> list[Tool]:
        tools: list[Tool] = []
        cursor: str | None = None
        async with asyncio.timeout(self.timeout):
            for _ in range(_MAX_PAGES):
                page = await connection.client.list_tools(cursor=cursor)
                for tool in page.tools:
                    execution = getattr(tool, "execution", None)
                    if getattr(execution, "task_support", None) == "required":
                        # Such a tool only runs as a long-lived MCP task, which a turn cannot wait for.
                        logger.debug("MCP tool %r of %r needs task mode; not offered", tool.name,
                                     self.server.name)
                        continue
                    tools.append(MCPTool(self.server, tool.name, tool.description, tool.input_schema,
                                         title=getattr(tool, "title", None),
                                         annotations=getattr(tool, "annotations", None)))
                cursor = page.next_cursor
                if not cursor:
                    break
        return tools

    async def list_tools(self) -> list[Tool]:
        if self.server.cache_tools_list and self._tools is not None and not self._tools_stale:
            return list(self._tools)
        for attempt in range(2):
            try:
                connection = await self._connected()
            except MCPUnavailableError as exc:
                return self._fallback_tools(str(exc))
            try:
                tools = await self._fetch_tools(connection)
            except Exception as exc:
                if await self._check(connection, exc) or attempt == 1:
                    return self._fallback_tools(
                        f"MCP server '{self.server.name}' could not list its tools ({describe_error(exc)})")
                continue
            self._tools = tools
            self._tools_stale = False
            return list(tools)
        return self._fallback_tools(f"MCP server '{self.server.name}' could not list its tools")

    def known_tools(self) -> list[Tool] | None:
        """The tools of the last successful listing, ``None`` before one (for the agent's info route)."""
        return list(self._tools) if self._tools is not None else None

    def _fallback_tools(self, problem: str) -> list[Tool]:
        if self._tools is None:
            logger.warning("%s; the agent runs without its tools this turn", problem)
            return []
        logger.warning("%s; offering its last known tools", problem)
        return list(self._tools)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutput:
        try:
            connection = await self._connected()
        except MCPUnavailableError as exc:
            return ToolOutput(content=str(exc), is_error=True)
        timeout = self.call_timeout
        try:
            async with asyncio.timeout(timeout + 1.0):
                result = await connection.client.call_tool(name, arguments, read_timeout_seconds=timeout)
        except Exception as exc:
            problem = describe_error(exc)
            timed_out = isinstance(exc, MCPError) and "timed out" in str(exc).lower()
            if isinstance(exc, TimeoutError) or timed_out:
                return ToolOutput(
                    content=f"MCP server '{self.server.name}' did not answer the call to '{name}' within "
                            f"{timeout:g} s.", is_error=True)
            if await self._check(connection, exc):
                return ToolOutput(content=f"MCP server '{self.server.name}' rejected the call to '{name}': "
                                          f"{problem}", is_error=True)
            return ToolOutput(
                content=f"MCP server '{self.server.name}' lost its connection during the call to '{name}' "
                        f"({problem}); the call may not have completed. It reconnects on the next use.",
                is_error=True)
        return to_tool_output(result)

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is connection.loop:
            await connection.close()
        else:
            connection.close_from_other_loop()
