"""Ollama through the official ``ollama`` SDK (``AsyncClient``, ``/api/chat``).

No key: the host comes from ``LLMConfig.base_url``, else ``OLLAMA_HOST``. Tool calls carry no id in Ollama,
so the provider gives each one a unique id when it arrives; the history keeps it, and Ollama itself matches
results to calls by ``tool_name`` and order. The SDK's tool model keeps only part of JSON Schema (a
property's ``type``, ``items``, ``description`` and ``enum``), so schemas are flattened first: ``$ref``
inlined, ``anyOf`` folded into a type list, and the shape of nested objects written into their description
rather than silently dropped. The SDK neither retries nor exposes response headers; an ``httpx`` response
hook records ``Retry-After`` for ``retry.py``.
"""

from __future__ import annotations

import contextvars
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import httpx
import ollama

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
from .retry import RetryPolicy, call_with_retries, clean_detail, parse_retry_after, status_error

GENERATED_ID_PREFIX = "ollama-call-"
_DONE_REASONS = {"stop": "stop", "length": "length", "load": "stop", "unload": "stop"}
_MAX_DEPTH = 16

# Headers of the last HTTP response of the current call (set per call; the hook writes into it).
_last_headers: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "ollama_last_headers", default=None)


async def _record_headers(response: httpx.Response) -> None:
    holder = _last_headers.get()
    if holder is not None:
        holder.clear()
        holder.update({k.lower(): v for k, v in response.headers.items()})


class OllamaProvider(ModelProvider):
    provider_name = "ollama"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        host = config.base_url or settings.OLLAMA_HOST.get() or "http://127.0.0.1:11434"
        self.client = ollama.AsyncClient(host=host, timeout=config.timeout,
                                         event_hooks={"response": [_record_headers]})
        # The SDK normalises hosts such as "localhost:11434" or "0.0.0.0"; report the URL it really uses.
        inner = getattr(self.client, "_client", None)
        self.host = str(inner.base_url) if inner is not None else host
        self.server_address = urlparse(self.host).hostname
        self.retry_policy = RetryPolicy(max_retries=config.max_retries)

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamItem]:
        params = self._params(request)
        return call_with_retries(self.retry_policy, lambda: self._attempt(params, request.stream))

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        extra = dict(self.config.extra)
        options: dict[str, Any] = dict(extra.pop("options", None) or {})
        temperature = request.temperature if request.temperature is not None else self.config.temperature
        if temperature is not None:
            options["temperature"] = temperature
        max_tokens = request.max_tokens or self.config.max_tokens
        if max_tokens is not None:
            options["num_predict"] = max_tokens
        params: dict[str, Any] = {"model": request.model,
                                  "messages": to_ollama_messages(request.system, request.messages)}
        if request.tools:
            params["tools"] = [
                {"type": "function", "function": {"name": tool.name, "description": tool.description,
                                                  "parameters": ollama_schema(tool.parameters)}}
                for tool in request.tools
            ]
        if options:
            params["options"] = options
        if request.output is not None:
            params["format"] = request.output.schema  # Ollama constrains the answer to a JSON schema
        elif request.json_output:
            params["format"] = "json"
        effort = self.config.reasoning_effort
        if effort is not None:
            # ``think``: a level for models that take one (gpt-oss), else on/off; "none" switches it off.
            params["think"] = False if effort == "none" else ("high" if effort == "xhigh" else
                                                              "low" if effort == "minimal" else effort)
        params.update(extra)
        return params

    async def _attempt(self, params: dict[str, Any], stream: bool) -> AsyncIterator[ModelStreamItem]:
        headers: dict[str, str] = {}
        token = _last_headers.set(headers)
        try:
            if stream:
                parts = await self.client.chat(**params, stream=True)
                result = _Accumulator()
                async for part in parts:
                    piece = result.add(part)
                    if piece:
                        yield ModelDelta(piece)
                if not result.done:
                    raise ProviderError("ollama ended the stream before it was done")
                yield result.finish()
            else:
                response = await self.client.chat(**params, stream=False)
                result = _Accumulator()
                result.add(response)
                final = result.finish()
                if final.text:
                    yield ModelDelta(final.text)
                yield final
        except ollama.ResponseError as exc:
            if exc.status_code == -1:  # an {"error": ...} line inside a stream
                raise ProviderError(f"ollama failed: {clean_detail(exc.error)}") from exc
            raise status_error("ollama", exc.status_code, _detail(exc.error),
                               parse_retry_after(headers)) from exc
        except httpx.TimeoutException as exc:
            raise ProviderTimeoutError(
                f"ollama did not answer within {self.config.timeout:g} s (LLMConfig.timeout)") from exc
        except (ConnectionError, httpx.TransportError) as exc:
            raise ProviderError(
                f"could not reach Ollama at {self.host}: is it running? Set OLLAMA_HOST or "
                "LLMConfig.base_url") from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderError("ollama returned a malformed response") from exc
        finally:
            _last_headers.reset(token)

    async def aclose(self) -> None:
        inner = getattr(self.client, "_client", None)
        if inner is not None:  # AsyncClient.close() exists only in recent SDK releases
            await inner.aclose()


