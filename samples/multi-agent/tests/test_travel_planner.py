"""The Travel Planner served by the local host, with a scripted model behind the real openai SDK.

Each agent gets its own scripted replies (keyed by its instructions); the tools run for real over the sample
catalogue, so the answers the client sees are computed, and the handoffs show in ``handoff_path``.
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
# Settings that would otherwise leak into the app from the developer's environment.


def call(name: str, **arguments: Any) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall(name, arguments)])


@pytest.fixture(scope="module")
def planner(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLE, env=app_env(tmp_path_factory.mktemp("planner"), model)) as host:
        yield host



def chat(host: LocalHostProcess, agent: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = httpx.post(f"{host.url}/api/agents/{agent}/chat", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def system_of(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"])


def test_listing_health_and_info(planner: LocalHostProcess) -> None:
    assert httpx.get(f"{planner.url}/api/health", timeout=10).json()["status"] == "healthy"
    listed = httpx.get(f"{planner.url}/api/agents", timeout=10).json()["agents"]
    assert [a["name"] for a in listed] == ["FlightAgent", "HotelAgent", "BudgetAgent"]
    info = httpx.get(f"{planner.url}/api/agents/BudgetAgent/info", timeout=10).json()
    assert {"plan_budget", "cheapest_trip"} <= {t["name"] for t in info["tools"]}


def test_flight_agent_hands_the_budget_question_to_budget_agent(planner: LocalHostProcess,
                                                                 script: Script) -> None:
    script.add_for("You are FlightAgent",
                   call("search_flights", origin="Seattle", destination="Tokyo"),
                   call("transfer_to_BudgetAgent", reason="The user asks whether the trip fits $2000"))
    script.add_for("You are BudgetAgent",
                   call("cheapest_trip", origin="Seattle", destination="Tokyo", nights=5, budget_usd=2000))
    body = chat(planner, "FlightAgent", {
        "message": "Flights from Seattle to Tokyo, and can I do 5 nights on $2000?", "session_id": "trip-1"})
    answer = ("Here is what I found: Cheapest: flight NW75 ($689) and Shibuya Capsule Stay ($48/night): total "
              "$1,379.00 for 1 traveller(s), 5 nights; it fits with $621.00 to spare.")
    assert body["response"] == answer
    assert body["agent"] == "BudgetAgent"
    assert body["handoff_path"] == ["FlightAgent", "BudgetAgent"]
    assert body["contributions"] == [{"agent": "BudgetAgent", "response": answer}]
    flights = next(c for c in body["tool_calls"] if c["name"] == "search_flights")
    assert flights["agent"] == "FlightAgent"
    assert flights["result"].splitlines()[:2] == [
        "3 flight(s) Seattle to Tokyo, cheapest first:",
        "- NW75 Northwind Airlines: SEA 08:15 -> NRT 15:40+1, 14h25m, 1 stop, $689"]
    # BudgetAgent saw the conversation so far, including FlightAgent's search.
    budget_request = next(r for r in script.requests if system_of(r).startswith("You are BudgetAgent"))
    assert any("NW75 Northwind Airlines" in str(m.get("content")) for m in budget_request["messages"])

    # The session is the app's: the next turn, to HotelAgent, continues the same conversation.
    script.add_for("You are HotelAgent", call("search_hotels", city="Tokyo", max_price_per_night_usd=120))
    follow_up = chat(planner, "HotelAgent", {"message": "Something nicer than a capsule?", "session_id": "trip-1"})
    assert follow_up["handoff_path"] == ["HotelAgent"] and "contributions" not in follow_up
    assert follow_up["response"] == ("Here is what I found: 2 hotel(s) in Tokyo, best rated first:\n"
                                     "- Asakusa Riverside Inn (Asakusa, 3*, rated 8.9): $112/night; wifi, laundry\n"
                                     "- Shibuya Capsule Stay (Shibuya, 2*, rated 8.1): $48/night; wifi")
    hotel_request = next(r for r in script.requests if system_of(r).startswith("You are HotelAgent"))
    assert any(m.get("content") == "Flights from Seattle to Tokyo, and can I do 5 nights on $2000?"
               for m in hotel_request["messages"])


def test_budget_agent_finds_the_trip_over_budget_and_asks_hotel_agent(planner: LocalHostProcess,
                                                                     script: Script) -> None:
    script.add_for("You are BudgetAgent",
                   call("plan_budget", total_budget_usd=1500, flight_price_usd=249,
                        hotel_price_per_night_usd=289, nights=3, travellers=2),
                   call("transfer_to_HotelAgent", reason="cheaper hotel needed"))
    script.add_for("You are HotelAgent", call("search_hotels", city="New York", max_price_per_night_usd=200),
                   Reply(text="Brooklyn Bridge Inn at $179/night brings you under budget."))
    body = chat(planner, "BudgetAgent", {"message": "2 of us, 3 nights in New York at Midtown Loft, flights $249 "
                                                    "each, budget $1500. Does it work?"})
    budget = body["tool_calls"][0]
    assert budget["name"] == "plan_budget" and budget["result"] == (
        "Flights $498.00 + hotel $867.00 (1 room(s) x 3 nights) + daily spending $600.00 = $1,965.00: "
        "$465.00 over budget (budget $1,500.00).")
    assert body["handoff_path"] == ["BudgetAgent", "HotelAgent"]
    assert body["response"] == "Brooklyn Bridge Inn at $179/night brings you under budget."
    assert body["contributions"] == [{"agent": "HotelAgent", "response": body["response"]}]
    hotels = next(c for c in body["tool_calls"] if c["name"] == "search_hotels")
    assert hotels["agent"] == "HotelAgent" and "Brooklyn Bridge Inn" in hotels["result"]


def test_an_unknown_city_goes_back_to_the_model_as_a_tool_error(planner: LocalHostProcess,
                                                                script: Script) -> None:
    script.add_for("You are FlightAgent", call("search_flights", destination="Atlantis"))
    body = chat(planner, "FlightAgent", {"message": "Flights to Atlantis?"})
    assert body["tool_calls"][0]["is_error"] is True
    assert body["response"].startswith("Here is what I found: No airport known for 'Atlantis'; the catalogue "
                                       "covers London, Los Angeles, New York, Paris, Seattle, Tokyo.")


def test_without_a_model_key_the_offline_model_runs_the_real_tools(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    with LocalHostProcess(SAMPLE, env=env) as host:
        body = chat(host, "FlightAgent", {"message": "Find flights from Seattle to Tokyo"})
    assert body["response"].startswith("[offline model] search_flights returned: 4 flight(s) to Tokyo, "
                                       "cheapest first:\n- NW75 Northwind Airlines")
    assert body["handoff_path"] == ["FlightAgent"]


def load_tools() -> ModuleType:
    spec = importlib.util.spec_from_file_location("multi_agent_travel_tools", SAMPLE / "travel_tools.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_budget_arithmetic_and_filters() -> None:
    tools = load_tools()
    assert tools.budget_breakdown(500, 100, 3, travellers=3, daily_spend_usd=50) == {
        "flights": 1500, "hotel": 600, "daily_spending": 600, "rooms": 2, "total": 2700}
    assert tools.plan_budget(3000, 500, 100, 3, travellers=3, daily_spend_usd=50).endswith(
        "$300.00 under budget (budget $3,000.00).")
    assert [f["flight"] for f in tools.find_flights("LAX", "NYC", nonstop_only=True)] == ["FA455", "CA310"]
    assert [h["name"] for h in tools.find_hotels("Paris", min_stars=4)] == ["Le Marais Boutique"]
    with pytest.raises(tools.ToolError, match="nights and travellers must be at least 1"):
        tools.budget_breakdown(100, 100, 0)
