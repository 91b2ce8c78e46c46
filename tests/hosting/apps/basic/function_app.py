"""A Function App for the HTTP tests: two agents on the model the environment selects."""

import os

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig


def lookup(code: str) -> str:
    """Look up an order by its code."""
    return f"order {code} shipped"


config = LLMConfig.from_env(model_name="gpt-4o-mini", timeout=float(os.environ.get("TEST_MODEL_TIMEOUT", "30")),
                            max_retries=0)
orders = Agent(name="Orders", instructions="You track orders.", tools=[lookup], llm_config=config,
               description="Tracks orders.", max_turns=3)
greeter = Agent(name="Greeter", instructions="Greet people.", llm_config=config, expose_instructions=True,
                expose_tools=False)

app = AgentFunctionApp(agents=[orders, greeter])
