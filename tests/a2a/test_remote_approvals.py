"""A remote A2A agent used as a tool carries the approval declarations to its tool; a call that needs approval
reaches the remote agent (a local host process, through the a2a-sdk client) only once approved."""

from __future__ import annotations

from typing import Any

import pytest

from azurefunctions.agents import RemoteA2AAgent


def test_the_declarations_reach_the_remote_agents_tool() -> None:
    policy = lambda args, ctx: "refund" in args.get("message", "")  # noqa: E731
    remote = RemoteA2AAgent("http://127.0.0.1:9/", name="billing", needs_approval=policy,
                            approval_reason="Billing changes money", repeatable=False)
    tool = remote.as_tool()
    assert tool.needs_approval is policy and tool.approval_reason == "Billing changes money"
    assert tool.repeatable is False and tool.accepts_idempotency_key is False
    plain = RemoteA2AAgent("http://127.0.0.1:9/", name="faq").as_tool()
    assert (plain.needs_approval, plain.approval_reason, plain.repeatable) == (False, None, True)


@pytest.mark.parametrize(("option", "value"), [("needs_approval", "always"), ("repeatable", 0),
                                               ("approval_reason", 3)])
def test_a_wrong_declaration_names_itself(option: str, value: object) -> None:
    with pytest.raises(TypeError, match=option):
        RemoteA2AAgent("http://127.0.0.1:9/", name="billing", **{option: value})  # type: ignore[arg-type]


async def test_a_call_to_a_remote_agent_waits_for_approval_then_reaches_it_once(host: Any, openai: Any) -> None:
    from tests.servers.scripted import Reply, ScriptedToolCall

    from azurefunctions.agents import Agent, Runner
    from azurefunctions.agents.sessions import MemorySessionStore
    from azurefunctions.agents.types import LLMConfig

    remote = RemoteA2AAgent(f"{host.url}/api/agents/Converter", name="converter", needs_approval=True,
                            approval_reason="The converter is another team's service")
    config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=openai.api_key,
                       base_url=openai.base_url, max_retries=0)
    runner = Runner(Agent(name="Assistant", instructions="Ask the converter.", llm_config=config,
                          a2a_agents=[remote]), session_store=MemorySessionStore())
    openai.script.add(Reply(tool_calls=[ScriptedToolCall(
        "converter", {"message": "convert 5 degrees celsius to fahrenheit"})]))
    try:
        paused = await runner.run({"message": "5 C in F?", "session_id": "s-remote"})
        assert paused.status == "awaiting_approval"
        assert paused.approvals[0]["tool"] == "converter"
        assert paused.approvals[0]["reason"] == "The converter is another team's service"
        assert remote.card is None  # nothing was sent to the remote agent yet
        done = await runner.resume("s-remote", paused.turn_id or "",
                                   [{"id": paused.approvals[0]["id"], "approved": True}])
    finally:
        await runner.agent.aclose()
    assert done.status == "success", done.error
    assert done.response is not None and done.response.endswith("5 C is 41.0 F")
    assert [c.name for c in done.tool_calls] == ["converter"] and openai.script.calls == 2
