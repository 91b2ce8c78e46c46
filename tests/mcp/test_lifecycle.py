"""Connection life cycle: lazy opening, drops and restarts, unreachable servers, timeouts, closing."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

import pytest
from tests.servers.base import free_port
from tests.servers.mcp_peers import (
    EverythingServer,
    child_pids,
    everything_stdio_command,
    process_cmdline,
    time_server_command,
)

from azurefunctions.agents import (
    MCPServer,
    MCPServerMode,
    MCPServerSseParams,
    MCPServerStdioParams,
    MCPServerStreamableHttpParams,
)

from .conftest import NESTED_SERVER, nested_server, requires_node

pytestmark = pytest.mark.timeout(90)


def everything_children() -> list[int]:
    return [pid for pid in child_pids() if "server-everything" in process_cmdline(pid)]


async def wait_until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_time_server_bad_timezone_is_a_tool_error() -> None:
    server = MCPServer("time", MCPServerMode.STDIO,
                       MCPServerStdioParams(command=time_server_command(), args=["--local-timezone", "UTC"]))
    try:
        tools = {t.name: t for t in await server.list_tools()}
        assert set(tools) == {"get_current_time", "convert_time"}
        assert tools["convert_time"].parameters["required"] == ["source_timezone", "time", "target_timezone"]
        bad = await server.call_tool("get_current_time", {"timezone": "Mars/Olympus_Mons"})
        assert bad.is_error
        assert "Invalid timezone" in bad.content
        good = await server.call_tool("get_current_time", {"timezone": "Europe/Paris"})
        assert not good.is_error and good.structured["timezone"] == "Europe/Paris"
    finally:
        await server.aclose()


async def test_nested_schemas_are_kept_intact() -> None:
    server = nested_server()
    try:
        tools = {t.name: t for t in await server.list_tools()}
        schema = tools["order_weight"].parameters
        defs = schema["$defs"]
        assert defs["Unit"]["enum"] == ["kg", "lb"]
        quantity = defs["Item"]["properties"]["quantity"]
        assert quantity == {"minimum": 1, "title": "Quantity", "type": "integer"}
        assert defs["Order"]["properties"]["items"] == {"items": {"$ref": "#/$defs/Item"}, "title": "Items",
                                                        "type": "array"}
        assert defs["Order"]["properties"]["priority"]["enum"] == ["low", "normal", "high"]
        order = {"customer": "Ann", "address": {"city": "Oslo"}, "priority": "high",
                 "items": [{"sku": "a", "quantity": 2, "weight": 1.5, "unit": "kg"},
                           {"sku": "b", "quantity": 1, "weight": 2.0, "unit": "lb"}]}
        out = await tools["order_weight"].invoke({"order": order}, None)  # type: ignore[arg-type]
        assert out.content == "Ann in Oslo: 3.91 kg (high)"
        invalid = await tools["order_weight"].invoke({"order": {"customer": "Ann"}}, None)  # type: ignore[arg-type]
        assert invalid.is_error
    finally:
        await server.aclose()


async def test_tool_list_refreshed_per_turn_unless_cached() -> None:
    fresh, cached = nested_server("fresh"), nested_server("cached", cache_tools_list=True)
    try:
        for server in (fresh, cached):
            assert "extra" not in {t.name for t in await server.list_tools()}
            assert (await server.call_tool("register_extra", {})).content == "added"
        assert "extra" in {t.name for t in await fresh.list_tools()}
        assert "extra" not in {t.name for t in await cached.list_tools()}
        cached.invalidate_tools_cache()
        assert "extra" in {t.name for t in await cached.list_tools()}
    finally:
        await fresh.aclose()
        await cached.aclose()


async def test_slow_tool_call_is_bounded_by_call_timeout() -> None:
    call_timeout, tool_seconds = 0.5, 60.0
    server = nested_server(call_timeout=call_timeout)
    try:
        await server.list_tools()  # opens the connection: starting the server is not part of the call
        started = time.monotonic()
        out = await server.call_tool("slow", {"seconds": tool_seconds})
        elapsed = time.monotonic() - started
        assert out.is_error
        assert out.content == "MCP server 'nested' did not answer the call to 'slow' within 0.5 s."
        # The call ended at its timeout, not when the tool would have: the margin above the timeout is for a
        # loaded machine, and still far below the tool's own minute.
        assert call_timeout <= elapsed < call_timeout + 20 < tool_seconds
        # The connection survives a slow tool: the next call works.
        assert (await server.call_tool("slow", {"seconds": 0})).content == "waited 0.0 s"
    finally:
        await server.aclose()


@pytest.mark.parametrize("mode", [MCPServerMode.SSE, MCPServerMode.STREAMABLE_HTTP])
async def test_unreachable_server_fails_fast_and_backs_off(mode: MCPServerMode,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}/" + ("sse" if mode is MCPServerMode.SSE else "mcp")
    params = (MCPServerSseParams(url=url) if mode is MCPServerMode.SSE
              else MCPServerStreamableHttpParams(url=url))
    server = MCPServer("down", mode, params, reconnect_delay=30)
    caplog.set_level(logging.WARNING, logger="azurefunctions.agents.mcp")
    try:
        started = time.monotonic()
        assert await server.list_tools() == []
        out = await server.call_tool("echo", {"message": "x"})
        assert out.is_error
        assert out.content.startswith("MCP server 'down' is unavailable")
        assert "next connection attempt is in" in out.content
        assert time.monotonic() - started < 5
        # Within the back-off window nothing is attempted: one warning for the one failed attempt.
        attempts = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
        assert len(attempts) == 1
    finally:
        await server.aclose()


@requires_node
@pytest.mark.parametrize("mode", ["sse", "streamableHttp"])
async def test_http_server_killed_between_requests_then_restarted(mode: str) -> None:
    peer = EverythingServer(mode).start()
    if mode == "sse":
        server = MCPServer("ev", MCPServerMode.SSE, MCPServerSseParams(url=peer.url), reconnect_delay=0.3)
    else:
        server = MCPServer("ev", MCPServerMode.STREAMABLE_HTTP, MCPServerStreamableHttpParams(url=peer.url),
                           reconnect_delay=0.3)
    try:
        tools = {t.name: t for t in await server.list_tools()}
        assert (await tools["echo"].invoke({"message": "one"}, None)).content == "Echo: one"  # type: ignore[arg-type]

        peer.stop()
        # Next request: the tools are still offered (last known list) and fail with a clear error.
        tools = {t.name: t for t in await server.list_tools()}
        assert "echo" in tools
        started = time.monotonic()
        failed = await tools["echo"].invoke({"message": "two"}, None)  # type: ignore[arg-type]
        assert failed.is_error and "'ev'" in failed.content
        assert time.monotonic() - started < 5

        peer.start()
        await asyncio.sleep(0.4)  # past the back-off window
        tools = {t.name: t for t in await server.list_tools()}
        assert (await tools["echo"].invoke({"message": "three"}, None)).content == "Echo: three"  # type: ignore[arg-type]
    finally:
        await server.aclose()
        peer.stop()


@requires_node
async def test_http_server_restarted_behind_an_open_session(request: pytest.FixtureRequest) -> None:
    """A restarted streamable HTTP server forgets the session: the client notices and opens a new one."""
    peer = EverythingServer("streamableHttp").start()
    server = MCPServer("ev", "streamable_http", MCPServerStreamableHttpParams(session_url=peer.url),
                       cache_tools_list=True)
    try:
        assert (await server.call_tool("echo", {"message": "a"})).content == "Echo: a"
        peer.stop()
        peer.start()
        lost = await server.call_tool("echo", {"message": "b"})
        assert lost.is_error and "lost its connection" in lost.content
        assert (await server.call_tool("echo", {"message": "c"})).content == "Echo: c"
    finally:
        await server.aclose()
        peer.stop()


@requires_node
async def test_stdio_server_killed_is_respawned_and_closed_at_shutdown() -> None:
    command, args = everything_stdio_command()
    server = MCPServer("ev", MCPServerMode.STDIO, MCPServerStdioParams(command=command, args=args),
                       cache_tools_list=True)
    try:
        assert "echo" in {t.name for t in await server.list_tools()}
        [pid] = everything_children()
        os.kill(pid, signal.SIGKILL)
        await wait_until(lambda: pid not in everything_children())
        lost = await server.call_tool("echo", {"message": "x"})
        assert lost.is_error and "lost its connection" in lost.content
        assert (await server.call_tool("echo", {"message": "y"})).content == "Echo: y"
        [respawned] = everything_children()
        assert respawned != pid
    finally:
        await server.aclose()
    await wait_until(lambda: everything_children() == [])


def test_server_usable_from_successive_event_loops() -> None:
    """``asyncio.run`` twice (a script, a test): each loop gets its own connection."""
    server = nested_server()

    async def turn() -> str:
        return (await server.call_tool("slow", {"seconds": 0})).content

    try:
        assert asyncio.run(turn()) == "waited 0.0 s"
        assert asyncio.run(turn()) == "waited 0.0 s"
    finally:
        asyncio.run(server.aclose())


async def test_stdio_command_that_does_not_exist() -> None:
    server = MCPServer("ghost", MCPServerMode.STDIO,
                       MCPServerStdioParams(command=str(NESTED_SERVER.with_name("no-such-server"))))
    assert await server.list_tools() == []
    out = await server.call_tool("anything", {})
    assert out.is_error and "MCP server 'ghost' is unavailable" in out.content
