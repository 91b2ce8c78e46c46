"""Travel coordinator: one agent orchestrates flight, hotel, weather and restaurant specialists.

``HandoffMode.COORDINATOR`` gives ``travel_coordinator`` an ``ask_<specialist>`` tool per specialist. The model
asks the specialists it needs (several at once run concurrently), each answers with its own tools, and the
coordinator writes one consolidated plan. ``POST /api/travel-coordinator-demo`` takes a structured trip request,
runs it through the coordinator and returns the plan with every specialist's contribution.
"""

from typing import Any

from travel_tools import find_restaurants, get_weather_outlook, search_flights, search_hotels

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.handoff import HandoffConfig, HandoffMode, HandoffTarget
from azurefunctions.agents.hosting.app_routes import AppRequest
from azurefunctions.agents.hosting.handoff_report import BadRequest, read_object, run_flow
from azurefunctions.agents.types import LLMConfig

llm_config = LLMConfig.from_env(model_name="gpt-4o-mini")
SPECIALISTS = ("flight_agent", "hotel_agent", "weather_agent", "restaurant_agent")

coordinator = Agent(
    name="travel_coordinator",
    instructions=(
        "You are the travel coordinator. Break the traveller's request into tasks for your specialists and ask "
        "them (ask several at once when the tasks are independent): flight_agent for flights, hotel_agent for "
        "hotels, weather_agent for typical weather, restaurant_agent for where to eat. Give each specialist all "
        "the details it needs. Then write one consolidated plan from their answers; do not invent options they "
        "did not give."
    ),
    description="Plans complete trips by coordinating flight, hotel, weather and restaurant specialists.",
    llm_config=llm_config,
    handoff_config=HandoffConfig(
        mode=HandoffMode.COORDINATOR,
        max_hops=8,
        targets=[
            HandoffTarget(agent_name="flight_agent", description="flights between cities, cheapest first"),
            HandoffTarget(agent_name="hotel_agent", description="hotels in a city with the stay's total price"),
            HandoffTarget(agent_name="weather_agent", description="typical weather for a city and month"),
            HandoffTarget(agent_name="restaurant_agent",
                          description="restaurants by cuisine, dietary needs and price level"),
        ],
    ),
)

flight_agent = Agent(
    name="flight_agent",
    instructions="You are the flight specialist. Find flights with search_flights and quote the results exactly.",
    description="Searches flights between cities.",
    tools=[search_flights],
    llm_config=llm_config,
)
hotel_agent = Agent(
    name="hotel_agent",
    instructions="You are the hotel specialist. Find hotels with search_hotels and quote the results exactly.",
    description="Recommends hotels with the total price of the stay.",
    tools=[search_hotels],
    llm_config=llm_config,
)
weather_agent = Agent(
    name="weather_agent",
    instructions=("You are the weather specialist. Report typical weather with get_weather_outlook; say that it "
                  "is an average, not a forecast."),
    description="Typical weather for a city and month.",
    tools=[get_weather_outlook],
    llm_config=llm_config,
)
restaurant_agent = Agent(
    name="restaurant_agent",
    instructions=("You are the restaurant specialist. Suggest places with find_restaurants, respecting dietary "
                  "needs and budget."),
    description="Suggests restaurants by cuisine, dietary needs and price.",
    tools=[find_restaurants],
    llm_config=llm_config,
)

app = AgentFunctionApp(agents=[coordinator, flight_agent, hotel_agent, weather_agent, restaurant_agent])


def trip_request(body: dict[str, Any]) -> str:
    """The coordinator's message for a structured trip request; ``BadRequest`` names a field that is wrong."""

    def text(field: str, required: bool = False) -> str | None:
        value = body.get(field)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise BadRequest("invalid_request", f"{field} must be a non-empty string")
        return value.strip()

    def number(field: str, low: int, high: int, default: int | None = None) -> int | None:
        value = body.get(field, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BadRequest("invalid_request", f"{field} must be a whole number from {low} to {high}")
        return value

    if "destination" not in body and "message" in body:
        return text("message", required=True) or ""
    destination = text("destination", required=True)
    origin, month, dietary = text("origin"), text("month"), text("dietary")
    nights, travellers = number("nights", 1, 30, default=4), number("travellers", 1, 9, default=1)
    budget = number("budget_usd", 1, 1_000_000)
    parts = [f"Plan a {nights}-night trip to {destination}" + (f" from {origin}" if origin else "")
             + (f" in {month}" if month else "") + f" for {travellers} traveller(s)."]
    if budget is not None:
        parts.append(f"Budget: ${budget}.")
    if dietary:
        parts.append(f"Dietary needs: {dietary}.")
    parts.append("Cover flights, hotels, the typical weather and restaurants.")
    return " ".join(parts)


@app.agent_route("api/travel-coordinator-demo", methods=["POST"])
async def travel_coordinator_demo(req: AppRequest) -> dict[str, Any]:
    """Plan a trip through the coordinator and show which specialists contributed what.

    Body: ``{"destination": "Tokyo", "origin": "Seattle", "month": "May", "nights": 4, "travellers": 2,
    "budget_usd": 4000, "dietary": "vegetarian", "session_id": "..."}`` (only ``destination`` is required), or
    ``{"message": "..."}`` for a request in your own words.
    """
    body = read_object(req)
    message = trip_request(body)
    request: dict[str, Any] = {"message": message, "user_id": req.user_id}
    request.update({key: body[key] for key in ("session_id",) if key in body})
    flow = await run_flow(app.runners["travel_coordinator"], request)
    consulted = [name for name in dict.fromkeys(flow["handoff_path"][1:]) if name in SPECIALISTS]
    return {"request": message, "specialists_consulted": consulted, **flow}
