"""Anthropic specifics: the Messages API shapes on the wire, configuration fallbacks and error mapping."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from azurefunctions.agents.errors import (
    ConfigurationError,
    ProviderAuthenticationError,
    ProviderError,
    ProviderRateLimitError,
)
from azurefunctions.agents.messages import Message, ToolCall
from azurefunctions.agents.providers.base import ModelRequest, ToolSpec
from azurefunctions.agents.providers.factory import create_provider
from azurefunctions.agents.types import LLMConfig, LLMProvider
from tests.servers.anthropic_server import AnthropicServer
from tests.servers.scripted import Reply, ScriptedToolCall

from .helpers import collect, provider_for

MODEL = "claude-sonnet-4-6"


@pytest.fixture
def server(anthropic_server: AnthropicServer) -> Iterator[AnthropicServer]:
    anthropic_server.script.clear()
    anthropic_server.errors_in_stream = False
    yield anthropic_server
    anthropic_server.errors_in_stream = False


def config(server: AnthropicServer, **changes: object) -> LLMConfig:
    values: dict[str, object] = {"provider": LLMProvider.ANTHROPIC, "model_name": MODEL,
                                 "api_key": server.api_key, "base_url": server.base_url}
    values.update(changes)
    return LLMConfig(**values)


async def test_request_shape_system_max_tokens_and_merged_tool_results(server: AnthropicServer) -> None:
    calls = [ToolCall("toolu_a", "lookup", {"q": "a"}), ToolCall("toolu_b", "lookup", {"q": "b"})]
    history = [
        Message("system", "Cite sources."),
        Message("user", "Look up a and b."),
        Message("assistant", "Looking.", tool_calls=calls),
        Message("tool", "found a", tool_call_id="toolu_a", name="lookup"),
        Message("tool", "lookup failed: timeout", tool_call_id="toolu_b", name="lookup", is_error=True),
    ]
    server.script.add(Reply(text="a was found; b failed."))
    async with provider_for(config(server, temperature=0.2)) as provider:
        result = await provider.complete(ModelRequest(
            model=MODEL, messages=history, system="You research.",
            tools=[ToolSpec("lookup", "Look something up.", {"type": "object",
                                                             "properties": {"q": {"type": "string"}}})]))
    assert result.text == "a was found; b failed."
    body = server.script.requests[0]
    assert body["system"] == "You research.\n\nCite sources."
    assert body["max_tokens"] == 4096
    assert body["temperature"] == 0.2
    assert body["tools"] == [{"name": "lookup", "description": "Look something up.",
                              "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Look up a and b."}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "toolu_a", "name": "lookup", "input": {"q": "a"}},
            {"type": "tool_use", "id": "toolu_b", "name": "lookup", "input": {"q": "b"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "found a"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": "lookup failed: timeout",
             "is_error": True},
        ]},
    ]
    assert server.script.headers[0]["anthropic-version"]


async def test_max_tokens_from_config_and_request(server: AnthropicServer) -> None:
    server.script.add(Reply(text="one"), Reply(text="two"))
    async with provider_for(config(server, max_tokens=256)) as provider:
        await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
        await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")], max_tokens=32))
    assert [r["max_tokens"] for r in server.script.requests] == [256, 32]


async def test_pydantic_schema_with_defs_is_passed_intact(server: AnthropicServer) -> None:
    schema = {"type": "object", "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}},
                                                    "required": ["x"]}},
              "properties": {"at": {"$ref": "#/$defs/Point"},
                             "label": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}},
              "required": ["at"], "additionalProperties": False}
    server.script.add(Reply(tool_calls=[ScriptedToolCall("mark", {"at": {"x": 1.5}})]))
    async with provider_for(config(server)) as provider:
        result = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "mark 1.5")],
                                                      tools=[ToolSpec("mark", "Mark a point.", schema)]))
    assert result.tool_calls[0].arguments == {"at": {"x": 1.5}}
    assert server.script.requests[0]["tools"][0]["input_schema"] == schema


async def test_invalid_streamed_tool_arguments_are_kept_for_the_error_message(server: AnthropicServer) -> None:
    server.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {})], raw_arguments='{"q": "unterminated'))
    async with provider_for(config(server)) as provider:
        _, result = await collect(provider, ModelRequest(model=MODEL, messages=[Message("user", "x")],
                                                         stream=True))
    call = result.tool_calls[0]
    assert call.name == "lookup"
    assert call.invalid_arguments == '{"q": "unterminated'
    assert call.arguments == {}


async def test_key_and_base_url_from_the_sdk_variables(server: AnthropicServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", server.api_key)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    server.script.add(Reply(text="from the environment"))
    async with provider_for(LLMConfig(provider=LLMProvider.ANTHROPIC, model_name=MODEL)) as provider:
        result = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert result.text == "from the environment"


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        create_provider(LLMConfig(provider=LLMProvider.ANTHROPIC, model_name=MODEL))


async def test_wrong_key_is_an_authentication_error_without_the_key(server: AnthropicServer) -> None:
    async with provider_for(config(server, api_key="sk-ant-wrong-key-123")) as provider:
        with pytest.raises(ProviderAuthenticationError) as caught:
            await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert "ANTHROPIC_API_KEY" in caught.value.message
    assert "sk-ant-wrong-key-123" not in caught.value.message
    assert server.script.calls == 0


async def test_overloaded_529_is_retried(server: AnthropicServer) -> None:
    server.script.add(Reply(status=529, retry_after=0.05), Reply(text="recovered"))
    async with provider_for(config(server, max_retries=1)) as provider:
        result = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert result.text == "recovered"
    assert server.script.calls == 2


async def test_server_error_500_is_not_retried(server: AnthropicServer) -> None:
    server.script.add(Reply(status=500), Reply(text="never asked for"))
    async with provider_for(config(server, max_retries=3)) as provider:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert caught.value.status == 502
    assert "HTTP 500" in caught.value.message
    assert server.script.calls == 1


async def test_retry_after_beyond_the_wait_budget_surfaces_at_once(server: AnthropicServer) -> None:
    server.script.add(Reply(status=429, retry_after=120), Reply(text="never asked for"))
    async with provider_for(config(server, max_retries=5)) as provider:
        started = time.monotonic()
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert time.monotonic() - started < 2
    assert caught.value.retry_after == 120
    assert server.script.calls == 1


async def test_overloaded_error_event_inside_a_stream_is_retried(server: AnthropicServer) -> None:
    server.errors_in_stream = True
    server.script.add(Reply(status=529), Reply(text="second stream"))
    async with provider_for(config(server, max_retries=1)) as provider:
        deltas, result = await collect(provider, ModelRequest(model=MODEL, messages=[Message("user", "hi")],
                                                              stream=True))
    assert "".join(deltas) == result.text == "second stream"
    assert server.script.calls == 2


async def test_error_event_inside_a_stream_is_a_clear_error(server: AnthropicServer) -> None:
    server.errors_in_stream = True
    server.script.add(Reply(status=500))
    async with provider_for(config(server, max_retries=3)) as provider:
        with pytest.raises(ProviderError) as caught:
            await collect(provider, ModelRequest(model=MODEL, messages=[Message("user", "hi")], stream=True))
    assert caught.value.message == "anthropic request failed (HTTP 500): scripted failure"
    assert server.script.calls == 1
