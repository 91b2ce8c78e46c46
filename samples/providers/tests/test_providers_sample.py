"""The providers sample served by the local host, each agent's model replaced by its provider's local server.

Every provider is reached through its real SDK over HTTP on 127.0.0.1: Anthropic and Gemini with keys and
their base-URL variables, Ollama through ``OLLAMA_HOST``, and Azure OpenAI with a managed-identity token from
a local token endpoint (no key at all).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from tests.servers.anthropic_server import AnthropicServer
from tests.servers.gemini_server import GeminiServer
from tests.servers.identity import IdentityServer
from tests.servers.localhost import LocalHostProcess
from tests.servers.ollama_server import OllamaServer
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[1]
AGENTS = ["ClaudeAgent", "GeminiAgent", "OllamaAgent", "AzureOpenAIAgent"]
# Settings that would otherwise leak into the app from the developer's environment.
CLEARED = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "AGENT_PROVIDER", "AGENT_MODEL",
           "OLLAMA_API_KEY", "AZURE_KEY_VAULT_ENDPOINT", "APPLICATIONINSIGHTS_CONNECTION_STRING",
           "WEBSITE_INSTANCE_ID", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GOOGLE_API_KEY",
           "GOOGLE_GEMINI_BASE_URL", "OLLAMA_HOST", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT"]


@dataclass
class Peers:
    anthropic: AnthropicServer
    gemini: GeminiServer
    ollama: OllamaServer
    openai: OpenAIServer
    identity: IdentityServer

    def script_of(self, agent: str) -> Script:
        return {"ClaudeAgent": self.anthropic.script, "GeminiAgent": self.gemini.script,
                "OllamaAgent": self.ollama.script, "AzureOpenAIAgent": self.openai.script}[agent]

    def clear(self) -> None:
        for agent in AGENTS:
            self.script_of(agent).clear()


@pytest.fixture(scope="module")
def peers() -> Iterator[Peers]:
    with AnthropicServer() as anthropic, GeminiServer() as gemini, OllamaServer() as ollama, \
            OpenAIServer(bearer_token=None) as openai, IdentityServer() as identity:
        openai.token_validator = lambda token: token in identity.tokens
        yield Peers(anthropic, gemini, ollama, openai, identity)


@pytest.fixture(scope="module")
def app(peers: Peers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = dict.fromkeys(CLEARED, "")
    env.update({
        "ANTHROPIC_API_KEY": peers.anthropic.api_key, "ANTHROPIC_BASE_URL": peers.anthropic.url,
        "GOOGLE_API_KEY": peers.gemini.api_key, "GOOGLE_GEMINI_BASE_URL": peers.gemini.url,
        "OLLAMA_HOST": peers.ollama.url,
        "AZURE_OPENAI_ENDPOINT": peers.openai.url, "AZURE_OPENAI_DEPLOYMENT": "chat-deployment",
        **peers.identity.env,
        "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("providers") / "sessions.sqlite3"),
    })
    with LocalHostProcess(SAMPLE, env=env) as host:
        yield host


@pytest.fixture
def scripts(peers: Peers) -> Peers:
    peers.clear()
    return peers


def test_the_app_lists_one_agent_per_provider(app: LocalHostProcess) -> None:
    listed = httpx.get(f"{app.url}/api/agents", timeout=10).json()["agents"]
    assert [a["name"] for a in listed] == AGENTS
    info = httpx.get(f"{app.url}/api/agents/GeminiAgent/info", timeout=10).json()
    assert sorted(t["name"] for t in info["tools"]) == ["convert_temperature", "word_stats"]


@pytest.mark.parametrize("agent", AGENTS)
def test_each_agent_calls_a_tool_through_its_provider(app: LocalHostProcess, scripts: Peers, agent: str) -> None:
    script = scripts.script_of(agent)
    script.add(Reply(tool_calls=[ScriptedToolCall("convert_temperature",
                                                  {"value": 100, "from_unit": "celsius", "to_unit": "fahrenheit"})],
                     input_tokens=40, output_tokens=10),
               Reply(text="100 C is 212 F.", input_tokens=60, output_tokens=6))
    reply = httpx.post(f"{app.url}/api/agents/{agent}/chat", json={"message": "100 C in F?"}, timeout=30)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["response"] == "100 C is 212 F."
    assert body["tool_calls"][0]["result"] == "100 celsius = 212 fahrenheit"
    assert body["usage"]["input_tokens"] == 100 and body["usage"]["output_tokens"] == 16
    assert script.calls == 2
    others = [scripts.script_of(a).calls for a in AGENTS if a != agent]
    assert others == [0, 0, 0], "only the agent's own provider was called"


def test_azure_openai_agent_signs_in_with_the_managed_identity(app: LocalHostProcess, scripts: Peers) -> None:
    scripts.openai.script.add(Reply(text="Signed in without a key."))
    reply = httpx.post(f"{app.url}/api/agents/AzureOpenAIAgent/chat", json={"message": "hi"}, timeout=30)
    assert reply.json()["response"] == "Signed in without a key."
    headers = scripts.openai.script.headers[0]
    # No AZURE_OPENAI_API_VERSION: Azure's v1 API, the deployment name as the model.
    assert headers[":path"] == "/openai/v1/chat/completions"
    assert scripts.openai.script.requests[0]["model"] == "chat-deployment"
    assert headers["authorization"].removeprefix("Bearer ") in scripts.identity.tokens
    assert "api-key" not in headers
    assert scripts.identity.requests[-1].resource == "https://cognitiveservices.azure.com"


def test_claude_streams_over_sse(app: LocalHostProcess, scripts: Peers) -> None:
    scripts.anthropic.script.add(Reply(text="Streaming from Claude, one piece at a time.", chunk_size=6))
    with httpx.stream("POST", f"{app.url}/api/agents/ClaudeAgent/chat", timeout=30,
                      json={"message": "Say something", "stream": True}) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in reply.iter_lines() if line.startswith("data:")]
    deltas = [e["text"] for e in events if e["type"] == "text_delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == "Streaming from Claude, one piece at a time."
    assert events[-1]["type"] == "done"


def test_a_provider_rate_limit_is_a_429_with_retry_after(app: LocalHostProcess, scripts: Peers) -> None:
    # A Retry-After longer than the retry budget is not slept through: the client is told when to come back.
    scripts.gemini.script.add(Reply(status=429, retry_after=90))
    reply = httpx.post(f"{app.url}/api/agents/GeminiAgent/chat", json={"message": "hi"}, timeout=30)
    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "90"
    assert reply.json()["error"]["code"] == "rate_limited"
    assert scripts.gemini.script.calls == 1


def test_without_provider_settings_every_agent_uses_the_default_model(scripts: Peers, tmp_path: Path) -> None:
    env = dict.fromkeys(CLEARED, "")
    env["AGENTS_SESSION_DB"] = str(tmp_path / "sessions.sqlite3")
    with LocalHostProcess(SAMPLE, env=env) as host:
        for agent in AGENTS:
            body = httpx.post(f"{host.url}/api/agents/{agent}/chat", json={"message": "hello"}, timeout=30).json()
            assert body["response"].startswith("[offline model]"), body
    assert [scripts.script_of(a).calls for a in AGENTS] == [0, 0, 0, 0]


def load_sample_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"providers_sample_{name}", SAMPLE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shared_tools() -> None:
    tools = load_sample_module("shared_tools")
    assert tools.convert_temperature(32, "fahrenheit", "celsius") == "32 fahrenheit = 0 celsius"
    assert tools.convert_temperature(0, "kelvin", "celsius") == "0 kelvin = -273.15 celsius"
    assert tools.convert_temperature(-500, "celsius", "kelvin") == "-500 celsius is below absolute zero."
    assert tools.word_stats("the cat and the hat and the bat", top=2) == (
        "8 words, 5 distinct; most frequent: the (3), and (2)")
    assert tools.word_stats("   ") == "The text has no words."
