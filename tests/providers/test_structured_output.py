"""Typed answers (``Agent(output_type=...)``) on every provider, through its official SDK and local server.

Each provider is asked in its native way (OpenAI/Azure OpenAI: a strict ``json_schema`` response format;
Anthropic: a forced tool; Gemini: ``responseSchema``; Ollama: ``format``), the runtime validates the answer,
retries once with the validation error, and fails the turn with ``invalid_output`` after that.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.events import TextDelta, TurnCompleted, TurnFailed
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

from .conftest import ProviderCase


class Customer(BaseModel):
    name: str
    email: str | None = None


class Ticket(BaseModel):
    """A classified support ticket."""

    category: Literal["billing", "bug", "question"]
    priority: int = Field(ge=1, le=5)
    customer: Customer
    tags: list[str] = []


TICKET = {"category": "bug", "priority": 2, "customer": {"name": "Ada", "email": None}, "tags": ["login"]}


def answer(case: ProviderCase, data: dict[str, Any], *, agent_has_tools: bool = False) -> Reply:
    """How the model gives a typed answer on this provider. Anthropic answers through the forced tool: with
    tools of its own the agent forces ``any`` tool, so the script names the answer tool the model calls."""
    if case.name == "anthropic" and agent_has_tools:
        return Reply(tool_calls=[ScriptedToolCall("Ticket", data)])
    return Reply(text=json.dumps(data), chunk_size=9)


def asked_schema(case: ProviderCase, body: dict[str, Any]) -> dict[str, Any]:
    """The schema the request asked for, read from the provider's native field (and that field checked)."""
    if case.name in ("openai", "azure_openai"):
        response_format = body["response_format"]
        assert response_format["type"] == "json_schema"
        assert response_format["json_schema"]["name"] == "Ticket"
        assert response_format["json_schema"]["strict"] is True
        return dict(response_format["json_schema"]["schema"])
    if case.name == "anthropic":
        tool = next(t for t in body["tools"] if t["name"] == "Ticket")
        assert body["tool_choice"] in ({"type": "tool", "name": "Ticket"}, {"type": "any"})
        return dict(tool["input_schema"])
    if case.name == "google":
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        return dict(config["responseSchema"])
    assert isinstance(body["format"], dict)
    return dict(body["format"])


def schema_fields(schema: dict[str, Any]) -> set[str]:
    return set(schema["properties"])


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_typed_answer_is_asked_natively_and_returned_typed(provider_case: ProviderCase, stream: bool) -> None:
    provider_case.script.add(answer(provider_case, TICKET))
    agent = Agent(name="Triage", instructions="Classify the ticket.", output_type=Ticket,
                  llm_config=provider_case.config)
    runner = Runner(agent)
    deltas: list[str] = []
    if stream:
        events = [event async for event in runner.run_stream({"message": "I cannot log in", "stream": True})]
        deltas = [e.text for e in events if isinstance(e, TextDelta)]
        final = events[-1]
        assert isinstance(final, TurnCompleted)
        response = final.response
        wire = final.to_dict()["response"]
        assert wire["output"] == TICKET  # the SSE final event carries the object
    else:
        response = await runner.run("I cannot log in")
    await agent.aclose()
    assert response.status == "success", response.error
    assert isinstance(response.output, Ticket)
    assert response.output == Ticket.model_validate(TICKET)
    assert json.loads(response.response or "") == TICKET
    assert response.to_dict()["output"] == TICKET
    if stream:
        assert len(deltas) > 1 and json.loads("".join(deltas)) == TICKET
    schema = asked_schema(provider_case, provider_case.script.requests[0])
    assert schema_fields(schema) == {"category", "priority", "customer", "tags"}


async def test_invalid_answer_is_retried_with_the_error_then_succeeds(provider_case: ProviderCase) -> None:
    wrong = {**TICKET, "priority": 9}
    provider_case.script.add(answer(provider_case, wrong), answer(provider_case, TICKET))
    agent = Agent(name="Triage", instructions="Classify the ticket.", output_type=Ticket,
                  llm_config=provider_case.config)
    response = await Runner(agent).run("I cannot log in")
    await agent.aclose()
    assert response.status == "success", response.error
    assert response.output == Ticket.model_validate(TICKET)
    assert provider_case.script.calls == 2
    retry = provider_case.normalise(provider_case.script.requests[1])
    kind, value = retry[-1][1], retry[-1][2]
    assert retry[-1][0] == "user" and kind == "text"
    assert "priority" in value and "less than or equal to 5" in value
    assert json.loads(retry[-2][2]) == wrong  # the model sees its own wrong answer before the correction


async def test_invalid_answer_twice_fails_the_turn_with_invalid_output(provider_case: ProviderCase) -> None:
    provider_case.script.add(answer(provider_case, {**TICKET, "priority": 9}),
                             answer(provider_case, {**TICKET, "category": "complaint"}))
    agent = Agent(name="Triage", output_type=Ticket, llm_config=provider_case.config)
    response = await Runner(agent).run("I cannot log in")
    await agent.aclose()
    assert response.status == "error"
    assert response.error_code == "invalid_output"
    assert response.status_code == 502
    assert "Triage" in (response.error or "") and "Ticket" in (response.error or "")
    assert "category" in (response.error or "")
    assert provider_case.script.calls == 2, "one retry, no more"


