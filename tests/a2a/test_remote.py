"""``RemoteA2AAgent``: a local agent's tool that calls an A2A agent of another app (a local host process)
through the a2a-sdk client; the card is cached, headers go with every request, failures are tool errors."""

from __future__ import annotations

from typing import Any

import pytest
from a2a.client import A2ACardResolver
from a2a.types.a2a_pb2 import Message, Part, Task, TaskState, TaskStatus
from tests.servers.base import free_port
from tests.servers.localhost import LocalHostProcess

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.a2a.remote import RemoteA2AAgent
from azurefunctions.agents.sessions import MemorySessionStore
from azurefunctions.agents.tools.base import ToolContext
from azurefunctions.agents.types import LLMConfig


def local_agent(remote: RemoteA2AAgent) -> Agent:
    return Agent(name="Assistant", instructions="Ask the converter.", llm_config=LLMConfig(provider="offline"),
                 a2a_agents=[remote])


async def test_a_local_agent_quotes_the_remote_agent(host: LocalHostProcess,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    original = A2ACardResolver.get_agent_card

    async def counted(self: A2ACardResolver, *args: Any, **kwargs: Any) -> Any:
        reads.append(str(kwargs.get("relative_card_path")))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(A2ACardResolver, "get_agent_card", counted)
    remote = RemoteA2AAgent(f"{host.url}/api/agents/Converter", name="converter",
                            headers={"x-test": "sent with every request"})
    runner = Runner(local_agent(remote), session_store=MemorySessionStore())
    try:
        first = await runner.run({"message": "Ask the converter to convert 5 degrees celsius to fahrenheit"})
        second = await runner.run({"message": "Ask the converter to convert 40 degrees celsius to fahrenheit",
                                   "session_id": first.session_id})
    finally:
        await runner.agent.aclose()
    assert first.status == "success", first.error
    assert first.response == ("[offline model] converter returned: [offline model] celsius_to_fahrenheit returned: "
                              "5 C is 41.0 F")
    assert second.response.endswith("40 C is 104.0 F")
    assert reads == ["/api/agents/Converter/.well-known/agent-card.json"]  # resolved once, then cached
    assert remote.card is not None and remote.card.name == "Converter"
    # The tool now describes itself with the remote card.
    assert "Converts temperatures" in remote.as_tool().description


async def test_one_local_session_is_one_remote_conversation(host: LocalHostProcess) -> None:
    import httpx

    remote = RemoteA2AAgent(f"{host.url}/api/agents/Echo/.well-known/agent-card.json", name="echo")
    tool = remote.as_tool()
    for text in ("first words", "second words"):
        output = await tool.invoke({"message": text}, ToolContext(agent_name="Assistant", session_id="local-1"))
        assert not output.is_error and output.content.startswith("[offline model] You said:")
    context = remote.context_id("local-1")
    assert context is not None and context != remote.context_id("local-2")
    session = httpx.get(f"{host.url}/api/sessions/{context}", timeout=30).json()
    assert [m["content"] for m in session["messages"] if m["role"] == "user"] == ["first words", "second words"]


async def test_failures_are_tool_errors_that_say_what_happened(host: LocalHostProcess) -> None:
    context = ToolContext(agent_name="Assistant")
    nobody = RemoteA2AAgent(f"http://127.0.0.1:{free_port()}", name="nobody").as_tool()
    output = await nobody.invoke({"message": "hello"}, context)
    assert output.is_error
    assert output.content.startswith("The remote agent nobody did not answer: its Agent Card at http://127.0.0.1:")
    assert "connection refused or host unreachable" in output.content
    unknown = RemoteA2AAgent(f"{host.url}/api/agents/Nobody", name="unknown").as_tool()
    output = await unknown.invoke({"message": "hello"}, context)
    assert output.is_error and "(HTTP 404)" in output.content
    empty = await RemoteA2AAgent(host.url, name="x").as_tool().invoke({"message": " "}, context)
    assert empty.is_error and empty.content == "message must be a non-empty string"


def test_remote_task_outcomes() -> None:
    remote = RemoteA2AAgent("https://agents.example", name="peer")

    def task(state: int, text: str = "") -> Task:
        status = TaskStatus(state=state)
        if text:
            status.message.CopyFrom(Message(message_id="m", parts=[Part(text=text)]))
        return Task(id="t", context_id="c", status=status)

    failed = remote._task_output(task(TaskState.TASK_STATE_FAILED, "The model is unavailable."))
    assert failed.is_error and failed.content == ("The remote agent peer did not answer: its task ended failed: "
                                                  "The model is unavailable.")
    asking = remote._task_output(task(TaskState.TASK_STATE_INPUT_REQUIRED, "Which city?"))
    assert not asking.is_error and asking.content == "The remote agent peer needs more (input-required): Which city?"
    canceled = remote._task_output(task(TaskState.TASK_STATE_CANCELED))
    assert canceled.is_error and canceled.content.endswith("its task ended canceled.")


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="url must be an http"):
        RemoteA2AAgent("ftp://x", name="a")
    with pytest.raises(ValueError, match="name must be"):
        RemoteA2AAgent("https://x.example", name="has space")
    with pytest.raises(ValueError, match="headers"):
        RemoteA2AAgent("https://x.example", name="a", headers={"k": 1})  # type: ignore[dict-item]
    remote = RemoteA2AAgent("https://x.example/api/agents/A/", name="a")
    assert (remote.base_url, remote.card_path) == ("https://x.example", "/api/agents/A/.well-known/agent-card.json")


def test_declaring_a_remote_agent_imports_no_a2a_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom azurefunctions.agents import Agent\nfrom azurefunctions.agents.a2a.remote import "
            "RemoteA2AAgent\nfrom azurefunctions.agents.types import LLMConfig\n"
            "agent = Agent(name='A', llm_config=LLMConfig(provider='offline'), a2a_agents=[RemoteA2AAgent("
            "'https://peer.example', name='peer')])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('a2a', 'httpx', 'google')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
