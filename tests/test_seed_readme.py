"""The seed README's code blocks, run unchanged against the local OpenAI-compatible server.

The README hard-codes ``api_key="your-openai-api-key"``; the local server accepts exactly that key, and the SDK
is pointed at it through its own ``OPENAI_BASE_URL`` setting, so not a character of the snippets changes.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator

import pytest

from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall


@pytest.fixture
def readme_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    with OpenAIServer(api_key="your-openai-api-key") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "your-openai-api-key")
        yield server


def run_block(source: str, namespace: dict | None = None) -> dict:
    namespace = namespace if namespace is not None else {}
    exec(compile(textwrap.dedent(source), "<readme>", "exec"), namespace)  # noqa: S102
    return namespace


BUILD_YOUR_OWN_AGENT = '''
import azure.functions as func
from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig, LLMProvider
def my_tool(query: str) -> str:
    """Your custom tool implementation."""
    return f"Processed: {query}"
# Configure LLM
llm_config = LLMConfig(
provider=LLMProvider.OPENAI,
model_name="gpt-4",
api_key="your-openai-api-key"
)
# Create agent
my_agent = Agent(
name="MyAgent",
instructions="You are a helpful assistant with custom tools.",
tools=[my_tool],
llm_config=llm_config
)
# Deploy as Azure Function
app = AgentFunctionApp(agents={"MyAgent": my_agent})
'''


def test_build_your_own_agent(readme_openai: OpenAIServer) -> None:
    ns = run_block(BUILD_YOUR_OWN_AGENT)
    app = ns["app"]
    readme_openai.script.add(Reply(tool_calls=[ScriptedToolCall("my_tool", {"query": "invoices"})]))
    response = asyncio.run(app.runners["MyAgent"].run("Process my invoices"))
    assert response.status == "success"
    assert response.response == "Here is what I found: Processed: invoices"
    assert [c.name for c in response.tool_calls] == ["my_tool"]
    first = readme_openai.script.requests[0]
    assert first["model"] == "gpt-4"
    assert first["messages"][0] == {"role": "system", "content": "You are a helpful assistant with custom tools."}
    assert first["tools"][0]["function"]["name"] == "my_tool"
    assert {f.get_function_name() for f in app.get_functions()} >= {"agents_chat", "agents_info", "agents_list",
                                                                    "health"}


CORE_AGENT = '''
from azurefunctions.agents import Agent
agent = Agent(
    name="MyAgent",
    instructions="You are a helpful assistant",
    tools=[custom_tool],
    mcp_servers=[],
    llm_config=llm_config,
    enable_conversational_agent=True
)
'''

RUNNER_BLOCK = '''
from azurefunctions.agents.runner import Runner
from azurefunctions.agents.types import ChatRequest
# Create a runner for an agent
runner = Runner(agent)
async def main():
    results = []
    # Execute with different input types
    response = await runner.run("Simple string message")
    results.append(response)
    response = await runner.run({"message": "Dictionary input"})
    results.append(response)
    # Use structured requests (recommended)
    chat_request = ChatRequest(
        message="What's the weather?",
        user_id="user-123",
        session_id="session-456",
        context={"location": "Seattle"}
    )
    response = await runner.run(chat_request)
    results.append(response)
    return results
'''

REQUEST_RESPONSE_BLOCK = '''
from azurefunctions.agents.types import ChatRequest, ChatResponse
async def main2():
    # Structured request with rich metadata
    request = ChatRequest(
        message="What's the weather in Seattle?",
        user_id="user-123",
        session_id="session-456",
        context={"preferred_units": "fahrenheit"}
    )
    # Process and get structured response
    response = await runner.run(request)
    # Response contains rich information
    print(f"Status: {response.status}")
    print(f"Response: {response.response}")
    print(f"Context: {response.context}")
    print(f"Error: {response.error}") # If any
    # Convert to different formats
    response_dict = response.to_dict()
    return response_dict
'''


def test_core_components_agent_and_runner_blocks(readme_openai: OpenAIServer, capsys: pytest.CaptureFixture[str]
                                                  ) -> None:
    from azurefunctions.agents.types import LLMConfig, LLMProvider

    def custom_tool(city: str) -> str:
        """Look up the weather."""
        return f"Sunny in {city}"

    ns = {"custom_tool": custom_tool,
          "llm_config": LLMConfig(provider=LLMProvider.OPENAI, model_name="gpt-4", api_key="your-openai-api-key")}
    run_block(CORE_AGENT, ns)
    run_block(RUNNER_BLOCK, ns)
    for city in ("Paris", "Oslo", "Seattle"):
        readme_openai.script.add(Reply(tool_calls=[ScriptedToolCall("custom_tool", {"city": city})]), Reply(
            text=f"The tool says: Sunny in {city}"))
    results = asyncio.run(ns["main"]())
    assert [r.response for r in results] == ["The tool says: Sunny in Paris", "The tool says: Sunny in Oslo",
                                             "The tool says: Sunny in Seattle"]
    assert results[2].session_id == "session-456"
    assert results[2].context == {"location": "Seattle"}

    run_block(REQUEST_RESPONSE_BLOCK, ns)
    readme_openai.script.add(Reply(tool_calls=[ScriptedToolCall("custom_tool", {"city": "Seattle"})]))
    data = asyncio.run(ns["main2"]())
    out = capsys.readouterr().out
    assert "Status: success" in out
    assert "Response: Here is what I found: Sunny in Seattle" in out
    assert "Context: {'preferred_units': 'fahrenheit'}" in out
    assert "Error: None" in out
    assert data["response"] == "Here is what I found: Sunny in Seattle"
    # Same session as the previous turn: the model saw turn one.
    contents = [m.get("content") for m in readme_openai.script.requests[-2]["messages"]]
    assert "What's the weather?" in contents


TESTING_BLOCK = '''
# Test your agent locally
async def test_agent():
    response = await weather_agent.chat("What's the weather in Seattle?")
    print(response)
# Run the test
import asyncio
asyncio.run(test_agent())
'''


def test_testing_your_agents_block(readme_openai: OpenAIServer, capsys: pytest.CaptureFixture[str]) -> None:
    from azurefunctions.agents import Agent
    from azurefunctions.agents.types import LLMConfig, LLMProvider

    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"{city}: 12°C and raining"

    weather_agent = Agent(name="WeatherBot", instructions="Provide weather updates.", tools=[get_weather],
                          llm_config=LLMConfig(provider=LLMProvider.OPENAI, model_name="gpt-4",
                                               api_key="your-openai-api-key"))
    readme_openai.script.add(Reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Seattle"})]))
    run_block(TESTING_BLOCK, {"weather_agent": weather_agent})
    assert capsys.readouterr().out.strip() == "Here is what I found: Seattle: 12°C and raining"


CUSTOM_AGENT_BLOCK = '''
class CustomAgent(Agent):
    async def process_request(self, request_data):
        # Custom pre-processing
        request_data["message"] = request_data["message"].upper()
        result = await super().process_request(request_data)
        # Custom post-processing
        result.response = result.response + " [reviewed]"
        return result
'''


def test_custom_agent_process_request_is_the_override_point(openai: OpenAIServer) -> None:
    from azurefunctions.agents import Agent, Runner

    ns = run_block(CUSTOM_AGENT_BLOCK, {"Agent": Agent})
    agent = ns["CustomAgent"](name="Custom", instructions="x")
    openai.script.add(Reply(text="hello"))
    response = Runner(agent).run_sync("shout this")
    assert response.response == "hello [reviewed]"
    assert openai.script.requests[0]["messages"][-1] == {"role": "user", "content": "SHOUT THIS"}
