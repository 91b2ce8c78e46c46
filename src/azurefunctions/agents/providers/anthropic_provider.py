"""Anthropic Claude through the official ``anthropic`` SDK (Messages API, async client).

Translation at the edge: the system prompt goes in ``system``; assistant tool calls become ``tool_use``
blocks; tool results become ``tool_result`` blocks in the following user message (all results of one model
turn in one message, as the API wants); ``max_tokens``, which the API requires, defaults to 4096. Streaming
reads the raw SSE events, so text deltas reach the caller as they arrive and tool-call arguments are
assembled from ``input_json_delta`` fragments. The SDK's own retries are off: ``retry.py`` retries once for
every provider, with a bound on the total wait. A key kept in Key Vault is read at the first request and
refreshed when Anthropic refuses it (``keyed.py``).

A typed answer (``request.output``) is asked for with a forced tool, which every Claude model supports: the
schema becomes the ``input_schema`` of a tool named after the type, and ``tool_choice`` forces that tool (or,
when the agent has tools of its own, ``any`` tool, so the model may still call them first). The forced tool's
input is the answer: it is returned as the response text (streamed as it arrives), never as a tool call.
``LLMConfig.reasoning_effort`` goes as ``output_config.effort`` (``none``/``minimal`` map to ``low``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import anthropic
from anthropic.resources.messages import AsyncMessages

from .. import settings
from ..errors import ProviderError, ProviderTimeoutError
from ..messages import Message, ToolCall, Usage
from ..types import LLMConfig
from .base import (
    ModelDelta,
    ModelProvider,
    ModelRequest,
    ModelResponse,
    ModelStreamItem,
    parse_tool_arguments,
)
from .keyed import KeyedClient, ProviderKey
from .retry import RetryPolicy, call_with_retries, clean_detail, parse_retry_after, status_error

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 4096

_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls",
                 "max_tokens": "length", "refusal": "content_filter", "pause_turn": "stop"}

# Anthropic's error types, for an error that arrives as a stream event rather than an HTTP status.
_STREAM_ERROR_STATUS = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500,
                        "authentication_error": 401, "permission_error": 403, "invalid_request_error": 400,
                        "request_too_large": 413, "not_found_error": 404, "timeout_error": 504}

_JSON_INSTRUCTION = "Answer with one JSON object and nothing else."
_CREATE_ARGUMENTS = frozenset(inspect.signature(AsyncMessages.create).parameters) - {"self"}


_EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh"}


class AnthropicProvider(ModelProvider):
    provider_name = "anthropic"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        base_url = config.base_url or settings.ANTHROPIC_BASE_URL.get() or DEFAULT_BASE_URL
        self._keyed = KeyedClient(
            ProviderKey(config.api_key, settings.ANTHROPIC_API_KEY),
            lambda key: anthropic.AsyncAnthropic(
                api_key=key, base_url=base_url, timeout=config.timeout, max_retries=0),
            "anthropic")
        self.server_address = urlparse(base_url).hostname
        self.retry_policy = RetryPolicy(max_retries=config.max_retries)

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        """The SDK client for the key in force (replaced when a key from Key Vault rotates)."""
        return self._keyed.client

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamItem]:
        params = self._params(request)
        answer_tool = request.output.name if request.output is not None else None
        return self._keyed.stream(lambda client, key: call_with_retries(
            self.retry_policy, lambda: self._attempt(client, key, params, request.stream, answer_tool)))

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        system_parts, messages = to_anthropic_messages(request.messages)
        if request.system:
            system_parts.insert(0, request.system)
        if request.json_output:
            system_parts.append(_JSON_INSTRUCTION)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_tokens or self.config.max_tokens or DEFAULT_MAX_TOKENS,
        }
        if system_parts:
            params["system"] = "\n\n".join(system_parts)
        if request.tools:
            params["tools"] = [
                {"name": tool.name, "description": tool.description,
                 "input_schema": tool.parameters or {"type": "object", "properties": {}}}
                for tool in request.tools
            ]
        if request.output is not None:
            output = request.output
            params.setdefault("tools", []).append({
                "name": output.name, "input_schema": output.schema,
                "description": f"Give your final answer with this tool. {output.description}".strip()})
            params["tool_choice"] = ({"type": "any"} if request.tools
                                     else {"type": "tool", "name": output.name})
        extra_body: dict[str, Any] = {}
        if self.config.reasoning_effort is not None:
            extra_body["output_config"] = {"effort": _EFFORTS[self.config.reasoning_effort]}
        temperature = request.temperature if request.temperature is not None else self.config.temperature
        if temperature is not None:
            extra_body["temperature"] = temperature
        extra_body.update(self.config.extra)
        # Fields this SDK version names go as arguments, the rest in the JSON body: the wire is the same, and
        # settings the API accepts still reach it when an SDK release drops the keyword.
        for key, value in extra_body.items():
            if key in _CREATE_ARGUMENTS:
                params[key] = value
            else:
                params.setdefault("extra_body", {})[key] = value
        return params

    async def _attempt(self, client: anthropic.AsyncAnthropic, key: str, params: dict[str, Any],
                       stream: bool, answer_tool: str | None) -> AsyncIterator[ModelStreamItem]:
        try:
            if stream:
                async for item in self._stream(client, params, answer_tool):
                    yield item
            else:
                message = await client.messages.create(**params)
                result = from_anthropic_message(message, answer_tool)
                if result.text:
                    yield ModelDelta(result.text)
                yield result
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, key) from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderError("anthropic returned a malformed response") from exc

    async def _stream(self, client: anthropic.AsyncAnthropic, params: dict[str, Any],
                      answer_tool: str | None) -> AsyncIterator[ModelStreamItem]:
        events = await client.messages.create(**params, stream=True)
        result = ModelResponse()
        text: list[str] = []
        # content block index -> [id, name, argument fragments]
        calls: dict[int, tuple[str, str, list[str]]] = {}
        answer_index: int | None = None  # the content block of the forced answer tool, streamed as text
        started = False
        async for event in events:
            kind = event.type
            if kind == "message_start":
                started = True
                result.response_id = event.message.id
                result.model = event.message.model
                result.usage = _usage(event.message.usage, result.usage)
            elif kind == "content_block_start":
                block = event.content_block
                if block.type == "tool_use" and block.name == answer_tool and answer_index is None:
                    answer_index = event.index
                elif block.type == "tool_use":
                    calls[event.index] = (block.id, block.name, [])
                elif block.type == "text" and block.text:
                    text.append(block.text)
                    yield ModelDelta(block.text)
            elif kind == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta" and delta.text:
                    text.append(delta.text)
                    yield ModelDelta(delta.text)
                elif delta.type == "input_json_delta" and event.index == answer_index:
                    if delta.partial_json:
                        text.append(delta.partial_json)
                        yield ModelDelta(delta.partial_json)
                elif delta.type == "input_json_delta" and event.index in calls:
                    calls[event.index][2].append(delta.partial_json)
            elif kind == "message_delta":
                if event.delta.stop_reason:
                    result.finish_reason = _STOP_REASONS.get(event.delta.stop_reason, event.delta.stop_reason)
                result.usage = _usage(event.usage, result.usage)
        if not started:
            raise ProviderError("anthropic ended the stream before it started a message")
        result.text = "".join(text)
        result.tool_calls = [
            parse_tool_arguments(call_id, name, "".join(parts) or None)
            for _, (call_id, name, parts) in sorted(calls.items())
        ]
        if answer_index is not None and not result.tool_calls:
            result.finish_reason = "stop"
        result.usage.requests = 1
        yield result

    def _translate(self, exc: anthropic.AnthropicError, key: str) -> ProviderError:
        """The runtime error for an SDK error; ``key`` (the key sent) is masked in any detail kept."""
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderTimeoutError(
                f"anthropic did not answer within {self.config.timeout:g} s (LLMConfig.timeout)")
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            if status < 400:  # an ``error`` event inside a stream that had started with 200
                status = _STREAM_ERROR_STATUS.get(_error_type(exc) or "", 500)
            return status_error("anthropic", status, _error_message(exc),
                                parse_retry_after(dict(exc.response.headers)),
                                key_setting=settings.ANTHROPIC_API_KEY.name, secret=key)
        if isinstance(exc, anthropic.APIConnectionError):
            return ProviderError(f"could not reach anthropic at {self.server_address}: "
                                 f"{clean_detail(str(exc.__cause__ or exc), key)}")
        if isinstance(exc, anthropic.APIResponseValidationError):
            return ProviderError("anthropic returned a malformed response")
        return ProviderError(f"anthropic request failed: {clean_detail(str(exc), key)}")

    async def aclose(self) -> None:
        for client in self._keyed.take_clients():
            await client.close()


def _error_field(exc: anthropic.APIStatusError, name: str) -> str | None:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get(name), str):
            return str(error[name])
    return None


def _error_message(exc: anthropic.APIStatusError) -> str | None:
    return _error_field(exc, "message")


def _error_type(exc: anthropic.APIStatusError) -> str | None:
    return _error_field(exc, "type")


def _usage(usage: Any, previous: Usage) -> Usage:
    """Anthropic reports input once (message_start) and output cumulatively (message_delta)."""
    if usage is None:
        return previous
    input_tokens = sum(
        getattr(usage, name, None) or 0
        for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    output_tokens = getattr(usage, "output_tokens", None)
    return Usage(
        input_tokens=input_tokens or previous.input_tokens,
        output_tokens=output_tokens if output_tokens is not None else previous.output_tokens,
        requests=1,
    )


def from_anthropic_message(message: Any, answer_tool: str | None = None) -> ModelResponse:
    """The response; the input of the forced ``answer_tool`` (a typed answer) becomes its text."""
    text: list[str] = []
    calls: list[ToolCall] = []
    answer: str | None = None
    for block in message.content:
        if block.type == "text":
            text.append(block.text)
        elif block.type == "tool_use" and block.name == answer_tool and answer is None:
            answer = json.dumps(block.input) if isinstance(block.input, dict) else str(block.input)
        elif block.type == "tool_use":
            raw = block.input if isinstance(block.input, dict) else str(block.input)
            calls.append(parse_tool_arguments(block.id, block.name, raw))
    finish_reason = _STOP_REASONS.get(message.stop_reason or "", message.stop_reason)
    if answer is not None:
        # The answer replaces any text around the forced tool call (a preamble is not part of the answer).
        text = [answer]
        if not calls:
            finish_reason = "stop"
    return ModelResponse(
        text="".join(text),
        tool_calls=calls,
        finish_reason=finish_reason,
        usage=_usage(message.usage, Usage()),
        model=message.model,
        response_id=message.id,
    )


def to_anthropic_messages(messages: list[Message]) -> tuple[list[str], list[dict[str, Any]]]:
    """System texts found in the history, and the Messages API ``messages`` with same-role turns merged."""
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for message in messages:
        if message.role == "system":
            if message.content:
                system.append(message.content)
        elif message.role == "user":
            add("user", [{"type": "text", "text": message.content}] if message.content else [])
        elif message.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            for call in message.tool_calls:
                blocks.append({"type": "tool_use", "id": call.id, "name": call.name,
                               "input": call.arguments if call.invalid_arguments is None else {}})
            add("assistant", blocks)
        elif message.role == "tool":
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or "",
                                     "content": message.content}
            if message.is_error:
                block["is_error"] = True
            add("user", [block])
    # Tool results must lead their user message: move any user text after them.
    for entry in out:
        if entry["role"] == "user":
            entry["content"].sort(key=lambda b: 0 if b["type"] == "tool_result" else 1)
    return system, out
