"""MCP server tools declared ``needs_approval`` (for the whole server, or per tool by its MCP name) pause the turn
like a function tool; the decision resumes it and the MCP server is called once, over a real stdio session."""

from __future__ import annotations

import sys

import pytest
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

from azurefunctions.agents import Agent, LLMConfig, MCPServer, MCPServerMode, MCPServerStdioParams, Runner
from azurefunctions.agents.sessions import MemorySessionStore

from .conftest import NESTED_SERVER

pytestmark = pytest.mark.timeout(90)


def nested(**declarations: object) -> MCPServer:
    params = MCPServerStdioParams(command=sys.executable, args=[str(NESTED_SERVER)])
    return MCPServer("nested", MCPServerMode.STDIO, params, **declarations)  # type: ignore[arg-type]


def test_declarations_apply_per_server_or_per_tool_and_are_checked() -> None:
    whole = nested(needs_approval=True, repeatable=False)
    assert whole.declared("slow") == (True, None, False)
    per_tool = nested(needs_approval={"slow": lambda args, ctx: args["seconds"] > 1}, approval_reason={"slow": "Waits"})
    approval, reason, repeatable = per_tool.declared("slow")
    assert callable(approval) and reason == "Waits" and repeatable is True
    assert per_tool.declared("order_weight") == (False, None, True)
    with pytest.raises(TypeError, match="needs_approval"):
        nested(needs_approval="yes")
    with pytest.raises(TypeError, match="repeatable"):
        nested(repeatable={"slow": "no"})


async def test_an_mcp_tool_that_needs_approval_runs_once_approved(openai: OpenAIServer) -> None:
    server = nested(needs_approval={"slow": lambda args, ctx: args["seconds"] > 0.05})
    agent = Agent(name="Waiter", instructions="Use the tools.", mcp_servers=[server],
                  llm_config=LLMConfig(provider="openai", api_key="test-openai-key", base_url=openai.base_url))
    runner = Runner(agent, session_store=MemorySessionStore())
    try:
        openai.script.clear()
        openai.script.add(Reply(tool_calls=[ScriptedToolCall("slow", {"seconds": 0.01})]), Reply(text="quick"),
                         Reply(tool_calls=[ScriptedToolCall("slow", {"seconds": 0.2})]))
        quick = await runner.run({"message": "wait a little", "session_id": "s-mcp"})
        assert quick.status == "success" and quick.tool_calls[0].result == "waited 0.01 s"
        paused = await runner.run({"message": "wait longer", "session_id": "s-mcp"})
        assert paused.status == "awaiting_approval"
        assert paused.approvals[0]["tool"] == "slow" and paused.approvals[0]["arguments"] == {"seconds": 0.2}
        openai.script.add(Reply(text="done waiting"))
        done = await runner.resume("s-mcp", paused.turn_id or "",
                                   [{"id": paused.approvals[0]["id"], "approved": True}])
        assert done.response == "done waiting"
        assert [c.result for c in done.tool_calls] == ["waited 0.2 s"]
        assert openai.script.calls == 4
    finally:
        await agent.aclose()
