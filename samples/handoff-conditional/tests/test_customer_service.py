"""The customer service hub served by the local host, with a scripted model behind the real openai SDK.

Conditions route on the message and the customer context before any model call (the scripted server's request
log proves it); the routing model is only asked when no condition matches. The specialists' tools compute
their answers from the sample's support data and the context keys each was given.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

from azurefunctions.agents.tools import ToolContext, ToolError

SAMPLE = Path(__file__).resolve().parents[1]
ROUTER = "Route customer requests"
AGENTS = ["customer_service", "technical", "billing", "sales", "escalation"]
CUSTOMER = {"customer_id": "C-1001", "tier": "enterprise", "plan": "pro", "seats": 12, "failed_attempts": 0}


def call(name: str, **arguments: Any) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall(name, arguments)])


@pytest.fixture(scope="module")
def hub(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLE, env=app_env(tmp_path_factory.mktemp("hub"), model)) as host:
        yield host



def demo(host: LocalHostProcess, message: str, **context: Any) -> dict[str, Any]:
    reply = httpx.post(f"{host.url}/api/customer-service-demo", timeout=30,
                       json={"message": message, "context": {**CUSTOMER, **context}})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


def systems(script: Script) -> list[str]:
    return [str(r["messages"][0]["content"]).split(".")[0] for r in script.requests]


def test_listing_and_health(hub: LocalHostProcess) -> None:
    assert httpx.get(f"{hub.url}/api/health", timeout=10).json()["status"] == "healthy"
    assert [a["name"] for a in httpx.get(f"{hub.url}/api/agents", timeout=10).json()["agents"]] == AGENTS
    info = httpx.get(f"{hub.url}/api/agents/billing/info", timeout=10).json()
    assert [t["name"] for t in info["tools"]] == ["calculate_refund"]


def test_a_technical_problem_routes_by_condition_without_a_model_call(hub: LocalHostProcess,
                                                                     script: Script) -> None:
    script.add_for("You are technical support", call("search_troubleshooting", query="login fails E1001"))
    flow = demo(hub, "I get error E1001 when I log in")
    answer = ("Here is what I found: KB-101 Sign-in fails with E1001: 1. Reset the password from the sign-in page. "
              "2. Clear the browser's cookies for the app. 3. If single sign-on is on, ask your administrator to "
              "confirm your account is assigned.")
    assert flow["answer"] == answer and flow["final_agent"] == "technical"
    assert flow["handoff_path"] == ["customer_service", "technical"]
    assert flow["handoffs"] == [{"from": "customer_service", "to": "technical",
                                 "reason": "condition of technical matched"}]
    assert flow["contributions"] == [{"agent": "technical", "response": answer}]
    analysis = flow["analysis"]
    assert analysis["routed_by"] == "condition" and analysis["routed_to"] == "technical"
    assert analysis["context_passed"] == {"customer_id": "C-1001", "tier": "enterprise"}
    assert [(c["agent"], c["matched"]) for c in analysis["conditions"]] == [
        ("escalation", False), ("technical", True), ("billing", False), ("sales", False)]
    assert analysis["conditions"][1]["signals"] == ["error", "log in", "error code E1001"]
    # customer_service never called the model: the condition routed directly.
    assert systems(script) == ["You are technical support", "You are technical support"]


def test_repeated_failure_escalates_automatically(hub: LocalHostProcess, script: Script) -> None:
    script.add_for("You are technical support", call("search_troubleshooting", query="login E1001"))
    once = demo(hub, "Still not working, E1001 again", failed_attempts=1)
    assert once["analysis"]["routed_to"] == "technical"

    script.clear()
    script.add_for("You are the escalation manager",
                   call("plan_escalation", summary="E1001 sign-in failure persists after the KB-101 steps"),
                   Reply(text="I'm sorry. Our enterprise success team will call you within the hour (P1)."))
    flow = demo(hub, "Still not working, E1001 again", failed_attempts=2)
    assert flow["answer"] == "I'm sorry. Our enterprise success team will call you within the hour (P1)."
    assert flow["handoff_path"] == ["customer_service", "escalation"]
    assert flow["analysis"]["conditions"][0] == {"agent": "escalation", "matched": True,
                                                 "signals": ["2 failed attempts (limit 2)"]}
    assert flow["analysis"]["context_passed"] == {"customer_id": "C-1001", "tier": "enterprise", "failed_attempts": 2}
    assert flow["tool_calls"][0]["result"] == (
        "Escalation for C-1001 (enterprise, 2 failed attempt(s)): priority P1, enterprise success team, first "
        "response within 1 hour(s). Case summary: E1001 sign-in failure persists after the KB-101 steps")
    # transform_input gave the manager a brief with the customer context before the model ran.
    request = script.requests[0]
    assert request["messages"][-1]["content"] == (
        "Escalation brief: customer C-1001, tier enterprise, 2 failed attempt(s); triggers: 2 failed attempts "
        "(limit 2). Customer's message: Still not working, E1001 again")


def test_chat_route_billing_uses_the_customer_context(hub: LocalHostProcess, script: Script) -> None:
    script.add_for("You are the billing specialist", call("calculate_refund", days_used=12))
    reply = httpx.post(f"{hub.url}/api/agents/customer_service/chat", timeout=30, json={
        "message": "I was charged this month but we stopped using it after 12 days. Refund?",
        "context": {"customer_id": "C-2002", "plan": "pro", "seats": 5, "tier": "pro"}})
    body = reply.json()
    assert reply.status_code == 200, body
    answer = ("Here is what I found: pro plan, 5 seat(s): $60.00 charged this cycle; 18 of 30 days unused, so the "
              "prorated refund is $36.00.")
    assert body["response"] == answer and body["agent"] == "billing"
    assert body["handoff_path"] == ["customer_service", "billing"]
    assert body["contributions"] == [{"agent": "billing", "response": answer}]


def test_no_condition_matches_so_the_routing_model_chooses(hub: LocalHostProcess, script: Script) -> None:
    script.add_for(ROUTER, Reply(text='{"agent": "sales"}'))
    script.add_for("You are the sales specialist", call("quote_plan", plan="business", seats=40, annual=True))
    flow = demo(hub, "Could we move all 40 of our people onto the business tier?")
    assert flow["analysis"]["routed_by"] == "ai_router" and flow["analysis"]["routed_to"] == "sales"
    assert not any(c["matched"] for c in flow["analysis"]["conditions"])
    assert flow["handoffs"][0]["reason"] == "best match chosen by the routing model"
    assert flow["answer"] == ("Here is what I found: business plan, 40 seat(s), 10% volume discount: $9000.00 per "
                              "year ($900.00/month, 2 months free). Today: pro plan at $144.00 per month.")
    routing = script.requests[0]
    assert routing["response_format"] == {"type": "json_object"}
    assert "- sales: sales: plans, pricing, quotes, upgrades, more seats" in routing["messages"][0]["content"]


def test_the_front_desk_answers_when_no_team_is_needed(hub: LocalHostProcess, script: Script) -> None:
    script.add_for(ROUTER, Reply(text='{"agent": null}'))
    script.add_for("You are the customer service front desk", Reply(text="Hello! How can I help today?"))
    flow = demo(hub, "Hello there")
    assert flow["answer"] == "Hello! How can I help today?"
    assert flow["handoff_path"] == ["customer_service"] and flow["handoffs"] == []
    assert flow["analysis"]["routed_by"] == "front_desk" and flow["analysis"]["routed_to"] is None
    assert flow["contributions"] == [{"agent": "customer_service", "response": "Hello! How can I help today?"}]


@pytest.mark.parametrize(("body", "code", "message"), [
    (b"{oops", "invalid_json", "The body must be JSON"),
    (b"null", "invalid_request", "The body must be a JSON object"),
    (b'{"context": {}}', "invalid_request", "message is required"),
    (b'{"message": ["hi"]}', "invalid_request", "message must be a string"),
    (b'{"message": "hi", "context": "vip"}', "invalid_request", "context must be a JSON object"),
    (b'{"message": "hi", "context": {"tier": "gold"}}', "invalid_request", "context.tier must be one of"),
    (b'{"message": "hi", "context": {"failed_attempts": "2"}}', "invalid_request", "context.failed_attempts"),
    (b'{"message": "hi", "context": {"plan": "platinum"}}', "invalid_request", "context.plan must be one of"),
])
def test_bad_input_gets_the_error_envelope(hub: LocalHostProcess, body: bytes, code: str, message: str) -> None:
    reply = httpx.post(f"{hub.url}/api/customer-service-demo", content=body, timeout=10,
                       headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == code and message in error["message"]


def test_without_a_model_key_conditions_still_route(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    with LocalHostProcess(SAMPLE, env=env) as host:
        technical = demo(host, "The app shows error E1001 when I log in")
        escalated = demo(host, "Still broken after the reset", tier="pro", failed_attempts=2)
        greeting = demo(host, "Hello there")
    assert technical["answer"].startswith("[offline model] search_troubleshooting returned: KB-101 Sign-in fails")
    assert escalated["handoff_path"] == ["customer_service", "escalation"]
    assert escalated["answer"].startswith("[offline model] plan_escalation returned: Escalation for C-1001 (pro, 2 "
                                          "failed attempt(s)): priority P2, senior support, first response within 4")
    assert greeting["analysis"]["routed_by"] == "front_desk"
    assert greeting["answer"].startswith("[offline model] You said: Hello there")


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"handoff_conditional_{name}", SAMPLE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tools_and_conditions() -> None:
    tools, routing = load("support_tools"), load("routing")
    context = ToolContext(agent_name="billing", context={"plan": "business", "seats": 10})
    assert tools.calculate_refund(0, context) == ("business plan, 10 seat(s): $250.00 charged this cycle; 30 of 30 "
                                                  "days unused, so the prorated refund is $250.00.")
    with pytest.raises(ToolError, match="days_used must be between 0 and cycle_days"):
        tools.calculate_refund(31, context)
    assert tools.quote_plan("pro", 120, ToolContext(agent_name="sales")) == (
        "pro plan, 120 seat(s), 20% volume discount: $1152.00 per month.")
    with pytest.raises(ToolError, match="The free plan takes 1 to 3 seats"):
        tools.quote_plan("free", 4, ToolContext(agent_name="sales"))
    assert tools.search_troubleshooting("my export csv is empty").startswith("KB-104 Exports fail or are empty")
    assert routing.is_billing({"message": "Why was I charged twice?"})
    assert not routing.is_billing({"message": "Is there a surcharge for that?"})
    assert routing.escalation_triggers({"message": "Production is down!", "context": {"tier": "enterprise"}}) == [
        "enterprise customer reports an outage"]
    assert not routing.needs_escalation({"message": "Production is down!", "context": {"tier": "pro"}})
    assert routing.needs_escalation({"message": "I want to speak to a manager", "context": None})
