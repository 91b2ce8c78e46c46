"""The travel coordinator served by the local host, with a scripted model behind the real openai SDK.

The coordinator's replies ask the specialists; each specialist's replies call its real tool over the sample
catalogue and climate table, so what the coordinator consolidates, and the client sees, is computed by the app.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[1]
COORDINATOR = "You are the travel coordinator"
SPECIALISTS = ["flight_agent", "hotel_agent", "weather_agent", "restaurant_agent"]

FLIGHTS = ("3 flight(s) Seattle to Tokyo, cheapest first:\n"
           "- NW75 Northwind Airlines: SEA 08:15 -> NRT 15:40+1, 1 stop, $689\n"
           "- CA101 Contoso Air: SEA 11:05 -> NRT 14:30+1, nonstop, $842\n"
           "- FA220 Fabrikam Airways: SEA 13:40 -> HND 16:55+1, nonstop, $918")
HOTELS = ("3 hotel(s) in Tokyo, best rated first (4 night(s)):\n"
          "- Asakusa Riverside Inn (Asakusa, 3*, rated 8.9): $112/night, $448 in total\n"
          "- Hotel Sakura Shinjuku (Shinjuku, 4*, rated 8.7): $185/night, $740 in total\n"
          "- Shibuya Capsule Stay (Shibuya, 2*, rated 8.1): $48/night, $192 in total")
WEATHER = ("Tokyo in May (typical, not a forecast): highs around 23°C, lows around 15°C, 138 mm of rain over about "
           "11 days.")
RESTAURANTS = ("2 restaurant(s) in Tokyo, best rated first:\n"
               "- Tofu-ya Shiba (Shiba): tofu kaiseki, $$$, rated 9.0; vegetarian, vegan\n"
               "- Izakaya Tanuki (Asakusa): izakaya, $$, rated 8.6; vegetarian")


def ask(*pairs: tuple[str, str]) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall(f"ask_{agent}", {"message": message}) for agent, message in pairs])


def call(name: str, **arguments: Any) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall(name, arguments)])


@pytest.fixture(scope="module")
def travel(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLE, env=app_env(tmp_path_factory.mktemp("coordinator"), model)) as host:
        yield host



def script_specialists(script: Script) -> None:
    """Each specialist calls its tool once; the scripted model's default then answers quoting the result."""
    script.add_for("You are the flight", call("search_flights", destination="Tokyo", origin="Seattle"))
    script.add_for("You are the hotel",
                   call("search_hotels", city="Tokyo", nights=4, max_price_per_night_usd=200))
    script.add_for("You are the weather", call("get_weather_outlook", city="Tokyo", month="May"))
    script.add_for("You are the restaurant", call("find_restaurants", city="Tokyo", dietary="vegetarian"))


def test_listing_and_health(travel: LocalHostProcess) -> None:
    assert httpx.get(f"{travel.url}/api/health", timeout=10).json()["status"] == "healthy"
    listed = httpx.get(f"{travel.url}/api/agents", timeout=10).json()["agents"]
    assert [a["name"] for a in listed] == ["travel_coordinator", *SPECIALISTS]
    info = httpx.get(f"{travel.url}/api/agents/restaurant_agent/info", timeout=10).json()
    assert [t["name"] for t in info["tools"]] == ["find_restaurants"]


def test_demo_consolidates_all_four_specialists(travel: LocalHostProcess, script: Script) -> None:
    script.add_for(COORDINATOR, ask(("flight_agent", "Flights Seattle to Tokyo"),
                                    ("hotel_agent", "Hotels in Tokyo, 4 nights, under $200"),
                                    ("weather_agent", "Tokyo weather in May"),
                                    ("restaurant_agent", "Vegetarian restaurants in Tokyo")),
                   Reply(text="Plan: fly NW75 ($689), stay at Asakusa Riverside Inn ($448), expect ~23°C "
                              "and rain, eat at Tofu-ya Shiba."))
    script_specialists(script)
    reply = httpx.post(f"{travel.url}/api/travel-coordinator-demo", timeout=30, json={
        "destination": "Tokyo", "origin": "Seattle", "month": "May", "nights": 4, "travellers": 2,
        "budget_usd": 4000, "dietary": "vegetarian"})
    assert reply.status_code == 200, reply.text
    flow = reply.json()
    assert flow["request"] == ("Plan a 4-night trip to Tokyo from Seattle in May for 2 traveller(s). Budget: $4000. "
                               "Dietary needs: vegetarian. Cover flights, hotels, the typical weather and restaurants.")
    assert flow["answer"] == ("Plan: fly NW75 ($689), stay at Asakusa Riverside Inn ($448), expect ~23°C and rain, "
                              "eat at Tofu-ya Shiba.")
    assert flow["final_agent"] == "travel_coordinator"
    assert flow["handoff_path"][0] == "travel_coordinator" and sorted(flow["handoff_path"][1:]) == sorted(SPECIALISTS)
    assert sorted(flow["specialists_consulted"]) == sorted(SPECIALISTS)
    assert {(h["from"], h["to"], h["reason"]) for h in flow["handoffs"]} == {
        ("travel_coordinator", name, "asked by travel_coordinator") for name in SPECIALISTS}
    contributions = {c["agent"]: c["response"] for c in flow["contributions"]}
    assert contributions == {
        "flight_agent": f"Here is what I found: {FLIGHTS}", "hotel_agent": f"Here is what I found: {HOTELS}",
        "weather_agent": f"Here is what I found: {WEATHER}",
        "restaurant_agent": f"Here is what I found: {RESTAURANTS}", "travel_coordinator": flow["answer"]}
    # The coordinator wrote its plan with every specialist's answer in front of it.
    final_request = [r for r in script.requests if r["messages"][0]["content"].startswith(COORDINATOR)][-1]
    seen = [m["content"] for m in final_request["messages"] if m["role"] == "tool"]
    assert sorted(seen) == sorted(f"Here is what I found: {text}" for text in (FLIGHTS, HOTELS, WEATHER, RESTAURANTS))
    specialist = next(r for r in script.requests if r["messages"][0]["content"].startswith("You are the hotel"))
    assert specialist["messages"][1] == {"role": "user", "content": "Hotels in Tokyo, 4 nights, under $200"}


