"""The Function App's agents as MCP tools at /api/mcp, through the local host, with the official mcp client."""

from __future__ import annotations

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess
from tests.servers.scripted import Reply, Script, ScriptedToolCall

mcp = pytest.importorskip("mcp")


async def test_official_mcp_client_lists_and_calls_the_apps_agents(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "M7"})]))
    async with mcp.Client(f"{host.url}/api/mcp", cache=None) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == {"Orders", "Greeter"}
        assert tools["Orders"].description == "Tracks orders."
        result = await client.call_tool("Orders", {"message": "where is M7?"})
        assert not result.is_error
        assert result.content[0].text == "Here is what I found: order M7 shipped"
        assert result.structured_content["session_id"]


def test_mcp_route_answers_only_post(host: LocalHostProcess) -> None:
    response = httpx.get(f"{host.url}/api/mcp")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
