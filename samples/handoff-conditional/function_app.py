"""Customer service hub: ``customer_service`` routes to technical, billing, sales and escalation specialists.

``HandoffMode.CONDITIONAL``: each target's condition (``routing.py``) reads the message and the customer context
from the request and routes before any model call: escalation first (repeated failure, escalation language, an
enterprise outage), then technical, billing and sales by keywords. When no condition matches,
``enable_auto_routing`` lets a routing model call choose from the specialists' descriptions; if it chooses none,
customer_service answers itself. Each specialist receives only the context keys it needs (``context_keys``).
``POST /api/customer-service-demo`` returns the routing analysis next to the answer.
"""

from typing import Any

from routing import (
    TIERS,
    analyse,
    escalation_triggers,
    failed_attempts,
    is_billing,
    is_sales,
    is_technical,
    needs_escalation,
)
from support_tools import calculate_refund, load_support_data, plan_escalation, quote_plan, search_troubleshooting

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.handoff import HandoffConfig, HandoffMode, HandoffTarget
from azurefunctions.agents.hosting.app_routes import AppRequest
from azurefunctions.agents.hosting.handoff_report import BadRequest, read_object, run_flow
from azurefunctions.agents.types import LLMConfig

llm_config = LLMConfig.from_env(model_name="gpt-4o-mini")


def escalation_brief(request_data: dict[str, Any]) -> str:
    """What the escalation manager reads first: who the customer is and why the case was escalated."""
    context = request_data["context"]
    return (f"Escalation brief: customer {context.get('customer_id', 'unknown')}, tier {context.get('tier', 'free')}, "
            f"{failed_attempts(context)} failed attempt(s); triggers: {'; '.join(escalation_triggers(request_data))}. "
            f"Customer's message: {request_data['message']}")


TARGETS = [
    HandoffTarget(agent_name="escalation", condition=needs_escalation, transform_input=escalation_brief,
                  context_keys=["customer_id", "tier", "failed_attempts"],
                  description="a support manager for repeated failures, complaints and enterprise outages"),
    HandoffTarget(agent_name="technical", condition=is_technical, context_keys=["customer_id", "tier"],
                  description="technical support: errors, sign-in, sync, crashes, exports"),
    HandoffTarget(agent_name="billing", condition=is_billing, context_keys=["customer_id", "plan", "seats"],
                  description="billing: invoices, charges, refunds, payments"),
    HandoffTarget(agent_name="sales", condition=is_sales, context_keys=["customer_id", "plan", "seats", "tier"],
                  description="sales: plans, pricing, quotes, upgrades, more seats"),
]

customer_service = Agent(
    name="customer_service",
    instructions=("You are the customer service front desk. Greet customers, answer general questions about the "
                  "product briefly, and tell them which team can help with anything specific."),
    description="Front desk that routes customers to technical, billing, sales or escalation.",
    llm_config=llm_config,
    handoff_config=HandoffConfig(
        mode=HandoffMode.CONDITIONAL,
        targets=TARGETS,
        enable_auto_routing=True,
        routing_instructions=("Route customer requests to the support team best suited to handle them, or to none "
                              "if the front desk can answer (greetings, general questions)."),
    ),
)

technical = Agent(
    name="technical",
    instructions=("You are technical support. Find the matching article with search_troubleshooting and walk the "
                  "customer through its steps."),
    description="Troubleshoots errors, sign-in, sync, crashes and exports.",
    tools=[search_troubleshooting],
    llm_config=llm_config,
)
billing = Agent(
    name="billing",
    instructions=("You are the billing specialist. Explain charges and compute refunds with calculate_refund; the "
                  "customer's plan and seats come from their account context."),
    description="Explains charges and computes prorated refunds.",
    tools=[calculate_refund],
    llm_config=llm_config,
)
sales = Agent(
    name="sales",
    instructions="You are the sales specialist. Quote plans with quote_plan and compare them to the current plan.",
    description="Quotes plans, seats and upgrades.",
    tools=[quote_plan],
    llm_config=llm_config,
)
escalation = Agent(
    name="escalation",
    instructions=("You are the escalation manager. Apologise once, set the case's priority with plan_escalation, "
                  "and tell the customer who will contact them and when."),
    description="Takes over repeated failures, complaints and enterprise outages.",
    tools=[plan_escalation],
    llm_config=llm_config,
)

app = AgentFunctionApp(agents=[customer_service, technical, billing, sales, escalation])


def check_context(context: Any) -> dict[str, Any]:
    """The customer context of a demo request; ``BadRequest`` names the field that is wrong."""
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise BadRequest("invalid_request", "context must be a JSON object, e.g. {\"tier\": \"pro\"}")
    if "tier" in context and context["tier"] not in TIERS:
        raise BadRequest("invalid_request", f"context.tier must be one of {', '.join(TIERS)}")
    if "plan" in context and context["plan"] not in load_support_data()["plans"]:
        raise BadRequest("invalid_request", f"context.plan must be one of {', '.join(load_support_data()['plans'])}")
    for field, low in (("failed_attempts", 0), ("seats", 1)):
        value = context.get(field, low)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise BadRequest("invalid_request", f"context.{field} must be a whole number of at least {low}")
    if "customer_id" in context and not isinstance(context["customer_id"], str):
        raise BadRequest("invalid_request", "context.customer_id must be a string")
    return context


@app.agent_route("api/customer-service-demo", methods=["POST"])
async def customer_service_demo(req: AppRequest) -> dict[str, Any]:
    """Route one customer message and show why it went where it went.

    Body: ``{"message": "...", "context": {"customer_id": "C-1001", "tier": "pro", "plan": "pro", "seats": 5,
    "failed_attempts": 0}, "session_id": "..."}`` (only ``message`` is required).
    """
    body = read_object(req)
    context = check_context(body.get("context"))
    if "message" not in body:
        raise BadRequest("invalid_request", "message is required, e.g. {\"message\": \"I was charged twice\", "
                         "\"context\": {\"plan\": \"pro\", \"seats\": 5}}")
    request = {key: body[key] for key in ("message", "session_id") if key in body}
    request["user_id"] = req.user_id
    request["context"] = context
    flow = await run_flow(app.runners["customer_service"], request)
    first = flow["handoffs"][0] if flow["handoffs"] else None
    routed_by = "front_desk" if first is None else (
        "condition" if str(first["reason"]).startswith("condition") else "ai_router")
    routed_to = first["to"] if first is not None else None
    target = next((t for t in TARGETS if t.agent_name == routed_to), None)
    passed = {k: context[k] for k in (target.context_keys or []) if k in context} if target is not None else {}
    conditions = analyse({"message": body["message"], "context": context})
    analysis = {"conditions": conditions, "routed_by": routed_by, "routed_to": routed_to, "context_passed": passed}
    return {"analysis": analysis, **flow}