def _detail(error: str) -> str | None:
    """Ollama's error text, unwrapped from its ``{"error": ...}`` body when the SDK left it wrapped."""
    try:
        parsed = json.loads(error)
    except (TypeError, ValueError):
        return clean_detail(error)
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return clean_detail(parsed["error"])
    return clean_detail(error)


class _Accumulator:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: list[ToolCall] = []
        self.usage = Usage()
        self.model: str | None = None
        self.finish_reason: str | None = None
        self.done = False

    def add(self, part: Any) -> str:
        """Record one response (or stream part); returns its text."""
        self.model = part.model or self.model
        message = part.message
        piece = (message.content or "") if message is not None else ""
        if piece:
            self.text.append(piece)
        for call in (message.tool_calls or []) if message is not None else []:
            arguments = call.function.arguments
            raw = dict(arguments) if isinstance(arguments, dict) else str(arguments)
            self.calls.append(parse_tool_arguments(
                f"{GENERATED_ID_PREFIX}{uuid.uuid4().hex[:16]}", call.function.name, raw))
        if part.done:
            self.done = True
            self.finish_reason = _DONE_REASONS.get(part.done_reason or "stop", part.done_reason)
            self.usage = Usage(part.prompt_eval_count or 0, part.eval_count or 0, 1)
        return piece

    def finish(self) -> ModelResponse:
        self.usage.requests = 1
        return ModelResponse(text="".join(self.text), tool_calls=self.calls,
                             finish_reason="tool_calls" if self.calls else self.finish_reason,
                             usage=self.usage, model=self.model)


def to_ollama_messages(system: str | None, messages: list[Message]) -> list[dict[str, Any]]:
    """The history as ``/api/chat`` messages; system texts lead, as one system message."""
    system_texts = [system] if system else []
    system_texts += [m.content for m in messages if m.role == "system" and m.content]
    out: list[dict[str, Any]] = []
    if system_texts:
        out.append({"role": "system", "content": "\n\n".join(system_texts)})
    for message in messages:
        if message.role == "user":
            out.append({"role": "user", "content": message.content})
        elif message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.content}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {"function": {"name": call.name,
                                  "arguments": call.arguments if call.invalid_arguments is None else {}}}
                    for call in message.tool_calls
                ]
            out.append(entry)
        elif message.role == "tool":
            content = message.content
            if message.is_error and not content.lower().startswith("error"):
                content = f"Error: {content}"
            out.append({"role": "tool", "content": content, "tool_name": message.name or ""})
    return out


# --- JSON schema -> the subset the SDK's tool model keeps ---------------------------------------------------


def ollama_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Tool parameters the ``ollama`` SDK passes on intact (see the module docstring)."""
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            defs.update(schema[key])
    root = _inline(schema, defs, 0)
    properties = root.get("properties") if isinstance(root.get("properties"), dict) else {}
    out: dict[str, Any] = {"type": "object",
                           "properties": {name: _property(sub) for name, sub in properties.items()}}
    required = [name for name in root.get("required") or [] if name in properties]
    if required:
        out["required"] = required
    return out


def _inline(node: Any, defs: dict[str, Any], depth: int) -> Any:
    """``node`` with every ``$ref`` replaced by its definition (cut at a fixed depth) and ``$defs`` gone."""
    if isinstance(node, list):
        return [_inline(item, defs, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if depth > _MAX_DEPTH:
        return {"type": "object"}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = defs.get(re.sub(r"^#/(\$defs|definitions)/", "", ref))
        merged = dict(target) if isinstance(target, dict) else {}
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return _inline(merged, defs, depth + 1)
    return {k: _inline(v, defs, depth + 1) for k, v in node.items()
            if k not in ("$defs", "definitions", "title", "$schema")}


def _property(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    types: list[str] = []
    variants = node.get("anyOf") or node.get("oneOf")
    main = node
    if isinstance(variants, list):
        for variant in variants:
            if isinstance(variant, dict) and isinstance(variant.get("type"), str):
                types.append(variant["type"])
        non_null = [v for v in variants if not (isinstance(v, dict) and v.get("type") == "null")]
        if len(non_null) == 1 and isinstance(non_null[0], dict):
            main = {**non_null[0], **{k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}}
    kind = main.get("type")
    if isinstance(kind, list):
        types = [str(k) for k in kind]
    elif isinstance(kind, str):
        types = [kind, *(t for t in types if t != kind)]
    if "enum" not in main and "const" in main:
        main = {**main, "enum": [main["const"]]}
    if types:
        out["type"] = types[0] if len(types) == 1 else types
    notes: list[str] = []
    if isinstance(main.get("description"), str):
        notes.append(main["description"])
    if isinstance(main.get("enum"), list):
        out["enum"] = list(main["enum"])
    if isinstance(main.get("items"), dict):
        out["items"] = main["items"]
    if isinstance(main.get("properties"), dict) or isinstance(main.get("additionalProperties"), dict):
        shape = {k: v for k, v in main.items() if k not in ("description", "type")}
        notes.append("a JSON object: " + json.dumps(shape, separators=(",", ":")))
    if main.get("default") is not None:
        notes.append(f"default {json.dumps(main['default'])}")
    if notes:
        out["description"] = "; ".join(notes)
    return out
