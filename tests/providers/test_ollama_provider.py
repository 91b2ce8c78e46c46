"""Ollama specifics: host selection, the /api/chat shapes, schema flattening, ids and failures."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from azurefunctions.agents.errors import ProviderError
from azurefunctions.agents.messages import Message, ToolCall
from azurefunctions.agents.providers.base import ModelRequest, ToolSpec
from azurefunctions.agents.providers.ollama_provider import ollama_schema
from azurefunctions.agents.types import LLMConfig, LLMProvider
from tests.servers.base import free_port
from tests.servers.ollama_server import OllamaServer
from tests.servers.scripted import Reply, ScriptedToolCall

from .helpers import provider_for

MODEL = "llama3.2"


@pytest.fixture
def server(ollama_server: OllamaServer) -> Iterator[OllamaServer]:
    ollama_server.script.clear()
    yield ollama_server


class Item(BaseModel):
    sku: str
    quantity: int


class Order(BaseModel):
    customer: str
    items: list[Item]
    shipping: Item | None = None
    note: str | None = None


async def test_host_from_ollama_host(server: OllamaServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    server.script.add(Reply(text="local model here"))
    async with provider_for(LLMConfig(provider=LLMProvider.OLLAMA, model_name=MODEL)) as provider:
        assert provider.provider_name == "ollama"
        assert provider.server_address == "127.0.0.1"
        result = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert result.text == "local model here"
    assert "authorization" not in server.script.headers[0], "Ollama needs no key"


async def test_chat_request_shape(server: OllamaServer) -> None:
    history = [
        Message("user", "Stock of A1?"),
        Message("assistant", "", tool_calls=[ToolCall("ollama-call-1", "stock", {"sku": "A1"})]),
        Message("tool", "warehouse offline", tool_call_id="ollama-call-1", name="stock", is_error=True),
    ]
    server.script.add(Reply(text="The warehouse is offline."))
    config = LLMConfig(provider=LLMProvider.OLLAMA, model_name=MODEL, base_url=server.url, temperature=0.1,
                       max_tokens=64, extra={"keep_alive": "5m"})
    async with provider_for(config) as provider:
        await provider.complete(ModelRequest(model=MODEL, messages=history, system="Be terse.",
                                             json_output=True))
    body = server.script.requests[0]
    assert body["stream"] is False
    assert body["options"] == {"temperature": 0.1, "num_predict": 64}
    assert body["format"] == "json"
    assert body["keep_alive"] == "5m"
    assert body["messages"] == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Stock of A1?"},
        {"role": "assistant",
         "tool_calls": [{"function": {"name": "stock", "arguments": {"sku": "A1"}}}]},
        {"role": "tool", "content": "Error: warehouse offline", "tool_name": "stock"},
    ]


def test_schema_is_flattened_into_what_the_sdk_keeps() -> None:
    schema = ollama_schema(Order.model_json_schema())
    assert schema["type"] == "object"
    assert schema["required"] == ["customer", "items"]
    properties = schema["properties"]
    assert properties["customer"] == {"type": "string"}
    assert properties["items"]["type"] == "array"
    assert properties["items"]["items"]["properties"]["quantity"] == {"type": "integer"}, "$ref inlined"
    assert properties["note"] == {"type": ["string", "null"]}
    assert properties["shipping"]["type"] == ["object", "null"]
    assert '"sku"' in properties["shipping"]["description"], "nested shape is described, not dropped"
    assert "$ref" not in json.dumps(schema) and "$defs" not in json.dumps(schema)


async def test_flattened_schema_reaches_the_server_intact(server: OllamaServer) -> None:
    server.script.add(Reply(tool_calls=[ScriptedToolCall("order", {"customer": "Ada", "items": []})]))
    tool = ToolSpec("order", "Place an order.", Order.model_json_schema())
    async with provider_for(LLMConfig(provider="ollama", model_name=MODEL, base_url=server.url)) as provider:
        await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "order")], tools=[tool]))
    sent = server.script.requests[0]["tools"][0]["function"]["parameters"]
    assert sent == ollama_schema(Order.model_json_schema())


async def test_tool_calls_get_unique_ids(server: OllamaServer) -> None:
    server.script.add(Reply(tool_calls=[ScriptedToolCall("stock", {"sku": "A1"}),
                                        ScriptedToolCall("stock", {"sku": "A1"})]))
    async with provider_for(LLMConfig(provider="ollama", model_name=MODEL, base_url=server.url)) as provider:
        result = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "twice")]))
    ids = [c.id for c in result.tool_calls]
    assert len(set(ids)) == 2
    assert all(i.startswith("ollama-call-") for i in ids)


async def test_busy_server_503_is_retried(server: OllamaServer) -> None:
    server.script.add(Reply(status=503), Reply(text="free again"))
    config = LLMConfig(provider="ollama", model_name=MODEL, base_url=server.url, max_retries=1)
    async with provider_for(config) as provider:
        result = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert result.text == "free again"
    assert server.script.calls == 2


async def test_unreachable_host_says_what_to_set() -> None:
    config = LLMConfig(provider="ollama", model_name=MODEL, base_url=f"http://127.0.0.1:{free_port()}",
                       max_retries=0)
    async with provider_for(config) as provider:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert "OLLAMA_HOST" in caught.value.message
    assert caught.value.status == 502
