"""A help desk app for the playground's tests: one agent with a tool, background turns on, and the playground
turned on as one of the app's own routes (``/api/playground``, behind the app's auth)."""

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig


def order_status(order_id: str) -> str:
    """The shipping status of an order.

    Args:
        order_id: The order number, e.g. "A-1001".
    """
    return f"Order {order_id}: shipped on Monday, arriving Thursday."


desk = Agent(name="Desk", instructions="Help desk agent: look orders up with order_status.",
             description="Answers questions about orders.", tools=[order_status],
             llm_config=LLMConfig.from_env(model_name="gpt-4o-mini", timeout=30, max_retries=0))

app = AgentFunctionApp(agents=[desk], background=True, playground=True)
