"""The README's ``process_request`` override runs on every path that reaches its agent, through the local host
over real HTTP: the chat route (JSON and SSE), a handoff from another agent, an MCP tool call (the official
``mcp`` client) and an A2A task (JSON-RPC ``SendMessage``). The model is the OpenAI SDK against the local server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall
from tests.streaming.sse_client import events

APP = """
from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.handoff import HandoffConfig, HandoffMode, HandoffTarget
from azurefunctions.agents.types import LLMConfig, LLMProvider

MODEL = LLMConfig(provider=LLMProvider.OPENAI, model_name="gpt-4o-mini")


class CustomAgent(Agent):
    async def process_request(self, request_data):
        request_data["message"] = request_data["message"].upper()
        result = await super().process_request(request_data)
        result.response = result.response + " [reviewed]"
        return result


billing = CustomAgent(name="billing", instructions="You handle billing", description="Billing", llm_config=MODEL)
front = Agent(name="front", instructions="You are the front desk", llm_config=MODEL,
              handoff_config=HandoffConfig(mode=HandoffMode.SWARM, targets=[HandoffTarget(agent_name="billing")]))
app = AgentFunctionApp(agents=[front, billing], mode=AgentMode.A2A, http_auth_level="anonymous")
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalHostProcess, OpenAIServer]]:
    folder = tmp_path_factory.mktemp("custom-agent")
    (folder / "function_app.py").write_text(APP, encoding="utf-8")
    state = tmp_path_factory.mktemp("state")
    with OpenAIServer() as model, LocalHostProcess(folder, env=app_env(state, model)) as host:
        yield host, model


@pytest.fixture
def model(served: tuple[LocalHostProcess, OpenAIServer]) -> OpenAIServer:
    served[1].script.clear()
    served[1].script.add_for("You handle billing", Reply(text="Paid."))
    return served[1]


@pytest.fixture
def url(served: tuple[LocalHostProcess, OpenAIServer]) -> str:
    return served[0].url


def billing_inputs(model: OpenAIServer) -> list[str]:
    return [[m["content"] for m in r["messages"] if m["role"] == "user"][-1] for r in model.script.requests
            if r["messages"][0]["content"].startswith("You handle billing")]


def test_direct_json(url: str, model: OpenAIServer) -> None:
    reply = httpx.post(f"{url}/api/agents/billing/chat", json={"message": "paid?"}, timeout=30, trust_env=False)
    assert reply.json()["response"] == "Paid. [reviewed]"
    assert billing_inputs(model) == ["PAID?"]


def test_direct_sse(url: str, model: OpenAIServer) -> None:
    with httpx.stream("POST", f"{url}/api/agents/billing/chat", json={"message": "paid?", "stream": True},
                      timeout=30, trust_env=False) as reply:
        received = list(events(reply))
    assert received[-1].event == "done", [e.event for e in received]
    assert "".join(e.text for e in received if e.event == "text_delta") == "Paid. [reviewed]"
    assert billing_inputs(model) == ["PAID?"]


def test_handoff(url: str, model: OpenAIServer) -> None:
    model.script.add_for("You are the front desk",
                         Reply(tool_calls=[ScriptedToolCall("transfer_to_billing", {"reason": "billing"})]))
    reply = httpx.post(f"{url}/api/agents/front/chat", json={"message": "invoice paid?"}, timeout=30,
                       trust_env=False).json()
    assert reply["response"] == "Paid. [reviewed]" and reply["handoff_path"] == ["front", "billing"]
    assert billing_inputs(model) == ["INVOICE PAID?"]


async def test_mcp_tool_call(url: str, model: OpenAIServer) -> None:
    mcp = pytest.importorskip("mcp")
    async with mcp.Client(f"{url}/api/mcp", cache=None) as client:
        result = await client.call_tool("billing", {"message": "paid?"})
    assert result.content[0].text == "Paid. [reviewed]"
    assert billing_inputs(model) == ["PAID?"]


def test_a2a_task(url: str, model: OpenAIServer) -> None:
    message = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": "paid?"}]}
    reply = httpx.post(f"{url}/api/agents/billing/a2a", timeout=30, trust_env=False,
                       headers={"A2A-Version": "1.0"},
                       json={"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}})
    task = reply.json()["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert "Paid. [reviewed]" in json.dumps(task)
    assert billing_inputs(model) == ["PAID?"]
