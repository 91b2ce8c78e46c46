"""WeatherMCPAgent served by the local host: the scripted model calls the weather MCP server's tool, which
talks to a local OpenWeatherMap stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tests.servers.base import LocalServer
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[1]
KEY = "weather-test-key"

pytestmark = pytest.mark.timeout(120)


async def current_weather(request: Request) -> JSONResponse:
    if request.query_params.get("appid") != KEY:
        return JSONResponse({"cod": 401, "message": "Invalid API key."}, 401)
    city = request.query_params.get("q", "")
    if city.lower() == "atlantis":
        return JSONResponse({"cod": "404", "message": "city not found"}, 404)
    return JSONResponse({"name": city, "weather": [{"description": "light rain"}],
                         "main": {"temp": 11.5, "humidity": 87}})


@pytest.fixture(scope="module")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalServer(Starlette(routes=[Route("/data/2.5/weather", current_weather)])) as weather_api:
        env = {"OPENAI_API_KEY": "test-openai-key", "OPENAI_BASE_URL": model.base_url,
               "OPENWEATHER_API_KEY": KEY, "OPENWEATHER_BASE_URL": weather_api.url,
               "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("mcp") / "sessions.sqlite3")}
        with LocalHostProcess(SAMPLE, env=env) as process:
            yield process


def chat(host: LocalHostProcess, message: str) -> dict[str, object]:
    reply = httpx.post(f"{host.url}/api/agents/WeatherMCPAgent/chat", json={"message": message}, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def test_weather_from_the_mcp_server(host: LocalHostProcess, model: OpenAIServer) -> None:
    model.script.add(Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Oslo"})]))
    body = chat(host, "Weather in Oslo?")
    assert body["response"] == "Here is what I found: Oslo: light rain, 11.5°C, humidity 87%"
    offered = [t["function"]["name"] for t in model.script.requests[-2]["tools"]]
    assert offered == ["get_weather"]


def test_tool_error_reaches_the_model(host: LocalHostProcess, model: OpenAIServer) -> None:
    model.script.add(Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Atlantis"})]))
    body = chat(host, "Weather in Atlantis?")
    assert "No weather found for 'Atlantis'" in str(body["response"])
