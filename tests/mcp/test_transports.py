"""server-everything's tools over stdio, SSE and streamable HTTP, through the agent ``Tool`` interface."""

from __future__ import annotations

import json

import pytest

from azurefunctions.agents.tools.base import Tool, ToolContext

from .conftest import everything_server, requires_node

pytestmark = [requires_node, pytest.mark.timeout(60)]

TRANSPORTS = ["stdio", "sse", "streamable_http"]
CTX = ToolContext(agent_name="tester")


def by_name(tools: list[Tool]) -> dict[str, Tool]:
    return {tool.name: tool for tool in tools}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tools_listed_with_schemas_and_called(transport: str, request: pytest.FixtureRequest) -> None:
    server = everything_server(transport, request)
    try:
        tools = by_name(await server.list_tools())
        assert {"echo", "get-sum", "get-structured-content", "get-tiny-image"} <= set(tools)
        # A tool that only runs as a long-lived MCP task is not offered to the model.
        assert "simulate-research-query" not in tools

        echo = tools["echo"]
        assert echo.description == "Echoes back the input string"
        assert echo.parameters["type"] == "object"
        message = echo.parameters["properties"]["message"]
        assert message == {"type": "string", "description": "Message to echo"}
        assert echo.parameters["required"] == ["message"]
        assert tools["get-structured-content"].parameters["properties"]["location"]["enum"] == [
            "New York", "Chicago", "Los Angeles"]
        assert tools["get-sum"].spec().parameters["required"] == ["a", "b"]

        out = await echo.invoke({"message": "hi"}, CTX)
        assert (out.content, out.is_error) == ("Echo: hi", False)
        out = await tools["get-sum"].invoke({"a": 19, "b": 23}, CTX)
        assert "42" in out.content and not out.is_error
    finally:
        await server.aclose()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_errors_images_resources_and_structured_content(transport: str,
                                                              request: pytest.FixtureRequest) -> None:
    server = everything_server(transport, request)
    try:
        tools = by_name(await server.list_tools())
        missing = await server.call_tool("no-such-tool", {})
        assert missing.is_error and "no-such-tool" in missing.content

        image = await tools["get-tiny-image"].invoke({}, CTX)
        assert not image.is_error
        assert "[image: image/png, " in image.content and " bytes]" in image.content
        assert "iVBOR" not in image.content  # the base64 payload is described, not pasted

        links = await tools["get-resource-links"].invoke({"count": 2}, CTX)
        link = "[resource link: Blob Resource 1 <demo://resource/dynamic/blob/1> (text/plain)]"
        assert link in links.content

        reference = tools["get-resource-reference"]
        text_ref = await reference.invoke({"resourceType": "Text", "resourceId": 1}, CTX)
        assert "[resource demo://resource/dynamic/text/1 (text/plain)]\nResource 1:" in text_ref.content
        blob_ref = await reference.invoke({"resourceType": "Blob", "resourceId": 2}, CTX)
        assert "[binary resource demo://resource/dynamic/blob/2: text/plain, " in blob_ref.content

        weather = await tools["get-structured-content"].invoke({"location": "Chicago"}, CTX)
        assert set(weather.structured) == {"temperature", "conditions", "humidity"}
        assert json.loads(weather.content) == weather.structured
    finally:
        await server.aclose()


async def test_connection_is_reused_across_turns(request: pytest.FixtureRequest) -> None:
    server = everything_server("streamable_http", request)
    try:
        await server.list_tools()
        first = server.client._connection
        await server.list_tools()
        await server.call_tool("echo", {"message": "again"})
        assert first is not None and server.client._connection is first
    finally:
        await server.aclose()
    assert server.client._connection is None
