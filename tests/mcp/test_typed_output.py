"""A typed agent (``Agent(output_type=...)``) served as an MCP tool: its output schema in ``outputSchema`` and
its answer in ``structuredContent``, read by the official ``mcp`` client, which validates the one against the
other (``mcp/client/session.py``, ``ClientSession.validate_tool_result``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from mcp import Client
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.servers.base import LocalServer
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.mcp.endpoint import MCPEndpoint
from azurefunctions.agents.types import LLMConfig

pytestmark = pytest.mark.timeout(60)


class Address(BaseModel):
    city: str
    country: str


class Order(BaseModel):
    code: str
    ship_to: Address


ORDER = {"code": "A1", "ship_to": {"city": "Oslo", "country": "NO"}}


@pytest.fixture
def endpoint_url(openai: OpenAIServer) -> Iterator[str]:
    config = LLMConfig(provider="openai", api_key=openai.api_key, base_url=openai.base_url)
    agent = Agent(name="Orders", output_type=Order, llm_config=config, enable_conversational_agent=False)
    endpoint = MCPEndpoint({"Orders": Runner(agent)})

    async def route(request: Request) -> Response:
        status, headers, body = await endpoint.handle(request.method, request.url.path, dict(request.headers),
                                                      await request.body())
        return Response(body, status_code=status, headers=headers)

    with LocalServer(Starlette(routes=[Route("/api/mcp", route, methods=["GET", "POST", "DELETE"])])) as server:
        yield f"{server.url}/api/mcp"


async def test_typed_agent_output_is_structured_content(endpoint_url: str, openai: OpenAIServer) -> None:
    openai.script.add(Reply(text=json.dumps(ORDER)))
    async with Client(endpoint_url, cache=None) as client:
        tool = (await client.list_tools()).tools[0]
        schema = tool.output_schema or {}
        assert schema["required"] == ["response", "output"]
        assert schema["properties"]["output"]["properties"]["ship_to"] == {"$ref": "#/$defs/Address"}
        assert "Address" in schema["$defs"]
        result = await client.call_tool("Orders", {"message": "Where does A1 go?"})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["output"] == ORDER
    assert json.loads(result.content[0].text) == ORDER