async def test_streamed_invalid_answer_fails_with_invalid_output(provider_case: ProviderCase) -> None:
    provider_case.script.add(Reply(text="not json at all") if provider_case.name != "anthropic"
                             else answer(provider_case, {"category": "bug"}),
                             answer(provider_case, {"priority": 1}))
    agent = Agent(name="Triage", output_type=Ticket, llm_config=provider_case.config)
    events = [event async for event in Runner(agent).run_stream({"message": "hi", "stream": True})]
    await agent.aclose()
    failed = events[-1]
    assert isinstance(failed, TurnFailed)
    assert failed.code == "invalid_output" and failed.status == 502


async def test_tools_still_work_on_a_typed_agent(provider_case: ProviderCase) -> None:
    def lookup_customer(email: str) -> str:
        """Find the customer with this email."""
        return "Ada Lovelace, premium plan"

    provider_case.script.add(
        Reply(tool_calls=[ScriptedToolCall("lookup_customer", {"email": "ada@example.com"})]),
        answer(provider_case, {**TICKET, "customer": {"name": "Ada Lovelace", "email": "ada@example.com"}},
               agent_has_tools=True))
    agent = Agent(name="Triage", tools=[lookup_customer], output_type=Ticket, llm_config=provider_case.config)
    response = await Runner(agent).run("ada@example.com cannot log in")
    await agent.aclose()
    assert response.status == "success", response.error
    assert [call.name for call in response.tool_calls] == ["lookup_customer"]
    assert response.tool_calls[0].result == "Ada Lovelace, premium plan"
    assert isinstance(response.output, Ticket) and response.output.customer.name == "Ada Lovelace"
    first, second = provider_case.script.requests
    assert "lookup_customer" in provider_case.tools_of(first)
    asked_schema(provider_case, first)
    assert ("tool", "result", "Ada Lovelace, premium plan") in provider_case.normalise(second)


async def test_a_type_that_is_not_an_object_is_wrapped_on_the_wire(provider_case: ProviderCase) -> None:
    provider_case.script.add(Reply(text=json.dumps({"result": ["red", "green"]})))
    agent = Agent(name="Colours", output_type=list[str], llm_config=provider_case.config)
    response = await Runner(agent).run("Two colours?")
    await agent.aclose()
    assert response.status == "success", response.error
    assert response.output == ["red", "green"]
    assert response.to_dict()["output"] == ["red", "green"]
    assert asked_schema_of_list(provider_case, provider_case.script.requests[0]) == {
        "type": "array", "items": {"type": "string"}}


def asked_schema_of_list(case: ProviderCase, body: dict[str, Any]) -> dict[str, Any]:
    """The ``result`` property of the wrapper object each provider was sent (Gemini's schema dialect
    spelled back in JSON Schema's lower case)."""
    if case.name in ("openai", "azure_openai"):
        schema = body["response_format"]["json_schema"]["schema"]
    elif case.name == "anthropic":
        schema = body["tools"][0]["input_schema"]
    elif case.name == "google":
        schema = body["generationConfig"]["responseSchema"]
    else:
        schema = body["format"]
    inner = schema["properties"]["result"]
    return {"type": inner["type"].lower(), "items": {"type": inner["items"]["type"].lower()}}


async def test_a_handoff_to_a_typed_agent_returns_its_typed_answer(openai: OpenAIServer) -> None:
    from azurefunctions.agents import AgentFunctionApp
    from azurefunctions.agents.handoff import HandoffConfig, HandoffMode, HandoffTarget
    from azurefunctions.agents.sessions.memory import MemorySessionStore

    front = Agent(name="front_desk", instructions="You greet customers",
                  handoff_config=HandoffConfig(mode=HandoffMode.SWARM,
                                               targets=[HandoffTarget(agent_name="triage")]))
    triage = Agent(name="triage", instructions="You classify tickets", output_type=Ticket)
    app = AgentFunctionApp(agents=[front, triage], create_triggers=False, session_store=MemorySessionStore())
    openai.script.add_for("You greet", Reply(tool_calls=[ScriptedToolCall("transfer_to_triage",
                                                                          {"reason": "a ticket"})]))
    openai.script.add_for("You classify", Reply(text=json.dumps(TICKET)))
    response = await app.runners["front_desk"].run("My login is broken")
    await app.aclose()
    assert response.status == "success", response.error
    assert response.agent == "triage" and response.handoff_path == ["front_desk", "triage"]
    assert response.output == Ticket.model_validate(TICKET)
    classify = next(r for r in openai.script.requests if r["messages"][0]["content"].startswith("You classify"))
    assert classify["response_format"]["json_schema"]["name"] == "Ticket"
    greet = next(r for r in openai.script.requests if r["messages"][0]["content"].startswith("You greet"))
    assert "response_format" not in greet
