"""Weather advisory swarm: ``weather``, ``temperature_converter`` and ``advice`` hand a conversation to each other.

Swarm handoffs (``HandoffMode.SWARM``) give each agent a ``transfer_to_<peer>`` tool; the model decides when a
peer is better suited, and that peer continues the conversation and answers the user. ``max_hops`` and cycle
detection stop a conversation from bouncing forever. ``POST /api/weather-swarm`` runs a turn from ``weather`` and
returns the whole flow: every hop with its reason, each agent's contribution and the final answer.
"""

from typing import Any

from weather_tools import convert_temperature, get_weather_outlook, packing_advice

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.handoff import HandoffConfig, HandoffMode, HandoffTarget
from azurefunctions.agents.hosting.app_routes import AppRequest
from azurefunctions.agents.hosting.handoff_report import BadRequest, read_object, run_flow
from azurefunctions.agents.types import LLMConfig

llm_config = LLMConfig.from_env(model_name="gpt-4o-mini")


def swarm(*peers: str) -> HandoffConfig:
    return HandoffConfig(mode=HandoffMode.SWARM, max_hops=4, targets=[HandoffTarget(agent_name=p) for p in peers])


weather_agent = Agent(
    name="weather",
    instructions=(
        "You are the weather agent. Give typical weather with get_weather_outlook (it reports averages in "
        "Celsius, not forecasts; say so). If the user wants other units, transfer to temperature_converter; if "
        "they ask what to pack or do, transfer to advice. Otherwise answer yourself."
    ),
    description="Typical weather for a city and month (Celsius averages).",
    tools=[get_weather_outlook],
    llm_config=llm_config,
    handoff_config=swarm("temperature_converter", "advice"),
)

converter_agent = Agent(
    name="temperature_converter",
    instructions=(
        "You are the temperature converter. Convert the temperatures in the conversation with "
        "convert_temperature, never in your head. If the user also wants packing or activity advice, transfer "
        "to advice; for weather of another place or month, transfer to weather."
    ),
    description="Converts temperatures between Celsius, Fahrenheit and Kelvin.",
    tools=[convert_temperature],
    llm_config=llm_config,
    handoff_config=swarm("weather", "advice"),
)

advice_agent = Agent(
    name="advice",
    instructions=(
        "You are the travel advice agent. Turn typical highs, lows and rainy days from the conversation into a "
        "packing list and plans with packing_advice, and answer the user with it. If the conversation has no "
        "weather figures yet, transfer to weather."
    ),
    description="Packing lists and activity ideas from typical temperatures and rain.",
    tools=[packing_advice],
    llm_config=llm_config,
    handoff_config=swarm("weather", "temperature_converter"),
)

app = AgentFunctionApp(agents=[weather_agent, converter_agent, advice_agent])


@app.agent_route("api/weather-swarm", methods=["POST"])
async def weather_swarm(req: AppRequest) -> dict[str, Any]:
    """Run one turn from the weather agent and show the handoff flow.

    Body: ``{"message": "...", "session_id": "..."}`` (only ``message`` is required). The turn runs for
    ``req.user_id``: the signed-in caller when the app uses Entra ID (``AGENTS_AUTH=entra``).
    """
    body = read_object(req)
    if "message" not in body:
        raise BadRequest("invalid_request", "message is required, e.g. "
                         "{\"message\": \"Weather in Tokyo in May, in Fahrenheit, and what should I pack?\"}")
    request = {key: body[key] for key in ("message", "session_id") if key in body}
    request["user_id"] = req.user_id
    return await run_flow(app.runners["weather"], request)
