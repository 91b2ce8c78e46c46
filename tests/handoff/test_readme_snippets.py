"""The seed README's handoff snippets, run unchanged (the model is the local server, through OPENAI_* settings)."""

from __future__ import annotations

import asyncio

from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall
from tests.test_seed_readme import run_block

SWARM = '''
from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.handoff import HandoffConfig, HandoffTarget, HandoffMode
# Create specialized agents
weather_agent = Agent(
name="weather",
instructions="You provide weather information",
tools=[get_weather],
handoff_config=HandoffConfig(
mode=HandoffMode.SWARM,
targets=[HandoffTarget(agent_name="temperature_converter")]
)
)
temp_agent = Agent(
name="temperature_converter",
instructions="You convert temperatures between units",
tools=[convert_temperature],
handoff_config=HandoffConfig(
mode=HandoffMode.SWARM,
targets=[HandoffTarget(agent_name="weather")]
)
)
# Deploy with handoff system
app = AgentFunctionApp(agents=[weather_agent, temp_agent])
'''

RUNNER_BASED = '''
# Get runners from the app
weather_runner = app.runners["weather"]
temp_runner = app.runners["temperature_converter"]
# Direct handoff between agents
async def handle_request():
    # Weather agent processes initial request
    weather_response = await weather_runner.run("What's the weather in Seattle?")
    # Hand off to temperature converter
    temp_response = await weather_runner.handoff_to(
        target_agent="temperature_converter",
        input_data={"celsius": 22, "target_unit": "fahrenheit"},
        conversation_id="user-session-123",
        reason="User requested temperature conversion"
    )
    return temp_response
'''

COORDINATOR = '''
# Coordinator agent
coordinator = Agent(
name="travel_coordinator",
instructions="You coordinate travel planning across multiple agents",
handoff_config=HandoffConfig(
mode=HandoffMode.COORDINATOR,
targets=[
HandoffTarget(agent_name="flight_agent"),
HandoffTarget(agent_name="hotel_agent"),
HandoffTarget(agent_name="weather_agent")
]
)
)
# Specialist agents
flight_agent = Agent(name="flight_agent", instructions="You search for flights", tools=[search_flights])
hotel_agent = Agent(name="hotel_agent", instructions="You search for hotels", tools=[search_hotels])
weather_agent = Agent(name="weather_agent", instructions="You provide weather info", tools=[get_weather])
app = AgentFunctionApp(agents=[coordinator, flight_agent, hotel_agent, weather_agent])
'''

CONDITIONAL = '''
from azurefunctions.agents.handoff import HandoffConfig, HandoffTarget, HandoffMode
def needs_translation(request_data):
    """Check if the request needs translation."""
    return any(keyword in request_data.get('message', '').lower()
               for keyword in ['translate', 'español', 'français'])
agent = Agent(
name="multilingual_assistant",
instructions="You help with multilingual requests",
handoff_config=HandoffConfig(
mode=HandoffMode.CONDITIONAL,
targets=[
HandoffTarget(
agent_name="translator",
condition=needs_translation,
description="Hand off to translator for multilingual requests"
)
]
)
)
'''

CONTEXT_PASSING = '''
target = HandoffTarget(
agent_name="specialist",
context_keys=["user_preferences", "session_data"], # Pass specific context
description="Hand off with user context"
)
'''

AI_ROUTING = '''
from azurefunctions.agents.handoff import HandoffStrategy
routing = HandoffConfig(
mode=HandoffMode.COORDINATOR,
strategy=HandoffStrategy.BEST_MATCH, # AI selects best agent
enable_auto_routing=True,
routing_instructions="Choose the agent best suited for the user's request"
)
'''

LOOP_DETECTION = '''
loop_config = HandoffConfig(
max_hops=10, # Maximum handoffs before stopping
# Framework tracks call stack and prevents cycles
)
'''

