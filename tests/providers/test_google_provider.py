"""Gemini specifics: schema translation, function call ids and thought signatures, configuration and errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from enum import IntEnum
from typing import Literal

import pytest
from pydantic import BaseModel

from azurefunctions.agents.errors import ConfigurationError, ProviderAuthenticationError
from azurefunctions.agents.messages import Message, ToolCall
from azurefunctions.agents.providers.base import ModelRequest, ToolSpec
from azurefunctions.agents.providers.factory import create_provider
from azurefunctions.agents.providers.google_provider import gemini_schema
from azurefunctions.agents.types import LLMConfig, LLMProvider
from tests.servers.gemini_server import GeminiServer
from tests.servers.scripted import Reply, ScriptedToolCall

from .helpers import provider_for

MODEL = "gemini-2.5-flash"
FORBIDDEN = {"$defs", "$ref", "additionalProperties", "$schema", "default", "title", "const"}


@pytest.fixture
def server(gemini_server: GeminiServer) -> Iterator[GeminiServer]:
    gemini_server.script.clear()
    gemini_server.thought_signatures = False
    yield gemini_server
    gemini_server.thought_signatures = False


def config(server: GeminiServer, **changes: object) -> LLMConfig:
    values: dict[str, object] = {"provider": LLMProvider.GOOGLE, "model_name": MODEL,
                                 "api_key": server.api_key, "base_url": server.base_url}
    values.update(changes)
    return LLMConfig(**values)


class Priority(IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    city: str


class Person(BaseModel):
    name: str
    address: Address
    previous: list[Address] = []
    nickname: str | None = None
    role: Literal["admin", "user"] = "user"
    priority: Priority = Priority.LOW
    tags: dict[str, str] = {}


class Tree(BaseModel):
    label: str
    children: list[Tree] = []


def keys_in(node: object) -> set[str]:
    if isinstance(node, dict):
        found = set(node)
        for value in node.values():
            found |= keys_in(value)
        return found
    if isinstance(node, list):
        return set().union(*(keys_in(item) for item in node)) if node else set()
    return set()


def test_pydantic_schema_becomes_the_gemini_subset() -> None:
    schema = gemini_schema(Person.model_json_schema())
    assert not keys_in(schema) & FORBIDDEN
    assert schema["type"] == "OBJECT"
    assert schema["required"] == ["name", "address"]
    properties = schema["properties"]
    assert properties["address"] == {"type": "OBJECT", "required": ["street", "city"], "properties": {
        "street": {"type": "STRING"}, "city": {"type": "STRING"}}}
    assert properties["previous"]["type"] == "ARRAY"
    assert properties["previous"]["items"]["properties"]["city"] == {"type": "STRING"}
    assert properties["nickname"] == {"type": "STRING", "nullable": True}
    assert properties["role"] == {"type": "STRING", "enum": ["admin", "user"], "format": "enum"}
    assert properties["priority"]["type"] == "INTEGER"
    assert "one of: 1, 2" in properties["priority"]["description"]
    assert properties["tags"]["type"] == "OBJECT"
    assert "free-form" in properties["tags"]["description"]


def test_recursive_schema_is_cut_at_a_fixed_depth() -> None:
    schema = gemini_schema(Tree.model_json_schema())
    depth = 0
    node = schema
    while "properties" in node:
        children = node["properties"]["children"]
        assert children["type"] == "ARRAY"
        node = children["items"]
        depth += 1
    assert 3 <= depth <= 16
    assert not keys_in(schema) & FORBIDDEN


async def test_declarations_on_the_wire_are_accepted_by_the_sdk(server: GeminiServer) -> None:
    server.script.add(Reply(tool_calls=[ScriptedToolCall(
        "register", {"name": "Ada", "address": {"street": "1 Main St", "city": "London"}})]))
    tools = [ToolSpec("register", "Register a person.", Person.model_json_schema()),
             ToolSpec("ping", "Check the service.", {"type": "object", "properties": {}})]
    async with provider_for(config(server)) as provider:
        result = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "Register Ada")],
                                                      tools=tools))
    assert result.tool_calls[0].arguments == {"name": "Ada", "address": {"street": "1 Main St", "city": "London"}}
    declarations = server.script.requests[0]["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["register", "ping"]
    assert "parameters" not in declarations[1], "Gemini rejects an OBJECT without properties"
    parameters = declarations[0]["parameters"]
    assert not keys_in(parameters) & FORBIDDEN
    assert parameters["properties"]["nickname"]["nullable"] is True


async def test_function_responses_and_ids_on_the_wire(server: GeminiServer) -> None:
    history = [
        Message("user", "Two lookups."),
        Message("assistant", "", tool_calls=[ToolCall("gemini-call-0123456789abcdef", "lookup", {"q": "a"}),
                                             ToolCall("call_from_gemini", "lookup", {"q": "b"})]),
        Message("tool", "found a", tool_call_id="gemini-call-0123456789abcdef", name="lookup"),
        Message("tool", "no such thing", tool_call_id="call_from_gemini", name="lookup", is_error=True),
    ]
    server.script.add(Reply(text="a found, b not."))
    async with provider_for(config(server)) as provider:
        await provider.complete(ModelRequest(model=MODEL, messages=history))
    contents = server.script.requests[0]["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    first_call, second_call = (p["functionCall"] for p in contents[1]["parts"])
    assert "id" not in first_call, "an id the provider made up is never sent to Gemini"
    assert second_call["id"] == "call_from_gemini"
    responses = [p["functionResponse"] for p in contents[2]["parts"]]
    assert responses[0] == {"name": "lookup", "response": {"output": "found a"}}
    assert responses[1] == {"name": "lookup", "id": "call_from_gemini", "response": {"error": "no such thing"}}


async def test_thought_signatures_go_back_with_their_calls(server: GeminiServer) -> None:
    server.thought_signatures = True
    server.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"q": "a"})]), Reply(text="done"))
    async with provider_for(config(server)) as provider:
        first = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "look up a")]))
        call = first.tool_calls[0]
        history = [Message("user", "look up a"), Message("assistant", "", tool_calls=[call]),
                   Message("tool", "A", tool_call_id=call.id, name="lookup")]
        await provider.complete(ModelRequest(model=MODEL, messages=history))
    sent = server.script.requests[1]["contents"][1]["parts"][0]
    assert base64.b64decode(sent["thoughtSignature"]).startswith(b"signature-of-lookup-")


async def test_calls_from_another_provider_get_the_validator_skipping_signature(server: GeminiServer) -> None:
    calls = [ToolCall("call_openai_1", "lookup", {"q": "a"}), ToolCall("call_openai_2", "lookup", {"q": "b"})]
    history = [Message("user", "x"), Message("assistant", "", tool_calls=calls),
               Message("tool", "A", tool_call_id="call_openai_1", name="lookup"),
               Message("tool", "B", tool_call_id="call_openai_2", name="lookup")]
    server.script.add(Reply(text="ok"))
    async with provider_for(config(server)) as provider:
        await provider.complete(ModelRequest(model=MODEL, messages=history))
    parts = server.script.requests[0]["contents"][1]["parts"]
    assert base64.b64decode(parts[0]["thoughtSignature"]) == b"skip_thought_signature_validator"
    assert "thoughtSignature" not in parts[1]


async def test_generation_settings_on_the_wire(server: GeminiServer) -> None:
    server.script.add(Reply(text='{"ok": true}'))
    async with provider_for(config(server, temperature=0.3, max_tokens=99)) as provider:
        await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "json please")],
                                             system="Only JSON.", json_output=True))
    body = server.script.requests[0]
    assert body["systemInstruction"]["parts"] == [{"text": "Only JSON."}]
    assert body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 99,
                                        "responseMimeType": "application/json"}
    assert server.script.headers[0]["x-goog-api-key"] == server.api_key


async def test_key_and_base_url_from_the_documented_variables(server: GeminiServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", server.api_key)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.base_url)
    server.script.add(Reply(text="from the environment"))
    async with provider_for(LLMConfig(provider=LLMProvider.GOOGLE, model_name=MODEL)) as provider:
        assert provider.provider_name == "gcp.gemini"
        result = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert result.text == "from the environment"


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="GOOGLE_API_KEY"):
        create_provider(LLMConfig(provider=LLMProvider.GOOGLE, model_name=MODEL))


async def test_invalid_key_is_an_authentication_error_without_the_key(server: GeminiServer) -> None:
    async with provider_for(config(server, api_key="AIza-wrong-key-456")) as provider:
        with pytest.raises(ProviderAuthenticationError) as caught:
            await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert "GOOGLE_API_KEY" in caught.value.message
    assert "AIza-wrong-key-456" not in caught.value.message


async def test_unavailable_503_with_retry_info_is_retried(server: GeminiServer) -> None:
    server.script.add(Reply(status=503, retry_after=0.05), Reply(text="back"))
    async with provider_for(config(server, max_retries=1)) as provider:
        result = await provider.complete(ModelRequest(model=MODEL, messages=[Message("user", "hi")]))
    assert result.text == "back"
    assert server.script.calls == 2
