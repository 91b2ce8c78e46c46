"""A ``process_request`` override (the README's custom agent) runs when a handoff reaches its agent, not only
when a request names it: swarm transfers, coordinator asks and condition routes, JSON and streamed."""

from __future__ import annotations

from typing import Any

from azurefunctions.agents import Agent, AgentFunctionApp, Runner
from azurefunctions.agents.events import TextDelta, TurnCompleted
from azurefunctions.agents.handoff import HandoffConfig, HandoffMode, HandoffTarget
from azurefunctions.agents.sessions.memory import MemorySessionStore
from azurefunctions.agents.types import ChatResponse
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall


class ReviewedAgent(Agent):
    """The README's custom agent: upper-cases the input, marks the answer reviewed, counts its calls."""

    calls: list[dict[str, Any]]

    async def process_request(self, request_data: Any) -> ChatResponse:
        self.calls.append(dict(request_data))
        request_data["message"] = request_data["message"].upper()
        result = await super().process_request(request_data)
        result.response = (result.response or "") + " [reviewed]"
        return result


def reviewed(name: str, instructions: str) -> ReviewedAgent:
    agent = ReviewedAgent(name=name, instructions=instructions)
    agent.calls = []
    return agent


def runner_for(*agents: Agent, store: MemorySessionStore) -> Runner:
    app = AgentFunctionApp(agents=list(agents), create_triggers=False, session_store=store)
    return app.runners[agents[0].name]


def swarm_to(target: Agent) -> Agent:
    return Agent(name="front", instructions="You are the front desk",
                 handoff_config=HandoffConfig(mode=HandoffMode.SWARM,
                                              targets=[HandoffTarget(agent_name=target.name)]))


def user_messages(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "user"]


async def test_a_swarm_transfer_runs_the_targets_override(openai: OpenAIServer) -> None:
    target = reviewed("billing", "You handle billing")
    store = MemorySessionStore()
    runner = runner_for(swarm_to(target), target, store=store)
    openai.script.add_for("You are the front desk",
                          Reply(tool_calls=[ScriptedToolCall("transfer_to_billing", {"reason": "billing"})]))
    openai.script.add_for("You handle billing", Reply(text="Your invoice is paid."))
    response = await runner.run({"message": "is my invoice paid?", "session_id": "ovr-1", "user_id": "u"})
    assert response.status == "success", response.error
    assert response.response == "Your invoice is paid. [reviewed]"
    assert response.agent == "billing" and response.handoff_path == ["front", "billing"]
    assert [c["message"] for c in target.calls] == ["is my invoice paid?"]
    assert target.calls[0]["session_id"] == "ovr-1" and target.calls[0]["user_id"] == "u"
    billing_request = next(r for r in openai.script.requests
                           if r["messages"][0]["content"].startswith("You handle billing"))
    assert user_messages(billing_request)[-1] == "IS MY INVOICE PAID?"
    # The session keeps what the user was shown, as one conversation.
    session = await store.load("ovr-1")
    assert session is not None and session.active_agent == "billing"
    assert session.messages[-1].content == "Your invoice is paid. [reviewed]"


async def test_a_streamed_swarm_transfer_streams_the_overridden_answer(openai: OpenAIServer) -> None:
    target = reviewed("billing", "You handle billing")
    runner = runner_for(swarm_to(target), target, store=MemorySessionStore())
    openai.script.add_for("You are the front desk",
                          Reply(tool_calls=[ScriptedToolCall("transfer_to_billing", {"reason": "billing"})]))
    openai.script.add_for("You handle billing", Reply(text="Paid.", chunk_size=2))
    events = [e async for e in runner.run_stream({"message": "paid?"})]
    text = "".join(e.text for e in events if isinstance(e, TextDelta) and e.agent == "billing")
    assert text == "Paid. [reviewed]"
    assert isinstance(events[-1], TurnCompleted) and events[-1].response.response == "Paid. [reviewed]"


async def test_a_coordinator_ask_runs_the_targets_override(openai: OpenAIServer) -> None:
    target = reviewed("flights", "You find flights")
    coordinator = Agent(name="planner", instructions="You plan trips",
                        handoff_config=HandoffConfig(mode=HandoffMode.COORDINATOR,
                                                     targets=[HandoffTarget(agent_name="flights")]))
    runner = runner_for(coordinator, target, store=MemorySessionStore())
    openai.script.add_for("You plan trips",
                          Reply(tool_calls=[ScriptedToolCall("ask_flights", {"message": "SEA to NRT"})]),
                          Reply(text="Book NH177."))
    openai.script.add_for("You find flights", Reply(text="NH177 at 13:00."))
    response = await runner.run("Plan my trip")
    assert response.status == "success", response.error
    assert [c["message"] for c in target.calls] == ["SEA to NRT"]
    flights_request = next(r for r in openai.script.requests
                           if r["messages"][0]["content"].startswith("You find flights"))
    assert user_messages(flights_request) == ["SEA TO NRT"]
    planner_second = [r for r in openai.script.requests if r["messages"][0]["content"].startswith("You plan")][1]
    tool_results = [m["content"] for m in planner_second["messages"] if m["role"] == "tool"]
    assert tool_results == ["NH177 at 13:00. [reviewed]"]


async def test_a_condition_route_runs_the_targets_override(openai: OpenAIServer) -> None:
    target = reviewed("vip", "You serve VIPs")
    hub = Agent(name="hub", instructions="You route", handoff_config=HandoffConfig(
        mode=HandoffMode.CONDITIONAL,
        targets=[HandoffTarget(agent_name="vip", condition=lambda data: data["context"].get("tier") == "gold")]))
    runner = runner_for(hub, target, store=MemorySessionStore())
    openai.script.add_for("You serve VIPs", Reply(text="Welcome back."))
    response = await runner.run({"message": "hello", "context": {"tier": "gold"}})
    assert response.response == "Welcome back. [reviewed]"
    assert target.calls[0]["context"] == {"tier": "gold"}


async def test_an_override_that_fails_fails_the_turn_with_its_error(openai: OpenAIServer) -> None:
    class Refusing(Agent):
        async def process_request(self, request_data: Any) -> ChatResponse:
            return ChatResponse(status="error", error="billing is closed", error_code="closed", agent=self.name)

    target = Refusing(name="billing", instructions="You handle billing")
    runner = runner_for(swarm_to(target), target, store=MemorySessionStore())
    openai.script.add_for("You are the front desk",
                          Reply(tool_calls=[ScriptedToolCall("transfer_to_billing", {"reason": "billing"})]))
    response = await runner.run("invoice?")
    assert (response.status, response.error_code, response.error) == ("error", "closed", "billing is closed")
