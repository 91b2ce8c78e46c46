"""Today's OpenAI and Azure OpenAI APIs through the real ``openai`` SDK: the Responses API, Azure's v1 endpoint,
reasoning models (``max_completion_tokens``, ``reasoning_effort``, reasoning tokens) and ``retry-after-ms``."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import BaseModel

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.events import TextDelta, TurnCompleted
from azurefunctions.agents.messages import Message
from azurefunctions.agents.providers.base import ModelRequest, OutputSpec, ToolSpec
from azurefunctions.agents.providers.openai_provider import azure_v1_base_url, strict_json_schema
from azurefunctions.agents.types import LLMConfig, LLMProvider
from tests.servers.identity import IdentityServer
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

from .helpers import collect, provider_for


def lookup(code: str) -> str:
    """Look up an order."""
    return f"order {code} shipped"


class Order(BaseModel):
    code: str
    shipped: bool


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.script.clear()
    openai_server.reasoning_deployments = set()
    return openai_server


def openai_config(server: OpenAIServer, **changes: object) -> LLMConfig:
    return LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=server.api_key,
                     base_url=server.base_url).model_copy(update=changes)


def azure_v1_config(server: OpenAIServer, **changes: object) -> LLMConfig:
    return LLMConfig(provider="azure_openai", model_name="gpt-4.1", endpoint=server.url,
                     api_key=server.azure_api_key).model_copy(update=changes)


# --- Responses API ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_responses_api_turn_with_a_tool_call(server: OpenAIServer, stream: bool) -> None:
    server.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "A1"})], input_tokens=20,
                            output_tokens=5),
                      Reply(text="Order A1 has shipped.", chunk_size=5, input_tokens=30, output_tokens=8))
    agent = Agent(name="Orders", instructions="You track orders.", tools=[lookup],
                  llm_config=openai_config(server, api="responses"))
    if stream:
        events = [e async for e in Runner(agent).run_stream({"message": "Where is A1?", "stream": True})]
        deltas = [e.text for e in events if isinstance(e, TextDelta)]
        assert len(deltas) > 1 and "".join(deltas) == "Order A1 has shipped."
        completed = events[-1]
        assert isinstance(completed, TurnCompleted)
        response = completed.response
    else:
        response = await Runner(agent).run("Where is A1?")
    await agent.aclose()
    assert response.status == "success", response.error
    assert response.response == "Order A1 has shipped."
    assert response.tool_calls[0].name == "lookup" and response.tool_calls[0].result == "order A1 shipped"
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.requests) == (50, 13, 2)

    first, second = server.script.requests
    assert [h[":path"] for h in server.script.headers] == ["/v1/responses", "/v1/responses"]
    assert first["instructions"] == "You track orders."
    assert first["store"] is False
    assert first["tools"] == [{"type": "function", "name": "lookup", "description": "Look up an order.",
                               "parameters": first["tools"][0]["parameters"], "strict": False}]
    assert first["input"] == [{"role": "user", "content": "Where is A1?"}]
    call_id = response.tool_calls[0].id
    assert second["input"][1:] == [
        {"type": "function_call", "call_id": call_id, "name": "lookup", "arguments": '{"code": "A1"}'},
        {"type": "function_call_output", "call_id": call_id, "output": "order A1 shipped"},
    ]
    assert bool(first.get("stream")) is stream


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_responses_api_typed_answer_uses_text_format(server: OpenAIServer, stream: bool) -> None:
    server.script.add(Reply(text='{"code": "A1", "shipped": true}'))
    agent = Agent(name="Orders", output_type=Order, llm_config=openai_config(server, api="responses"))
    if stream:
        events = [e async for e in Runner(agent).run_stream({"message": "A1?", "stream": True})]
        completed = events[-1]
        assert isinstance(completed, TurnCompleted)
        response = completed.response
    else:
        response = await Runner(agent).run("A1?")
    await agent.aclose()
    assert response.output == Order(code="A1", shipped=True)
    text = server.script.requests[0]["text"]
    assert text["format"]["type"] == "json_schema" and text["format"]["name"] == "Order"
    assert text["format"]["strict"] is True
    assert text["format"]["schema"]["additionalProperties"] is False


async def test_responses_api_reports_reasoning_tokens_and_sends_effort(server: OpenAIServer) -> None:
    server.script.add(Reply(text="Done.", output_tokens=90, reasoning_tokens=64))
    config = openai_config(server, api="responses", model_name="o4-mini", reasoning_effort="high",
                           max_tokens=2000)
    async with provider_for(config) as provider:
        _, final = await collect(provider, ModelRequest(model="o4-mini", messages=[Message("user", "Think.")],
                                                        stream=True))
    body = server.script.requests[0]
    assert body["reasoning"] == {"effort": "high"}
    assert body["max_output_tokens"] == 2000 and "max_tokens" not in body
    assert final.usage.reasoning_tokens == 64 and final.usage.output_tokens == 90


async def test_responses_api_rate_limit_honours_retry_after_ms(server: OpenAIServer) -> None:
    server.script.add(Reply(status=429, retry_after_ms=250), Reply(text="ok"))
    async with provider_for(openai_config(server, api="responses", max_retries=1)) as provider:
        started = time.monotonic()
        final = await provider.complete(ModelRequest(model="gpt-4o-mini", messages=[Message("user", "hi")]))
        elapsed = time.monotonic() - started
    assert final.text == "ok" and server.script.calls == 2
    assert elapsed >= 0.23, "retry-after-ms was not honoured"


# --- reasoning models on Chat Completions -----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_reasoning_model_gets_max_completion_tokens_and_reports_reasoning_tokens(
        server: OpenAIServer, stream: bool) -> None:
    server.script.add(Reply(text="42", output_tokens=120, reasoning_tokens=100))
    config = openai_config(server, model_name="o3-mini", max_tokens=500, reasoning_effort="low")
    agent = Agent(name="Thinker", llm_config=config)
    response = await Runner(agent).run({"message": "Life?", "stream": stream})
    await agent.aclose()
    assert response.status == "success", response.error
    body = server.script.requests[0]
    assert body["max_completion_tokens"] == 500 and "max_tokens" not in body
    assert body["reasoning_effort"] == "low"
    assert response.usage.reasoning_tokens == 100
    assert response.to_dict()["usage"]["reasoning_tokens"] == 100


async def test_the_local_server_refuses_max_tokens_for_a_reasoning_model_as_openai_does(
        server: OpenAIServer) -> None:
    """The check the provider relies on is real: ``max_tokens`` (here forced through ``extra``) is refused."""
    config = openai_config(server, model_name="o3-mini", extra={"max_tokens": 100})
    async with provider_for(config) as provider:
        with pytest.raises(Exception) as caught:
            await provider.complete(ModelRequest(model="o3-mini", messages=[Message("user", "hi")]))
    assert "max_completion_tokens" in str(caught.value)
    assert getattr(caught.value, "status", None) == 502


# --- Azure OpenAI v1 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["chat_completions", "responses"])
async def test_azure_v1_endpoint_with_a_key(server: OpenAIServer, api: str) -> None:
    server.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "C3"})]))
    agent = Agent(name="AzureV1", tools=[lookup],
                  llm_config=azure_v1_config(server, api=api, azure_deployment="my-gpt-41"))
    response = await Runner(agent).run("where is C3?")
    await agent.aclose()
    assert response.status == "success", response.error
    assert response.response == "Here is what I found: order C3 shipped"
    path = "/openai/v1/chat/completions" if api == "chat_completions" else "/openai/v1/responses"
    for headers, body in zip(server.script.headers, server.script.requests, strict=True):
        assert headers[":path"] == path
        assert headers["api-key"] == server.azure_api_key
        assert body["model"] == "my-gpt-41"


async def test_azure_v1_endpoint_with_an_entra_token(server: OpenAIServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("azure.identity")
    with IdentityServer() as identity:
        for name, value in identity.env.items():
            monkeypatch.setenv(name, value)
        server.token_validator = lambda token: token in identity.tokens
        try:
            server.script.add(Reply(text='{"code": "D4", "shipped": false}'))
            agent = Agent(name="AzureV1Token", output_type=Order,
                          llm_config=LLMConfig(provider=LLMProvider.AZURE_OPENAI, model_name="gpt-4.1",
                                               endpoint=server.url + "/", api="responses"))
            response = await Runner(agent).run("D4?")
            await agent.aclose()
        finally:
            server.token_validator = None
        assert response.status == "success", response.error
        assert response.output == Order(code="D4", shipped=False)
        headers = server.script.headers[0]
        assert headers[":path"] == "/openai/v1/responses"
        assert headers["authorization"] == f"Bearer {identity.tokens[0]}"
        assert "api-key" not in headers
        assert identity.requests[0].resource == "https://cognitiveservices.azure.com"


async def test_azure_dated_api_version_keeps_the_deployments_path(server: OpenAIServer) -> None:
    server.script.add(Reply(text="dated"))
    agent = Agent(name="AzureDated", llm_config=azure_v1_config(server, api_version="2024-10-21",
                                                                  max_tokens=64))
    assert await agent.chat("hi") == "dated"
    await agent.aclose()
    assert server.script.headers[0][":path"] == "/openai/deployments/gpt-4.1/chat/completions"
    assert server.script.requests[0]["max_completion_tokens"] == 64


def test_azure_v1_base_url_from_the_endpoint_in_any_spelling() -> None:
    for endpoint in ("https://r.openai.azure.com", "https://r.openai.azure.com/",
                     "https://r.openai.azure.com/openai", "https://r.openai.azure.com/openai/v1/"):
        assert azure_v1_base_url(endpoint) == "https://r.openai.azure.com/openai/v1/"


# --- strict schemas -----------------------------------------------------------------------------------------------


def test_a_schema_with_free_form_objects_is_sent_without_strict_mode(server: OpenAIServer) -> None:
    class Scores(BaseModel):
        by_name: dict[str, int]

    assert strict_json_schema(Scores.model_json_schema()) is None
    strict = strict_json_schema(Order.model_json_schema())
    assert strict is not None and strict["required"] == ["code", "shipped"]


async def test_free_form_typed_answer_works_without_strict_mode(server: OpenAIServer) -> None:
    server.script.add(Reply(text=json.dumps({"a": 1, "b": 2})))
    agent = Agent(name="Scores", output_type=dict[str, int], llm_config=openai_config(server))
    response = await Runner(agent).run("scores?")
    await agent.aclose()
    assert response.output == {"a": 1, "b": 2}
    assert server.script.requests[0]["response_format"]["json_schema"]["strict"] is False


async def test_the_local_server_refuses_a_non_strict_schema_in_strict_mode(server: OpenAIServer) -> None:
    """What strict mode checks is real: a schema with an optional property is refused when strict."""
    spec = OutputSpec(name="Loose", schema={"type": "object", "properties": {"a": {"type": "string"}}})
    config = openai_config(server, extra={"response_format": {"type": "json_schema", "json_schema": {
        "name": spec.name, "schema": spec.schema, "strict": True}}})
    async with provider_for(config) as provider:
        with pytest.raises(Exception) as caught:
            await provider.complete(ModelRequest(model="gpt-4o-mini", messages=[Message("user", "hi")],
                                                 tools=[ToolSpec("t", "d", {"type": "object"})]))
    assert "additionalProperties" in str(caught.value)


def test_the_responses_api_is_refused_for_other_providers() -> None:
    with pytest.raises(ValueError, match=r"api='responses'.*'anthropic'"):
        LLMConfig(provider="anthropic", api="responses")
    with pytest.raises(ValueError, match="api"):
        LLMConfig(provider="openai", api="assistants")  # type: ignore[arg-type]
