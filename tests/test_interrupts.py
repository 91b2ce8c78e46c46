"""Turns that end waiting for the user (``interrupts.py``): a tool raises ``InputRequired``, the Runner ends the
turn with the question, and the next turn of the session reads the user's reply as the answer to it."""

from __future__ import annotations

import pytest

from azurefunctions.agents import InputRequired, Runner, ask_user
from azurefunctions.agents.interrupts import input_request
from azurefunctions.agents.sessions.memory import MemorySessionStore
from azurefunctions.agents.tools.base import ToolContext
from azurefunctions.agents.tools.function_tool import FunctionTool
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

from .test_runner import make_agent


def approve_refund(amount: float) -> str:
    """Refund an order; amounts over 100 need a person's approval."""
    if amount > 100:
        raise InputRequired(f"Approve a refund of {amount:g}?", reason="approval", data={"amount": amount})
    return f"refunded {amount:g}"


async def test_a_clarifying_question_ends_the_turn_and_the_reply_continues_it(openai: OpenAIServer) -> None:
    store = MemorySessionStore()
    runner = Runner(make_agent(openai, [ask_user]), session_store=store)
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("ask_user", {"question": "Which city?"})]),
                      Reply(text="It is sunny in Oslo."))
    first = await runner.run({"message": "What is the weather?", "session_id": "s-1"})
    assert first.ok and first.response == "Which city?"
    request = input_request(first)
    assert request is not None and (request.question, request.reason) == ("Which city?", "clarification")
    assert openai.script.calls == 1  # the turn ended at the question: no second model call
    second = await runner.run({"message": "Oslo", "session_id": "s-1"})
    assert second.response == "It is sunny in Oslo." and input_request(second) is None
    messages = openai.script.requests[-1]["messages"]
    tool_result = next(m for m in messages if m["role"] == "tool")
    assert tool_result["content"] == "Asked the user: Which city? (waiting for their answer)"
    assert [m.get("content") for m in messages if m["role"] in ("user", "assistant") and m.get("content")] == [
        "What is the weather?", "Which city?", "Oslo"]


async def test_an_approval_step_carries_its_reason_and_data(openai: OpenAIServer) -> None:
    runner = Runner(make_agent(openai, [approve_refund]))
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("approve_refund", {"amount": 250})]))
    response = await runner.run("Refund order 7")
    assert response.metadata["input_required"] == {"question": "Approve a refund of 250?", "reason": "approval",
                                                   "data": {"amount": 250.0}}


async def test_input_required_is_not_a_tool_failure_and_needs_a_question() -> None:
    tool = FunctionTool(ask_user)
    with pytest.raises(InputRequired):
        await tool.invoke({"question": "Which one?"}, ToolContext(agent_name="a"))
    with pytest.raises(ValueError, match="non-empty"):
        InputRequired("  ")