def test_chat_route_of_the_coordinator(travel: LocalHostProcess, script: Script) -> None:
    script.add_for(COORDINATOR, ask(("flight_agent", "Flights Seattle to Tokyo"),
                                    ("hotel_agent", "Hotels in Tokyo for 4 nights")),
                   Reply(text="Fly NW75 and stay at Asakusa Riverside Inn."))
    script_specialists(script)
    reply = httpx.post(f"{travel.url}/api/agents/travel_coordinator/chat", timeout=30,
                       json={"message": "Plan a trip to Tokyo with flights and hotels"})
    body = reply.json()
    assert reply.status_code == 200, body
    assert body["agent"] == "travel_coordinator"
    assert body["response"] == "Fly NW75 and stay at Asakusa Riverside Inn."
    assert body["handoff_path"][0] == "travel_coordinator"
    assert sorted(body["handoff_path"][1:]) == ["flight_agent", "hotel_agent"]
    assert {c["name"]: c["result"] for c in body["tool_calls"] if c["name"].startswith("ask_")} == {
        "ask_flight_agent": f"Here is what I found: {FLIGHTS}", "ask_hotel_agent": f"Here is what I found: {HOTELS}"}
    assert body["conversation_id"] == body["session_id"]


@pytest.mark.parametrize(("body", "code", "message"), [
    (b"not json", "invalid_json", "The body must be JSON"),
    (b'"Tokyo"', "invalid_request", "The body must be a JSON object"),
    (b"{}", "invalid_request", "destination must be a non-empty string"),
    (b'{"destination": "Tokyo", "nights": 0}', "invalid_request", "nights must be a whole number from 1 to 30"),
    (b'{"destination": "Tokyo", "travellers": "two"}', "invalid_request", "travellers must be a whole number"),
    (b'{"destination": ["Tokyo"]}', "invalid_request", "destination must be a non-empty string"),
    (b'{"message": ""}', "invalid_request", "message must be a non-empty string"),
    (b'{"destination": "Tokyo", "session_id": 7}', "invalid_request", "session_id"),
])
def test_bad_input_gets_the_error_envelope(travel: LocalHostProcess, body: bytes, code: str, message: str) -> None:
    reply = httpx.post(f"{travel.url}/api/travel-coordinator-demo", content=body, timeout=10,
                       headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == code and message in error["message"]


def test_without_a_model_key_the_demo_still_runs(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    with LocalHostProcess(SAMPLE, env=env) as host:
        flow = httpx.post(f"{host.url}/api/travel-coordinator-demo", timeout=30,
                          json={"destination": "Tokyo", "origin": "Seattle", "month": "May"}).json()
    # The offline model asks the best-matching specialist, which runs its real tool.
    assert flow["handoff_path"] == ["travel_coordinator", "weather_agent"]
    assert flow["answer"] == f"[offline model] ask_weather_agent returned: [offline model] get_weather_outlook " \
                             f"returned: {WEATHER}"
    assert [c["agent"] for c in flow["contributions"]] == ["weather_agent", "travel_coordinator"]


def load_tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location("handoff_coordinator_travel_tools", SAMPLE / "travel_tools.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tools() -> None:
    tools = load_tools()
    assert tools.city_in("NYC") == "New York" and tools.city_in("Tokyo, Japan in May") == "Tokyo"
    assert tools.city_in("flights to LA") == "Los Angeles"
    with pytest.raises(tools.ToolError, match="No city in the catalogue matches 'Atlantis'"):
        tools.search_flights("Atlantis")
    assert tools.search_flights("Paris", origin="London") == (
        "1 flight(s) London to Paris, cheapest first:\n"
        "- NW401 Northwind Airlines: LHR 08:30 -> CDG 10:50, nonstop, $118")
    assert tools.find_restaurants("Paris", dietary="vegan", max_price_level=2) == (
        "1 restaurant(s) in Paris, best rated first:\n"
        "- Le Jardin Vert (Canal Saint-Martin): vegetarian, $$, rated 8.7; vegetarian, vegan")
    with pytest.raises(tools.ToolError, match="dietary must be vegetarian, vegan or gluten-free"):
        tools.find_restaurants("Paris", dietary="keto")
    assert tools.get_weather_outlook("London", "Sept.").startswith("London in September (typical")
