"""A Function App for the approval tests: a refund desk whose refunds over 100 need a person's approval.

Every tool run is appended to the file ``APPROVALS_LEDGER`` names, so a test sees what really ran, across
restarts of the host. ``APPROVALS_ENTRA=1`` turns Entra ID on (App Service Authentication headers);
``APPROVALS_BACKGROUND=1`` turns background turns on (a work queue); A2A routes are always served.
"""

import os
from pathlib import Path

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.types import LLMConfig

TENANT = "11111111-2222-3333-4444-555555555555"
AUDIENCE = "api://agents-approvals-test"
CLIENT = "aaaaaaaa-0000-0000-0000-000000000001"


def _ran(line: str) -> None:
    with Path(os.environ["APPROVALS_LEDGER"]).open("a", encoding="utf-8") as ledger:
        ledger.write(line + "\n")


config = LLMConfig.from_env(model_name="gpt-4o-mini", timeout=30, max_retries=0)
desk = Agent(name="Refunds", instructions="You refund orders.", llm_config=config,
             description="Looks orders up and refunds them.")


@desk.tool
def lookup(order_id: str) -> str:
    """Look up an order."""
    _ran(f"lookup {order_id}")
    return f"order {order_id}: shoes, 240 EUR"


@desk.tool(needs_approval=lambda args, ctx: float(args["amount"]) > 100,
           approval_reason=lambda args, ctx: f"Refund {args['amount']} EUR on {args['order_id']}")
def refund(order_id: str, amount: float) -> str:
    """Refund an order."""
    _ran(f"refund {order_id} {amount:g}")
    return f"refunded {amount:g} EUR on {order_id}"


auth = None
if os.environ.get("APPROVALS_ENTRA") == "1":
    from azurefunctions.agents.http.auth import EntraAuth

    auth = EntraAuth(tenant_id=TENANT, audiences=[AUDIENCE], allowed_client_ids=[CLIENT])

app = AgentFunctionApp(agents=[desk], mode=AgentMode.A2A, auth=auth,
                       background=os.environ.get("APPROVALS_BACKGROUND") == "1")
