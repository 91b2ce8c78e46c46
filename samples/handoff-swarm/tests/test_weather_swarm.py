"""The weather advisory swarm served by the local host, with a scripted model behind the real openai SDK.

Each agent gets its own scripted replies (keyed by its instructions); the tools run for real on the sample's
climate table, so the answers and the handoff flow the client sees come from the app.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[1]
WEATHER, CONVERTER, ADVICE = "You are the weather", "You are the temperature", "You are the travel advice"


def call(name: str, **arguments: Any) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall(name, arguments)])


@pytest.fixture(scope="module")
def swarm(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLE, env=app_env(tmp_path_factory.mktemp("swarm"), model)) as host:
        yield host



def post(host: LocalHostProcess, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{host.url}{path}", json=body, timeout=30)


def test_listing_and_health(swarm: LocalHostProcess) -> None:
    assert httpx.get(f"{swarm.url}/api/health", timeout=10).json()["status"] == "healthy"
    listed = httpx.get(f"{swarm.url}/api/agents", timeout=10).json()["agents"]
    assert [a["name"] for a in listed] == ["weather", "temperature_converter", "advice"]
    info = httpx.get(f"{swarm.url}/api/agents/weather/info", timeout=10).json()
    assert "get_weather_outlook" in {t["name"] for t in info["tools"]}


def test_demo_route_shows_weather_to_converter_to_advice(swarm: LocalHostProcess, script: Script) -> None:
    script.add_for(WEATHER, call("get_weather_outlook", city="Tokyo", month="May"),
                   call("transfer_to_temperature_converter", reason="wants Fahrenheit"))
    script.add_for(CONVERTER, call("convert_temperature", value=23, from_unit="C", to_unit="F"),
                   call("transfer_to_advice", reason="wants packing advice"))
    script.add_for(ADVICE, call("packing_advice", high_c=23, low_c=15, rain_days=11))
    reply = post(swarm, "/api/weather-swarm",
                 {"message": "Weather in Tokyo in May, in Fahrenheit, and what should I pack?", "session_id": "s-1"})
    assert reply.status_code == 200, reply.text
    flow = reply.json()
    answer = ("Here is what I found: Pack: t-shirts, a light jacket for the evening, a waterproof jacket, a compact "
              "umbrella, water-resistant shoes. Plans: keep indoor options (museums, markets, food halls) for rainy "
              "spells.")
    assert flow["answer"] == answer
    assert flow["entry_agent"] == "weather" and flow["final_agent"] == "advice"
    assert flow["handoff_path"] == ["weather", "temperature_converter", "advice"]
    assert flow["handoffs"] == [{"from": "weather", "to": "temperature_converter", "reason": "wants Fahrenheit"},
                                {"from": "temperature_converter", "to": "advice", "reason": "wants packing advice"}]
    assert flow["contributions"] == [{"agent": "advice", "response": answer}]
    assert flow["handoff_stopped"] is None and flow["session_id"] == "s-1"
    results = {c["name"]: (c["agent"], c["result"]) for c in flow["tool_calls"]}
    assert results["get_weather_outlook"] == ("weather", "Tokyo in May (typical, not a forecast): highs around "
                                              "23°C, lows around 15°C, 138 mm of rain over about 11 days.")
    assert results["convert_temperature"] == ("temperature_converter", "23°C = 73.4°F")
    # The advice agent answered with the whole conversation in view, the earlier agents' tool results included.
    advice_request = next(r for r in script.requests if r["messages"][0]["content"].startswith(ADVICE))
    assert any(m.get("content") == "23°C = 73.4°F" for m in advice_request["messages"])


def test_loop_detection_stops_a_ping_pong(swarm: LocalHostProcess, script: Script) -> None:
    script.add_for(WEATHER, call("transfer_to_temperature_converter"), call("transfer_to_temperature_converter"),
                   Reply(text="I will answer myself: Paris in March is mild, around 13°C by day."))
    script.add_for(CONVERTER, call("transfer_to_weather"))
    flow = post(swarm, "/api/weather-swarm", {"message": "Paris in March?"}).json()
    assert flow["handoff_path"] == ["weather", "temperature_converter", "weather"]
    assert flow["handoff_stopped"] == "cycle detected: weather -> temperature_converter again"
    assert flow["answer"] == "I will answer myself: Paris in March is mild, around 13°C by day."
    refused = [c for c in flow["tool_calls"] if c["is_error"]]
    assert refused[0]["result"].startswith("Handoff refused: cycle detected")


def test_chat_route_of_the_entry_agent(swarm: LocalHostProcess, script: Script) -> None:
    script.add_for(WEATHER, call("get_weather_outlook", city="Seattle", month="July"),
                   call("transfer_to_temperature_converter"))
    script.add_for(CONVERTER, call("convert_temperature", value=26, to_unit="kelvin"),
                   Reply(text="Seattle in July: about 26°C, which is 299.15 K."))
    reply = post(swarm, "/api/agents/weather/chat", {"message": "Seattle in July, in Kelvin?"})
    body = reply.json()
    assert reply.status_code == 200, body
    assert body["response"] == "Seattle in July: about 26°C, which is 299.15 K."
    assert body["agent"] == "temperature_converter"
    assert body["handoff_path"] == ["weather", "temperature_converter"]
    assert body["contributions"] == [{"agent": "temperature_converter", "response": body["response"]}]
    assert [c["result"] for c in body["tool_calls"] if c["name"] == "convert_temperature"] == ["26°C = 299.15K"]


@pytest.mark.parametrize(("body", "code", "message"), [
    (b"{not json", "invalid_json", "The body must be JSON"),
    (b"[1, 2]", "invalid_request", "The body must be a JSON object"),
    (b"{}", "invalid_request", "message is required"),
    (b'{"message": 42}', "invalid_request", "message must be a string"),
    (b'{"message": "hi", "session_id": "../../etc"}', "invalid_request", "session_id"),
])
def test_bad_input_gets_the_error_envelope(swarm: LocalHostProcess, body: bytes, code: str, message: str) -> None:
    reply = httpx.post(f"{swarm.url}/api/weather-swarm", content=body, timeout=10,
                       headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == code and message in error["message"]


def test_without_a_model_key_the_demo_still_runs(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    month = datetime.now(UTC).strftime("%B")
    with LocalHostProcess(SAMPLE, env=env) as host:
        flow = post(host, "/api/weather-swarm", {"message": "What is the weather in Tokyo?"}).json()
    assert flow["answer"].startswith(f"[offline model] get_weather_outlook returned: Tokyo in {month} (typical")
    assert flow["handoff_path"] == ["weather"]
    assert flow["contributions"] == [{"agent": "weather", "response": flow["answer"]}]


def load_tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location("handoff_swarm_weather_tools", SAMPLE / "weather_tools.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tools() -> None:
    tools = load_tools()
    assert tools.convert_temperature(-40, "F", "C") == "-40°F = -40°C"
    assert tools.convert_temperature(0, "kelvin", "celsius") == "0K = -273.15°C"
    with pytest.raises(tools.ToolError, match="below absolute zero"):
        tools.convert_temperature(-300)
    with pytest.raises(tools.ToolError, match="Unknown unit 'rankine'"):
        tools.convert_temperature(1, "rankine")
    assert tools.month_name("sept") == "September" and tools.month_name("2") == "February"
    assert tools.get_weather_outlook("New York, USA in Sept").startswith("New York in September (typical")
    with pytest.raises(tools.ToolError, match="No climate data for 'Atlantis'"):
        tools.get_weather_outlook("Atlantis", "May")
    assert tools.packing_advice(30, 24, 2) == (
        "Pack: light breathable clothes, sun hat, sunscreen, a refillable water bottle. "
        "Plans: plan outdoor sightseeing for mornings and evenings; museums at midday.")
    assert "a winter coat" in tools.packing_advice(4, -3, 11)
