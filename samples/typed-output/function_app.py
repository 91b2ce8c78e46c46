"""TicketTriage: an agent that answers with a typed object, not prose.

``output_type=Triage`` makes every provider constrain the model to the ``Triage`` JSON schema in its native way;
the runtime validates the answer (retrying once with the validation error), the HTTP reply carries it as
``output`` beside the JSON text in ``response``, and ``GET /api/agents/TicketTriage/info`` shows its schema.

The model comes from the environment (README "Configuration"): Azure OpenAI with managed identity when
AZURE_OPENAI_ENDPOINT is set, OpenAI when OPENAI_API_KEY is set, else the labelled offline model locally.
"""

from typing import Literal

from pydantic import BaseModel, Field

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig


class Triage(BaseModel):
    """How a support ticket is routed."""

    category: Literal["billing", "bug", "account", "feature_request", "other"]
    priority: int = Field(ge=1, le=4, description="1 = urgent (service down, money lost) ... 4 = low.")
    summary: str = Field(description="The customer's problem in one sentence.")
    needs_human: bool = Field(description="True when an agent must reply personally (refunds, angry customers).")


triage_agent = Agent(
    name="TicketTriage",
    instructions=(
        "You triage customer support tickets. Read the ticket, pick its category and priority, summarise the "
        "problem in one neutral sentence, and say whether a person must answer it."
    ),
    description="Classifies a support ticket: category, priority, summary, and whether a person must answer.",
    output_type=Triage,
    # Every ticket is triaged on its own: no conversation to remember between requests.
    enable_conversational_agent=False,
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
)

app = AgentFunctionApp(agents={"TicketTriage": triage_agent})
