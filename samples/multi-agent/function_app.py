"""Travel Planner: FlightAgent, HotelAgent and BudgetAgent, collaborating through swarm handoffs.

Each agent answers its own questions with its tools and transfers the conversation to a peer when the user
needs the peer's speciality (a flight question that turns into "can I afford it?" goes to BudgetAgent, which
sees the conversation so far). The model comes from the environment (``LLMConfig.from_env``): Azure OpenAI
when AZURE_OPENAI_ENDPOINT is set, OpenAI when OPENAI_API_KEY is set, else the labelled offline model locally.
"""

from travel_tools import cheapest_trip, plan_budget, search_flights, search_hotels

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.handoff import HandoffConfig, HandoffMode, HandoffTarget
from azurefunctions.agents.types import LLMConfig

llm_config = LLMConfig.from_env(model_name="gpt-4o-mini")


def peers(*names: str) -> HandoffConfig:
    """Swarm handoffs to the named peers; three hops at most, so a conversation cannot bounce forever."""
    return HandoffConfig(mode=HandoffMode.SWARM, max_hops=3,
                         targets=[HandoffTarget(agent_name=name) for name in names])


flight_agent = Agent(
    name="FlightAgent",
    instructions=(
        "You are FlightAgent, the travel planner's flight specialist. Find flights with search_flights and quote "
        "flight numbers, times and fares exactly as the tool gives them. When the user asks about hotels, "
        "transfer to HotelAgent; when they ask about total cost or a budget, transfer to BudgetAgent."
    ),
    description="Searches flights between cities: schedules, stops and fares.",
    tools=[search_flights],
    llm_config=llm_config,
    handoff_config=peers("HotelAgent", "BudgetAgent"),
)

hotel_agent = Agent(
    name="HotelAgent",
    instructions=(
        "You are HotelAgent, the travel planner's hotel specialist. Recommend hotels with search_hotels and quote "
        "names and nightly prices exactly. When the user asks about flights, transfer to FlightAgent; when they "
        "ask about total cost or a budget, transfer to BudgetAgent."
    ),
    description="Recommends hotels in a city by rating, stars and nightly price.",
    tools=[search_hotels],
    llm_config=llm_config,
    handoff_config=peers("FlightAgent", "BudgetAgent"),
)

budget_agent = Agent(
    name="BudgetAgent",
    instructions=(
        "You are BudgetAgent, the travel planner's cost analyst. Use plan_budget to check a trip against a "
        "budget and cheapest_trip to find the least expensive combination; never do the arithmetic yourself. "
        "When the user needs other flight or hotel options, transfer to FlightAgent or HotelAgent."
    ),
    description="Totals trip costs against a budget and finds the cheapest combination.",
    tools=[plan_budget, cheapest_trip],
    llm_config=llm_config,
    handoff_config=peers("FlightAgent", "HotelAgent"),
)

app = AgentFunctionApp(agents=[flight_agent, hotel_agent, budget_agent])