VALIDATION = '''
async def validate(runner, data):
    # Check if handoff is possible
    if runner.can_handoff_to("target_agent"):
        return await runner.handoff_to("target_agent", data)
    return None
'''


def tools() -> dict:
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return f"{city}: 22°C"

    def convert_temperature(celsius: float, target_unit: str) -> str:
        """Convert Celsius."""
        return f"{celsius * 9 / 5 + 32:.1f}°F" if target_unit == "fahrenheit" else f"{celsius}°C"

    def search_flights(route: str) -> str:
        """Find flights."""
        return f"flights for {route}"

    def search_hotels(city: str) -> str:
        """Find hotels."""
        return f"hotels in {city}"

    return {"get_weather": get_weather, "convert_temperature": convert_temperature,
            "search_flights": search_flights, "search_hotels": search_hotels}


def test_swarm_and_runner_based_handoffs(openai: OpenAIServer) -> None:
    ns = run_block(SWARM, tools())
    run_block(RUNNER_BASED, ns)
    openai.script.add_for("You provide weather",
                          Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Seattle"})]))
    openai.script.add_for("You convert", Reply(tool_calls=[ScriptedToolCall(
        "convert_temperature", {"celsius": 22, "target_unit": "fahrenheit"})]))
    response = asyncio.run(ns["handle_request"]())
    assert response.status == "success"
    assert response.response == "Here is what I found: 71.6°F"
    assert response.handoff_path == ["weather", "temperature_converter"]
    assert response.session_id == "user-session-123"
    assert response.to_dict()["handoff_reason"] == "User requested temperature conversion"
    assert response.context == {"celsius": 22, "target_unit": "fahrenheit"}
    assert ns["weather_runner"].can_handoff_to("temperature_converter")
    assert not ns["weather_runner"].can_handoff_to("nobody")


def test_coordinator_block(openai: OpenAIServer) -> None:
    ns = run_block(SWARM, tools())
    run_block(COORDINATOR, ns)
    openai.script.add_for("You coordinate", Reply(tool_calls=[ScriptedToolCall(
        "ask_weather_agent", {"message": "Weather in Tokyo"})]), Reply(text="Tokyo plan ready."))
    openai.script.add_for("You provide weather info",
                          Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Tokyo"})]))
    response = asyncio.run(ns["app"].runners["travel_coordinator"].run("Plan a trip to Tokyo"))
    assert response.response == "Tokyo plan ready."
    assert response.handoff_path == ["travel_coordinator", "weather_agent"]
    calls = {(c.agent, c.name): c.result for c in response.tool_calls}
    assert calls == {("weather_agent", "get_weather"): "Tokyo: 22°C",
                     ("travel_coordinator", "ask_weather_agent"): "Here is what I found: Tokyo: 22°C"}


def test_conditional_context_routing_loop_and_validation_blocks(openai: OpenAIServer) -> None:
    from azurefunctions.agents import Agent, AgentFunctionApp

    ns = run_block(CONDITIONAL, {"Agent": Agent})
    translator = Agent(name="translator", instructions="You translate")
    app = AgentFunctionApp(agents=[ns["agent"], translator], create_triggers=False)
    openai.script.add_for("You translate", Reply(text="Hola"))
    routed = asyncio.run(app.runners["multilingual_assistant"].run("Translate hello into español"))
    assert routed.response == "Hola" and routed.handoff_path == ["multilingual_assistant", "translator"]

    run_block(CONTEXT_PASSING, ns)
    assert ns["target"].context_keys == ["user_preferences", "session_data"]
    run_block(AI_ROUTING, ns)
    assert ns["routing"].enable_auto_routing and ns["routing"].strategy.value == "best_match"
    run_block(LOOP_DETECTION, ns)
    assert ns["loop_config"].max_hops == 10

    run_block(VALIDATION, ns)
    assert asyncio.run(ns["validate"](app.runners["multilingual_assistant"], {"message": "x"})) is None
