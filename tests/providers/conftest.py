"""Provider test fixtures: one local wire-format server per provider, and the cases of the conformance suite.

``provider_case`` is parametrised over every provider. Each case carries an ``LLMConfig`` pointing at that
provider's local server, the server's ``Script`` (queue replies, read recorded requests), and a ``normalise``
function that reads a recorded request back into provider-neutral entries, so one test can assert on what
five different wire formats carried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from azurefunctions.agents.types import LLMConfig
from tests.servers.anthropic_server import AnthropicServer
from tests.servers.gemini_server import GeminiServer
from tests.servers.ollama_server import OllamaServer
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Script

# (role, kind, value): kind is "text" (value: the text), "call" (value: tool name and arguments) or
# "result" (value: the tool result text).
Entry = tuple[str, str, Any]


@dataclass
class ProviderCase:
    name: str
    config: LLMConfig
    script: Script
    normalise: Callable[[dict[str, Any]], list[Entry]]
    system_of: Callable[[dict[str, Any]], str | None]
    tools_of: Callable[[dict[str, Any]], list[str]]

    def with_config(self, **changes: Any) -> LLMConfig:
        return self.config.model_copy(update=changes)


# --- how each wire format carries a conversation ------------------------------------------------------------


def _openai_entries(body: dict[str, Any]) -> list[Entry]:
    entries: list[Entry] = []
    for message in body.get("messages") or []:
        role = message["role"]
        if role == "system":
            continue
        if role == "tool":
            entries.append(("tool", "result", message.get("content")))
            continue
        if message.get("content"):
            entries.append((role, "text", message["content"]))
        for call in message.get("tool_calls") or []:
            function = call["function"]
            entries.append((role, "call", (function["name"], json.loads(function["arguments"]))))
    return entries


def _anthropic_entries(body: dict[str, Any]) -> list[Entry]:
    entries: list[Entry] = []
    for message in body.get("messages") or []:
        content = message["content"]
        if isinstance(content, str):
            entries.append((message["role"], "text", content))
            continue
        for block in content:
            if block["type"] == "text":
                entries.append((message["role"], "text", block["text"]))
            elif block["type"] == "tool_use":
                entries.append((message["role"], "call", (block["name"], block["input"])))
            elif block["type"] == "tool_result":
                entries.append(("tool", "result", block["content"]))
    return entries


def _gemini_entries(body: dict[str, Any]) -> list[Entry]:
    entries: list[Entry] = []
    for content in body.get("contents") or []:
        role = "assistant" if content.get("role") == "model" else "user"
        for part in content.get("parts") or []:
            if "text" in part:
                entries.append((role, "text", part["text"]))
            elif "functionCall" in part:
                function = part["functionCall"]
                entries.append((role, "call", (function["name"], function.get("args"))))
            elif "functionResponse" in part:
                response = part["functionResponse"]["response"]
                entries.append(("tool", "result", response.get("output", response.get("error"))))
    return entries


def _ollama_entries(body: dict[str, Any]) -> list[Entry]:
    entries: list[Entry] = []
    for message in body.get("messages") or []:
        role = message["role"]
        if role == "system":
            continue
        if role == "tool":
            entries.append(("tool", "result", message.get("content")))
            continue
        if message.get("content"):
            entries.append((role, "text", message["content"]))
        for call in message.get("tool_calls") or []:
            entries.append((role, "call", (call["function"]["name"], call["function"]["arguments"])))
    return entries


def _system_in_messages(body: dict[str, Any]) -> str | None:
    texts = [m["content"] for m in body.get("messages") or [] if m.get("role") in ("system", "developer")]
    return "\n\n".join(texts) if texts else None


def _gemini_system(body: dict[str, Any]) -> str | None:
    instruction = body.get("systemInstruction")
    if not instruction:
        return None
    return "".join(part.get("text", "") for part in instruction.get("parts") or [])


def _openai_tools(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools") or []]


def _anthropic_tools(body: dict[str, Any]) -> list[str]:
    return [t["name"] for t in body.get("tools") or []]


def _gemini_tools(body: dict[str, Any]) -> list[str]:
    return [d["name"] for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]


def _anthropic_system(body: dict[str, Any]) -> str | None:
    system = body.get("system")
    if isinstance(system, list):
        return "".join(block.get("text", "") for block in system)
    return system


# --- servers ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def anthropic_server() -> Iterator[AnthropicServer]:
    with AnthropicServer() as server:
        yield server


@pytest.fixture(scope="session")
def gemini_server() -> Iterator[GeminiServer]:
    with GeminiServer() as server:
        yield server


@pytest.fixture(scope="session")
def ollama_server() -> Iterator[OllamaServer]:
    with OllamaServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_ollama_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ollama SDK sends OLLAMA_API_KEY as a bearer token when it is set; tests run without it."""
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)


PROVIDERS = ["openai", "azure_openai", "anthropic", "google", "ollama"]


@pytest.fixture(params=PROVIDERS)
def provider_case(request: pytest.FixtureRequest) -> ProviderCase:
    name: str = request.param
    if name in ("openai", "azure_openai"):
        server: OpenAIServer = request.getfixturevalue("openai_server")
        server.script.clear()
        if name == "openai":
            config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key="test-openai-key",
                               base_url=server.base_url)
        else:
            config = LLMConfig(provider="azure_openai", model_name="gpt-4o-mini", api_key="test-azure-key",
                               endpoint=server.url, api_version="2024-10-21")
        return ProviderCase(name, config, server.script, _openai_entries, _system_in_messages, _openai_tools)
    if name == "anthropic":
        anthropic: AnthropicServer = request.getfixturevalue("anthropic_server")
        anthropic.script.clear()
        config = LLMConfig(provider="anthropic", model_name="claude-sonnet-4-6", api_key=anthropic.api_key,
                           base_url=anthropic.base_url)
        return ProviderCase(name, config, anthropic.script, _anthropic_entries, _anthropic_system,
                            _anthropic_tools)
    if name == "google":
        gemini: GeminiServer = request.getfixturevalue("gemini_server")
        gemini.script.clear()
        config = LLMConfig(provider="google", model_name="gemini-2.5-flash", api_key=gemini.api_key,
                           base_url=gemini.base_url)
        return ProviderCase(name, config, gemini.script, _gemini_entries, _gemini_system, _gemini_tools)
    ollama: OllamaServer = request.getfixturevalue("ollama_server")
    ollama.script.clear()
    config = LLMConfig(provider="ollama", model_name="llama3.2", base_url=ollama.base_url)
    return ProviderCase(name, config, ollama.script, _ollama_entries, _system_in_messages, _openai_tools)
