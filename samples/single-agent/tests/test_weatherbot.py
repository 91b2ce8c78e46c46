"""WeatherBot served by the local host, its weather tool pointed at a local OpenWeatherMap stand-in."""

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

SAMPLE = Path(__file__).resolve().parents[1]
KEY = "weather-test-key"


async def current_weather(request: Request) -> JSONResponse:
    """The OpenWeatherMap /data/2.5/weather answer shape."""
    if request.query_params.get("appid") != KEY:
        return JSONResponse({"cod": 401, "message": "Invalid API key."}, 401)
    city = request.query_params.get("q", "")
    if city.lower() == "atlantis":
        return JSONResponse({"cod": "404", "message": "city not found"}, 404)
    return JSONResponse({"name": city, "weather": [{"description": "light rain"}],
                         "main": {"temp": 11.5, "feels_like": 10.2, "humidity": 87}, "wind": {"speed": 4.1}})


@pytest.fixture(scope="module")
def weather_api() -> Iterator[LocalServer]:
    with LocalServer(Starlette(routes=[Route("/data/2.5/weather", current_weather)])) as server:
        yield server


@pytest.fixture(scope="module")
def weatherbot(weather_api: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"OPENWEATHER_API_KEY": KEY, "OPENWEATHER_BASE_URL": weather_api.url,
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("wb") / "sessions.sqlite3")}
    with LocalHostProcess(SAMPLE, env=env) as host:
        yield host


def test_quick_start_routes(weatherbot: LocalHostProcess) -> None:
    assert httpx.get(f"{weatherbot.url}/api/health").json()["status"] == "healthy"
    assert [a["name"] for a in httpx.get(f"{weatherbot.url}/api/agents").json()["agents"]] == ["WeatherBot"]
    info = httpx.get(f"{weatherbot.url}/api/agents/WeatherBot/info")
    assert info.status_code == 200 and info.json()["tools"][0]["name"] == "get_weather"
    chat = httpx.post(f"{weatherbot.url}/api/agents/WeatherBot/chat",
                      json={"message": "What is the weather in Seattle?"}, timeout=30)
    body = chat.json()
    assert chat.status_code == 200
    assert body["tool_calls"][0]["arguments"] == {"city": "Seattle"}
    assert body["response"].startswith("[offline model] get_weather returned: Seattle: light rain, 11.5°C")


def test_weather_tool_reports_a_missing_key_and_unknown_cities(weather_api: LocalServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("sample_weather", SAMPLE / "weather.py")
    assert spec and spec.loader
    weather = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(weather)
    monkeypatch.delenv("OPENWEATHER_API_KEY", raising=False)
    assert "OPENWEATHER_API_KEY is not set" in weather.get_weather("Oslo")
    monkeypatch.setenv("OPENWEATHER_API_KEY", KEY)
    monkeypatch.setenv("OPENWEATHER_BASE_URL", weather_api.url)
    assert weather.get_weather("Atlantis") == "No weather found for 'Atlantis': check the city name."
    assert weather.get_weather("Oslo", units="imperial").startswith("Oslo: light rain, 11.5°F")
    monkeypatch.setenv("OPENWEATHER_API_KEY", "wrong")
    assert "refused OPENWEATHER_API_KEY" in weather.get_weather("Oslo")


def test_without_a_weather_key_the_bot_says_so(tmp_path: Path) -> None:
    env = {"OPENWEATHER_API_KEY": "", "AGENTS_SESSION_DB": str(tmp_path / "s.sqlite3")}
    with LocalHostProcess(SAMPLE, env=env) as host:
        body = httpx.post(f"{host.url}/api/agents/WeatherBot/chat",
                          json={"message": "What is the weather in Tokyo?"}, timeout=30).json()
    assert "OPENWEATHER_API_KEY is not set" in body["response"]
