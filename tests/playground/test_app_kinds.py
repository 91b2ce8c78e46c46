"""The playground with other kinds of app: an A2A-mode app (samples/a2a) and an agent whose tools come from an
MCP server (samples/mcp-integration, its stdio server started for real, behind a local weather-API stand-in)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.servers.base import LocalServer
from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
WEATHER_KEY = "playground-weather-key"


def ask(page: Any, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


@pytest.fixture(scope="module")
def a2a_host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLES / "a2a", env=app_env(tmp_path_factory.mktemp("a2a"), model)) as host:
        yield host


async def current_weather(request: Request) -> JSONResponse:
    if request.query_params.get("appid") != WEATHER_KEY:
        return JSONResponse({"cod": 401, "message": "Invalid API key."}, 401)
    return JSONResponse({"name": request.query_params.get("q", ""), "weather": [{"description": "light rain"}],
                         "main": {"temp": 11.5, "humidity": 87}})


@pytest.fixture(scope="module")
def mcp_host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalServer(Starlette(routes=[Route("/data/2.5/weather", current_weather)])) as weather_api:
        env = {**app_env(tmp_path_factory.mktemp("mcp"), model), "OPENWEATHER_API_KEY": WEATHER_KEY,
               "OPENWEATHER_BASE_URL": weather_api.url}
        with LocalHostProcess(SAMPLES / "mcp-integration", env=env) as host:
            yield host


def test_a2a_mode_app(a2a_host: LocalHostProcess, script: Script, page: Any) -> None:
    script.add(Reply(tool_calls=[ScriptedToolCall("kilometres_to_miles", {"kilometres": 42.195})]),
               Reply(text="A marathon is about 26.2 miles."))
    page.goto(f"{a2a_host.url}/playground")
    page.locator("#app-status", has_text="mode a2a").wait_for()
    assert page.locator("#agent option").all_inner_texts() == ["UnitConverter", "Glossary"]
    ask(page, "How many miles is a marathon?")
    page.locator(".bubble.agent[data-agent=UnitConverter] .text", has_text="26.2 miles").wait_for()
    assert "26.2" in page.locator(".tool-card[data-tool=kilometres_to_miles] .tool-result").inner_text()


def test_mcp_tools_show_as_tool_calls(mcp_host: LocalHostProcess, script: Script, page: Any) -> None:
    script.add(Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Oslo"})]),
               Reply(text="Light rain in Oslo, 11.5 °C."))
    page.goto(f"{mcp_host.url}/playground")
    page.get_by_text("MCP servers: weather").wait_for()
    ask(page, "Weather in Oslo?")
    page.locator(".bubble.agent .text", has_text="Light rain in Oslo").wait_for()
    card = page.locator(".tool-card[data-tool=get_weather]")
    assert card.locator(".tool-state").inner_text() == "done"
    assert "light rain" in card.locator(".tool-result").inner_text().lower()
