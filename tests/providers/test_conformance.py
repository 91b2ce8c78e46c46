"""One suite, every provider: the behaviour an agent relies on, whichever SDK and wire format is underneath.

Each test drives the real SDK of the provider against its local server on 127.0.0.1 (see ``conftest.py``).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from azurefunctions.agents.errors import ProviderError, ProviderRateLimitError, ProviderTimeoutError
from azurefunctions.agents.messages import Message, ToolCall
from azurefunctions.agents.providers.base import (
    ModelRequest,
    ToolSpec,
)
from tests.servers.scripted import Reply, ScriptedToolCall

from .conftest import ProviderCase
from .helpers import collect, provider_for


class Location(BaseModel):
    city: str
    country: str | None = None


class WeatherQuery(BaseModel):
    """Arguments of the weather tool: nested model ($defs/$ref), enum, optional and integer fields."""

    location: Location
    days: int = Field(ge=1, le=10)
    unit: Literal["celsius", "fahrenheit"] = "celsius"
    include_wind: bool = False
    note: str | None = None


WEATHER = ToolSpec("get_weather", "Weather forecast for a place.", WeatherQuery.model_json_schema())
TIME = ToolSpec("get_time", "Current time in a time zone.",
                {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]})


def request_for(case: ProviderCase, messages: list[Message], **kwargs: Any) -> ModelRequest:
    return ModelRequest(model=case.config.model_name, messages=messages, **kwargs)


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_tool_call_round_trip_with_typed_arguments(provider_case: ProviderCase, stream: bool) -> None:
    arguments = {"location": {"city": "Oslo", "country": "NO"}, "days": 3, "unit": "fahrenheit",
                 "include_wind": True}
    provider_case.script.add(Reply(tool_calls=[ScriptedToolCall("get_weather", arguments)]),
                             Reply(text="Oslo: 41 F and windy for three days."))
    history = [Message("user", "Weather in Oslo for 3 days, in Fahrenheit, with wind?")]
    async with provider_for(provider_case.config) as provider:
        _, first = await collect(provider, request_for(
            provider_case, history, system="You forecast weather.", tools=[WEATHER, TIME], stream=stream))
        assert first.finish_reason == "tool_calls"
        assert len(first.tool_calls) == 1
        call = first.tool_calls[0]
        assert call.name == "get_weather"
        assert call.arguments == arguments
        assert isinstance(call.arguments["days"], int) and isinstance(call.arguments["include_wind"], bool)
        assert call.id and call.invalid_arguments is None

        history += [Message("assistant", first.text, tool_calls=first.tool_calls),
                    Message("tool", "41 F, wind 30 km/h", tool_call_id=call.id, name=call.name)]
        _, second = await collect(provider, request_for(
            provider_case, history, system="You forecast weather.", tools=[WEATHER, TIME], stream=stream))
    assert second.text == "Oslo: 41 F and windy for three days."
    assert second.tool_calls == []
    assert second.finish_reason == "stop"

    first_request, second_request = provider_case.script.requests
    assert provider_case.tools_of(first_request) == ["get_weather", "get_time"]
    assert provider_case.system_of(first_request) == "You forecast weather."
    assert provider_case.normalise(second_request)[-2:] == [
        ("assistant", "call", ("get_weather", arguments)),
        ("tool", "result", "41 F, wind 30 km/h"),
    ]


async def test_two_tool_calls_in_one_turn(provider_case: ProviderCase) -> None:
    provider_case.script.add(
        Reply(tool_calls=[ScriptedToolCall("get_weather", {"location": {"city": "Lima"}, "days": 1}),
                          ScriptedToolCall("get_time", {"zone": "America/Lima"})]),
        Reply(text="Sunny, and it is noon."))
    history = [Message("user", "Weather and time in Lima?")]
    async with provider_for(provider_case.config) as provider:
        first = await provider.complete(request_for(provider_case, history, tools=[WEATHER, TIME]))
        assert [(c.name, c.arguments) for c in first.tool_calls] == [
            ("get_weather", {"location": {"city": "Lima"}, "days": 1}),
            ("get_time", {"zone": "America/Lima"}),
        ]
        ids = [c.id for c in first.tool_calls]
        assert len(set(ids)) == 2 and all(ids)
        history.append(Message("assistant", first.text, tool_calls=first.tool_calls))
        history += [Message("tool", result, tool_call_id=c.id, name=c.name)
                    for c, result in zip(first.tool_calls, ["sunny, 24 C", "12:00"], strict=True)]
        second = await provider.complete(request_for(provider_case, history, tools=[WEATHER, TIME]))
    assert second.text == "Sunny, and it is noon."
    assert provider_case.normalise(provider_case.script.requests[-1])[-4:] == [
        ("assistant", "call", ("get_weather", {"location": {"city": "Lima"}, "days": 1})),
        ("assistant", "call", ("get_time", {"zone": "America/Lima"})),
        ("tool", "result", "sunny, 24 C"),
        ("tool", "result", "12:00"),
    ]


async def test_streaming_text_arrives_in_several_chunks(provider_case: ProviderCase) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    provider_case.script.add(Reply(text=text, chunk_size=6, chunk_delay=0.01))
    async with provider_for(provider_case.config) as provider:
        deltas, final = await collect(
            provider, request_for(provider_case, [Message("user", "Tell me a pangram.")], stream=True))
    assert len(deltas) > 1
    assert "".join(deltas) == text
    assert final.text == text
    assert final.finish_reason == "stop"


async def test_non_streaming_call_yields_the_whole_text_once(provider_case: ProviderCase) -> None:
    provider_case.script.add(Reply(text="All at once.", chunk_size=3))
    async with provider_for(provider_case.config) as provider:
        deltas, final = await collect(provider, request_for(provider_case, [Message("user", "Hi")]))
    assert deltas == ["All at once."]
    assert final.text == "All at once."
    assert provider_case.script.requests[0].get("stream") in (None, False)


async def test_multi_turn_history_is_sent_in_the_provider_format(provider_case: ProviderCase) -> None:
    call = ToolCall(id="call_hist_1", name="get_time", arguments={"zone": "Europe/Paris"})
    history = [
        Message("user", "My name is Ada."),
        Message("assistant", "Nice to meet you, Ada."),
        Message("user", "What time is it in Paris?"),
        Message("assistant", "", tool_calls=[call]),
        Message("tool", "09:30", tool_call_id="call_hist_1", name="get_time"),
        Message("assistant", "It is 09:30 in Paris."),
        Message("user", "What is my name?"),
    ]
    provider_case.script.add(Reply(text="Your name is Ada."))
    async with provider_for(provider_case.config) as provider:
        final = await provider.complete(
            request_for(provider_case, history, system="Be brief.", tools=[TIME]))
    assert final.text == "Your name is Ada."
    body = provider_case.script.requests[0]
    assert provider_case.system_of(body) == "Be brief."
    assert provider_case.normalise(body) == [
        ("user", "text", "My name is Ada."),
        ("assistant", "text", "Nice to meet you, Ada."),
        ("user", "text", "What time is it in Paris?"),
        ("assistant", "call", ("get_time", {"zone": "Europe/Paris"})),
        ("tool", "result", "09:30"),
        ("assistant", "text", "It is 09:30 in Paris."),
        ("user", "text", "What is my name?"),
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_usage_is_reported(provider_case: ProviderCase, stream: bool) -> None:
    provider_case.script.add(Reply(text="Counted.", input_tokens=123, output_tokens=45))
    async with provider_for(provider_case.config) as provider:
        _, final = await collect(provider, request_for(provider_case, [Message("user", "Hi")], stream=stream))
        assert provider.provider_name
        assert provider.server_address == "127.0.0.1"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (123, 45)
    assert final.usage.requests == 1
    assert final.usage.total_tokens == 168


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_rate_limit_with_retry_after_is_retried_then_succeeds(provider_case: ProviderCase,
                                                                   stream: bool) -> None:
    provider_case.script.add(Reply(status=429, retry_after=0.2), Reply(text="Second time lucky."))
    config = provider_case.with_config(max_retries=2)
    async with provider_for(config) as provider:
        started = time.monotonic()
        _, final = await collect(provider, request_for(provider_case, [Message("user", "Hi")], stream=stream))
        elapsed = time.monotonic() - started
    assert final.text == "Second time lucky."
    assert provider_case.script.calls == 2
    assert elapsed >= 0.18, "the retry did not wait for Retry-After"


async def test_rate_limit_beyond_max_retries_is_surfaced(provider_case: ProviderCase) -> None:
    provider_case.script.add(*[Reply(status=429, retry_after=0.1) for _ in range(4)])
    config = provider_case.with_config(max_retries=1)
    async with provider_for(config) as provider:
        with pytest.raises(ProviderRateLimitError) as caught:
            await provider.complete(request_for(provider_case, [Message("user", "Hi")]))
    assert provider_case.script.calls == 2, "max_retries=1 means two attempts, no more"
    assert caught.value.retry_after == pytest.approx(0.1)
    assert caught.value.status == 429
    assert config.api_key is None or str(config.api_key) not in str(caught.value)


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_timeout_is_surfaced(provider_case: ProviderCase, stream: bool) -> None:
    provider_case.script.add(Reply(text="too late", delay=2.0))
    config = provider_case.with_config(timeout=0.3, max_retries=0)
    async with provider_for(config) as provider:
        started = time.monotonic()
        with pytest.raises(ProviderTimeoutError) as caught:
            await collect(provider, request_for(provider_case, [Message("user", "Hi")], stream=stream))
        elapsed = time.monotonic() - started
    assert elapsed < 1.8, f"the timeout of 0.3 s took {elapsed:.2f} s"
    assert caught.value.status == 504


async def test_timeout_bounds_each_wait_not_a_whole_stream(provider_case: ProviderCase) -> None:
    text = "a stream that takes longer than the timeout, while its chunks keep coming"
    provider_case.script.add(Reply(text=text, chunk_size=12, chunk_delay=0.15))
    config = provider_case.with_config(timeout=0.6, max_retries=0)
    async with provider_for(config) as provider:
        started = time.monotonic()
        deltas, final = await collect(provider, request_for(provider_case, [Message("user", "Hi")], stream=True))
        elapsed = time.monotonic() - started
    assert elapsed > 0.6, "the stream was expected to outlast the timeout"
    assert "".join(deltas) == final.text == text


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_malformed_body_is_surfaced(provider_case: ProviderCase, stream: bool,
                                          request: pytest.FixtureRequest) -> None:
    provider_case.script.add(Reply(malformed=True))
    async with provider_for(provider_case.with_config(max_retries=0)) as provider:
        with pytest.raises(ProviderError) as caught:
            await collect(provider, request_for(provider_case, [Message("user", "Hi")], stream=stream))
    assert not isinstance(caught.value, ProviderRateLimitError | ProviderTimeoutError)
    assert caught.value.status == 502
    assert "malformed" in caught.value.message
