"""The production configuration in one app: the session store the environment selects (Cosmos DB when
``COSMOS_ENDPOINT`` is set, reached with the managed identity), background turns on the work queue, A2A, on
the model the environment selects."""

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.types import LLMConfig


def lookup(code: str) -> str:
    """Look up an order by its code."""
    return f"order {code} shipped"


config = LLMConfig.from_env(model_name="gpt-4o-mini", timeout=30, max_retries=0)
orders = Agent(name="Orders", instructions="Orders agent: you track orders.", tools=[lookup], llm_config=config,
               description="Tracks orders.")

app = AgentFunctionApp(agents=[orders], mode=AgentMode.A2A, background=True)
