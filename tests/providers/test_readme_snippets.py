"""The README's ``LLMConfig`` snippets for Anthropic, Google and Ollama build agents that work.

The snippets run unchanged: their literal keys are the keys the local servers accept, and the endpoints come
from the documented variables (``ANTHROPIC_BASE_URL``, ``GOOGLE_GEMINI_BASE_URL``). The Ollama snippet's
``base_url`` is the one value that changes, to the local server's address.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.events import TextDelta, TurnCompleted
from tests.servers.anthropic_server import AnthropicServer
from tests.servers.gemini_server import GeminiServer
from tests.servers.ollama_server import OllamaServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

ANTHROPIC_SNIPPET = '''
from azurefunctions.agents.types import LLMConfig, LLMProvider
llm_config = LLMConfig(
provider=LLMProvider.ANTHROPIC,
model_name="claude-3-sonnet-20240229",
api_key="your-anthropic-api-key"
)
'''

GOOGLE_SNIPPET = '''
from azurefunctions.agents.types import LLMConfig, LLMProvider
llm_config = LLMConfig(
provider=LLMProvider.GOOGLE,
model_name="gemini-pro",
api_key="your-google-api-key"
)
'''

OLLAMA_SNIPPET = '''
from azurefunctions.agents.types import LLMConfig, LLMProvider
llm_config = LLMConfig(
provider=LLMProvider.OLLAMA,
model_name="llama3.2",
base_url="http://localhost:11434"
)
'''


def get_weather(location: str) -> str:
    """Current weather for a location."""
    return f"Sunny, 22 C in {location}"


def config_from(snippet: str, replace: dict[str, str] | None = None) -> Any:
    source = textwrap.dedent(snippet)
    for old, new in (replace or {}).items():
        source = source.replace(old, new)
    namespace: dict[str, Any] = {}
    exec(compile(source, "<readme>", "exec"), namespace)  # noqa: S102
    return namespace["llm_config"]


@pytest.fixture
def readme_anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicServer]:
    with AnthropicServer(api_key="your-anthropic-api-key") as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        yield server


@pytest.fixture
def readme_gemini(monkeypatch: pytest.MonkeyPatch) -> Iterator[GeminiServer]:
    with GeminiServer(api_key="your-google-api-key") as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        yield server


def script_weather_turn(script: Script) -> None:
    script.add(Reply(tool_calls=[ScriptedToolCall("get_weather", {"location": "Paris"})],
                     input_tokens=30, output_tokens=8),
               Reply(text="It is sunny and 22 C in Paris.", input_tokens=50, output_tokens=12))


async def run_weather_agent(llm_config: Any, script: Script) -> None:
    script_weather_turn(script)
    agent = Agent(name="WeatherBot", instructions="You report the weather.", tools=[get_weather],
                  llm_config=llm_config)
    response = await Runner(agent).run("What's the weather in Paris?")
    assert response.status == "success", response.error
    assert response.response == "It is sunny and 22 C in Paris."
    assert [(c.name, c.arguments, c.result) for c in response.tool_calls] == [
        ("get_weather", {"location": "Paris"}, "Sunny, 22 C in Paris")]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (80, 20)
    assert script.calls == 2


async def test_anthropic_snippet(readme_anthropic: AnthropicServer) -> None:
    await run_weather_agent(config_from(ANTHROPIC_SNIPPET), readme_anthropic.script)
    assert readme_anthropic.script.requests[0]["model"] == "claude-3-sonnet-20240229"
    assert readme_anthropic.script.requests[0]["system"].startswith("You report the weather.")


async def test_google_snippet(readme_gemini: GeminiServer) -> None:
    await run_weather_agent(config_from(GOOGLE_SNIPPET), readme_gemini.script)
    assert readme_gemini.script.headers[0]["x-goog-api-key"] == "your-google-api-key"


async def test_ollama_snippet() -> None:
    with OllamaServer() as server:
        config = config_from(OLLAMA_SNIPPET, {"http://localhost:11434": server.url})
        await run_weather_agent(config, server.script)
        assert server.script.requests[0]["model"] == "llama3.2"


async def test_ollama_snippet_without_base_url_uses_ollama_host(monkeypatch: pytest.MonkeyPatch) -> None:
    with OllamaServer() as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        config = config_from(OLLAMA_SNIPPET, {'base_url="http://localhost:11434"': ""})
        assert config.base_url is None
        await run_weather_agent(config, server.script)


async def test_anthropic_agent_streams_text_deltas(readme_anthropic: AnthropicServer) -> None:
    readme_anthropic.script.add(Reply(text="Streaming from Claude, piece by piece.", chunk_size=5))
    agent = Agent(name="Streamer", instructions="Talk.", llm_config=config_from(ANTHROPIC_SNIPPET),
                  streaming=True)
    events = [event async for event in Runner(agent).run_stream({"message": "Hi", "stream": True})]
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1
    assert "".join(deltas) == "Streaming from Claude, piece by piece."
    assert isinstance(events[-1], TurnCompleted)
