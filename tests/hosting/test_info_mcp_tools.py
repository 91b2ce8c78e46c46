"""``GET /api/agents/{name}/info`` lists an agent's MCP tools (name, description, schema, server) once a turn has
listed them, and says when they are not known yet. The MCP peer is the real reference server
(``@modelcontextprotocol/server-everything`` over stdio, started by the agent's MCP client), the app is served
by the local host over HTTP, and its model is the OpenAI SDK talking to the local OpenAI server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.mcp_peers import everything_available, everything_stdio_command
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply

APP = """
import json, os
from azurefunctions.agents import Agent, AgentFunctionApp, MCPServer, MCPServerMode, MCPServerStdioParams
from azurefunctions.agents.types import LLMConfig, LLMProvider

def shout(text: str) -> str:
    \"\"\"Upper-case a text.\"\"\"
    return text.upper()

everything = MCPServer("everything", MCPServerMode.STDIO, MCPServerStdioParams(
    command=os.environ["EVERYTHING_COMMAND"], args=json.loads(os.environ["EVERYTHING_ARGS"])))
agent = Agent(name="Helper", instructions="Use the tools.", tools=[shout], mcp_servers=[everything],
              llm_config=LLMConfig(provider=LLMProvider.OPENAI, model_name="gpt-4o-mini"))
app = AgentFunctionApp(agents=[agent])
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalHostProcess, OpenAIServer]]:
    if not everything_available():
        message = "server-everything is not installed (npm ci in tests/node)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    command, args = everything_stdio_command()
    folder = tmp_path_factory.mktemp("mcp-app")
    (folder / "function_app.py").write_text(APP, encoding="utf-8")
    with OpenAIServer() as model:
        env = app_env(tmp_path_factory.mktemp("state"), model)
        env.update({"EVERYTHING_COMMAND": command, "EVERYTHING_ARGS": json.dumps(args)})
        with LocalHostProcess(folder, env=env) as process:
            yield process, model


@pytest.mark.timeout(120)
def test_the_info_route_lists_mcp_tools_once_known(host: tuple[LocalHostProcess, OpenAIServer]) -> None:
    process, model = host
    with httpx.Client(base_url=process.url, timeout=60, trust_env=False) as client:
        before = client.get("/api/agents/Helper/info").json()
        assert [tool["name"] for tool in before["tools"]] == ["shout"]
        assert before["mcp_servers"] == [{
            "name": "everything", "tools_known": False,
            "note": "The tools are listed when the agent first needs them (its first turn)."}]

        model.script.add(Reply(text="Ready."))
        chat = client.post("/api/agents/Helper/chat", json={"message": "What can you do?"})
        assert chat.status_code == 200 and chat.json()["response"] == "Ready."
        offered = {tool["function"]["name"] for tool in model.script.requests[-1]["tools"]}

        after = client.get("/api/agents/Helper/info").json()
    tools = {tool["name"]: tool for tool in after["tools"]}
    # Exactly the tools the model was offered, each with the server it comes from.
    assert set(tools) == offered
    assert "server" not in tools["shout"]  # the agent's own tool
    echo = tools["echo"]
    assert echo["server"] == "everything"
    assert echo["description"]
    assert echo["parameters"]["type"] == "object" and "message" in echo["parameters"]["properties"]
    mcp_tools = [tool for tool in after["tools"] if tool.get("server") == "everything"]
    assert after["mcp_servers"] == [{"name": "everything", "tools_known": True, "tool_count": len(mcp_tools)}]
    assert len(mcp_tools) > 1
