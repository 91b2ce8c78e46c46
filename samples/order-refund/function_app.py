"""RefundDesk: an agent that may refund orders, but only with a person's approval above a limit.

``refund_order`` needs approval when the amount is over ``AUTO_REFUND_LIMIT`` (50 EUR): the turn stops before
the call, the reply lists the pending approval, and the turn is kept in the session store (SQLite locally,
Cosmos DB in Azure) until its owner approves or rejects it with
``POST /api/sessions/{session_id}/turns/{turn_id}/approvals``. Any instance can resume it, after any restart.
Smaller refunds and order look-ups run at once. See README.md for the walkthrough and docs/approvals.md.

The model comes from the environment (README "Configuration"): Azure OpenAI with managed identity when
AZURE_OPENAI_ENDPOINT is set, OpenAI when OPENAI_API_KEY is set, else the labelled offline model locally.
"""

from __future__ import annotations

from typing import Any

from orders import BOOK

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.tools import ToolContext
from azurefunctions.agents.types import LLMConfig

#: Refunds up to this amount (EUR) need no approval.
AUTO_REFUND_LIMIT = 50.0

refund_desk = Agent(
    name="RefundDesk",
    instructions=(
        "You handle refund requests for an online shop. Look the order up first, then refund the amount the "
        "customer asks for, never more than the order cost. If a refund is not approved, tell the customer "
        "plainly and pass on the reviewer's message when there is one."
    ),
    description="Looks up orders and refunds them; refunds over 50 EUR wait for a person's approval.",
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
)


@refund_desk.tool
def lookup_order(order_id: str) -> str:
    """Look up an order: what was bought, its price and what was refunded already.

    Args:
        order_id: The order number, such as A1001.
    """
    order = BOOK.find(order_id)
    if order is None:
        return f"No order {order_id}."
    return (f"Order {order.order_id}: {order.item}, {order.amount:.2f} EUR, bought by {order.customer}; "
            f"refunded so far {order.refunded:.2f} EUR.")


def over_limit(arguments: dict[str, Any], context: ToolContext) -> bool:
    """The approval policy: a person approves every refund over the limit."""
    return float(arguments.get("amount", 0)) > AUTO_REFUND_LIMIT


def refund_reason(arguments: dict[str, Any], context: ToolContext) -> str:
    """What the approver reads on the approval card."""
    return f"Refund {float(arguments.get('amount', 0)):.2f} EUR on order {arguments.get('order_id')}."


@refund_desk.tool(needs_approval=over_limit, approval_reason=refund_reason, repeatable=False)
def refund_order(order_id: str, amount: float, context: ToolContext) -> str:
    """Refund part or all of an order to the customer's card.

    Args:
        order_id: The order number, such as A1001.
        amount: The amount to refund, in EUR.
    """
    return BOOK.refund(order_id, amount, context.idempotency_key)


app = AgentFunctionApp(agents={"RefundDesk": refund_desk})
