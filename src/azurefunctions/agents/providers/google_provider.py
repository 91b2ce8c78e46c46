"""Google Gemini through the official ``google-genai`` SDK (``client.aio.models``).

Translation at the edge: the system prompt goes in ``system_instruction``; assistant tool calls become
``functionCall`` parts of a ``model`` turn and tool results ``functionResponse`` parts of the next ``user``
turn (``{"output": ...}``, or ``{"error": ...}`` when the tool failed); tool schemas are rewritten into the
OpenAPI subset Gemini accepts (``gemini_schema``). Gemini does not always give function calls an id, so the
provider makes one; such ids are never sent back to Gemini, which matches results to calls by name and order.

Gemini 3 models require the ``thought_signature`` of a function call to come back with it in the next request.
Signatures seen by this process are kept (bounded) by call id and returned; a call whose signature is unknown
(a history from another instance or another provider) gets the documented validator-skipping signature.
The SDK retries nothing unless asked to; ``retry.py`` retries, honouring Google's ``RetryInfo``. A key kept in
Key Vault is read at the first request and refreshed when Gemini refuses it (``keyed.py``); the clients made for
successive keys share one HTTP connection pool.
"""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from .. import settings
from ..errors import ProviderAuthenticationError, ProviderError, ProviderTimeoutError
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

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
GENERATED_ID_PREFIX = "gemini-call-"
SKIP_SIGNATURE = b"skip_thought_signature_validator"
_SIGNATURE_CACHE_SIZE = 2048

_FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter",
                   "RECITATION": "content_filter", "BLOCKLIST": "content_filter",
                   "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
                   "IMAGE_SAFETY": "content_filter"}


# ``LLMConfig.reasoning_effort`` -> Gemini's ``thinking_level`` (Gemini 3); SDK releases before it know only a
# token budget, used instead. "none" switches thinking off with a zero budget.
_THINKING_LEVELS = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH", "xhigh": "HIGH"}
_THINKING_BUDGETS = {"minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 32768}


def thinking_config(effort: str) -> types.ThinkingConfig:
    if effort == "none":
        return types.ThinkingConfig(thinking_budget=0)
    if "thinking_level" in types.ThinkingConfig.model_fields:
        return types.ThinkingConfig.model_validate({"thinking_level": _THINKING_LEVELS[effort]})
    return types.ThinkingConfig(thinking_budget=_THINKING_BUDGETS[effort])


class GoogleProvider(ModelProvider):
    provider_name = "gcp.gemini"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        key = ProviderKey(config.api_key, settings.GOOGLE_API_KEY)
        base_url = config.base_url or settings.GOOGLE_GEMINI_BASE_URL.get() or DEFAULT_BASE_URL
        options = types.HttpOptions(base_url=base_url, timeout=max(1, round(config.timeout * 1000)))
        if config.api_version:
            options.api_version = config.api_version
        # The SDK switches to aiohttp whenever aiohttp is installed, and there the timeout caps a whole
        # stream; an httpx client of our own keeps one behaviour: the timeout bounds each wait for data.
        self._http: httpx.AsyncClient | None = None
        if "httpx_async_client" in types.HttpOptions.model_fields:
            self._http = httpx.AsyncClient(timeout=config.timeout)
            options.httpx_async_client = self._http
        self._keyed = KeyedClient(key, lambda api_key: genai.Client(api_key=api_key, http_options=options),
                                  "gemini")
        self.server_address = urlparse(base_url).hostname
        self.retry_policy = RetryPolicy(max_retries=config.max_retries)
        self._signatures: OrderedDict[str, bytes] = OrderedDict()

    @property
    def client(self) -> genai.Client:
        """The SDK client for the key in force (replaced when a key from Key Vault rotates)."""
        return self._keyed.client

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamItem]:
        contents = to_gemini_contents(request.messages, self._signatures)
        config = self._config(request)
        return self._keyed.stream(lambda client, key: call_with_retries(
            self.retry_policy,
            lambda: self._attempt(client, key, request.model, contents, config, request.stream)))

    def _config(self, request: ModelRequest) -> types.GenerateContentConfig:
        system = [m.content for m in request.messages if m.role == "system" and m.content]
        if request.system:
            system.insert(0, request.system)
        values: dict[str, Any] = {
            "automatic_function_calling": types.AutomaticFunctionCallingConfig(disable=True),
        }
        if system:
            values["system_instruction"] = "\n\n".join(system)
        if request.tools:
            declarations = []
            for tool in request.tools:
                declaration: dict[str, Any] = {"name": tool.name, "description": tool.description}
                parameters = gemini_schema(tool.parameters) if tool.parameters else None
                if parameters and parameters.get("properties"):
                    declaration["parameters"] = parameters
                declarations.append(types.FunctionDeclaration(**declaration))
            values["tools"] = [types.Tool(function_declarations=declarations)]
        temperature = request.temperature if request.temperature is not None else self.config.temperature
        if temperature is not None:
            values["temperature"] = temperature
        max_tokens = request.max_tokens or self.config.max_tokens
        if max_tokens is not None:
            values["max_output_tokens"] = max_tokens
        if request.output is not None:
            # Gemini's own structured output: JSON constrained to the schema, in its OpenAPI subset.
            values["response_mime_type"] = "application/json"
            values["response_schema"] = gemini_schema(request.output.schema)
        elif request.json_output:
            values["response_mime_type"] = "application/json"
        effort = self.config.reasoning_effort
        if effort is not None:
            values["thinking_config"] = thinking_config(effort)
        values.update(self.config.extra)
        return types.GenerateContentConfig(**values)

    async def _attempt(self, client: genai.Client, key: str, model: str, contents: list[types.Content],
                       config: types.GenerateContentConfig, stream: bool) -> AsyncIterator[ModelStreamItem]:
        try:
            if stream:
                async for item in self._stream(client, model, contents, config):
                    yield item
            else:
                response = await client.aio.models.generate_content(
                    model=model, contents=contents, config=config)
                result = _Accumulator(self._signatures)
                result.add(response)
                final = result.finish()
                if final.text:
                    yield ModelDelta(final.text)
                yield final
        except genai_errors.APIError as exc:
            raise self._translate(exc, key) from exc
        except ProviderError:
            raise
        except Exception as exc:
            if _is_timeout(exc):
                raise ProviderTimeoutError(
                    f"gemini did not answer within {self.config.timeout:g} s (LLMConfig.timeout)") from exc
            if _is_connection_error(exc):
                raise ProviderError(f"could not reach gemini at {self.server_address}") from exc
            if isinstance(exc, ValueError | KeyError | TypeError | AttributeError):
                raise ProviderError("gemini returned a malformed response") from exc
            raise

    async def _stream(self, client: genai.Client, model: str, contents: list[types.Content],
                      config: types.GenerateContentConfig) -> AsyncIterator[ModelStreamItem]:
        chunks = await client.aio.models.generate_content_stream(
            model=model, contents=contents, config=config)
        result = _Accumulator(self._signatures)
        async for chunk in chunks:
            for piece in result.add(chunk):
                yield ModelDelta(piece)
        if not result.seen:
            raise ProviderError("gemini ended the stream without a response")
        yield result.finish()

    def _translate(self, exc: genai_errors.APIError, key: str) -> ProviderError:
        """The runtime error for an SDK error; ``key`` (the key sent) is masked in any detail kept."""
        code = int(exc.code or 0)
        message = exc.message if isinstance(exc.message, str) else None
        if code == 400 and message and "API key" in message:
            detail = clean_detail(message, key)
            return ProviderAuthenticationError(
                f"gemini refused the credentials (HTTP 400); check {settings.GOOGLE_API_KEY.name} "
                f"or LLMConfig.api_key: {detail}")
        if not code:
            return ProviderError("gemini returned a malformed response")
        return status_error("gemini", code, message, _retry_delay(exc),
                            key_setting=settings.GOOGLE_API_KEY.name, secret=key)

    async def aclose(self) -> None:
        for client in self._keyed.take_clients():
            close = getattr(client.aio, "aclose", None)  # older SDK releases have none (the pool is ours)
            if close is not None:
                await close()
        if self._http is not None:
            await self._http.aclose()


class _Accumulator:
    """Folds Gemini responses (one, or the chunks of a stream) into one ``ModelResponse``."""

    def __init__(self, signatures: OrderedDict[str, bytes]) -> None:
        self._signatures = signatures
        self.seen = False
        self.text: list[str] = []
        self.calls: list[ToolCall] = []
        self.finish_reason: str | None = None
        self.usage = Usage()
        self.model: str | None = None
        self.response_id: str | None = None

    def add(self, response: types.GenerateContentResponse) -> list[str]:
        """Record one response; returns its text pieces, in order."""
        self.seen = True
        self.model = response.model_version or self.model
        self.response_id = response.response_id or self.response_id
        if response.usage_metadata is not None:
            meta = response.usage_metadata
            self.usage = Usage(
                input_tokens=meta.prompt_token_count or 0,
                output_tokens=(meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
                requests=1,
                reasoning_tokens=meta.thoughts_token_count or 0,
            )
        pieces: list[str] = []
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            self.finish_reason = "content_filter"  # the prompt itself was blocked: no candidates follow
        if not response.candidates:
            return pieces
        candidate = response.candidates[0]
        if candidate.finish_reason is not None:
            reason = getattr(candidate.finish_reason, "value", str(candidate.finish_reason))
            self.finish_reason = _FINISH_REASONS.get(reason, reason.lower())
        parts = candidate.content.parts if candidate.content is not None else None
        for part in parts or []:
            if part.function_call is not None:
                self._add_call(part)
            elif part.text and not part.thought:
                pieces.append(part.text)
        self.text.extend(pieces)
        return pieces

    def _add_call(self, part: types.Part) -> None:
        call = part.function_call
        assert call is not None
        call_id = call.id or f"{GENERATED_ID_PREFIX}{uuid.uuid4().hex[:16]}"
        if part.thought_signature:
            self._signatures[call_id] = part.thought_signature
            while len(self._signatures) > _SIGNATURE_CACHE_SIZE:
                self._signatures.popitem(last=False)
        args = call.args if isinstance(call.args, dict) else None
        self.calls.append(parse_tool_arguments(call_id, call.name or "", args))

    def finish(self) -> ModelResponse:
        self.usage.requests = 1
        return ModelResponse(
            text="".join(self.text),
            tool_calls=self.calls,
            finish_reason="tool_calls" if self.calls else self.finish_reason,
            usage=self.usage,
            model=self.model,
            response_id=self.response_id,
        )


def to_gemini_contents(messages: list[Message],
                       signatures: dict[str, bytes] | None = None) -> list[types.Content]:
    """The history as Gemini ``contents``: ``user`` and ``model`` turns, same-role neighbours merged."""
    signatures = signatures or {}
    contents: list[types.Content] = []

    def add(role: str, parts: list[types.Part]) -> None:
        if not parts:
            return
        if contents and contents[-1].role == role and contents[-1].parts is not None:
            contents[-1].parts.extend(parts)
        else:
            contents.append(types.Content(role=role, parts=parts))

    for message in messages:
        if message.role == "user":
            add("user", [types.Part(text=message.content)] if message.content else [])
        elif message.role == "assistant":
            parts: list[types.Part] = [types.Part(text=message.content)] if message.content else []
            for index, call in enumerate(message.tool_calls):
                function_call = types.FunctionCall(
                    name=call.name, args=call.arguments if call.invalid_arguments is None else {},
                    id=None if call.id.startswith(GENERATED_ID_PREFIX) else call.id)
                signature = signatures.get(call.id) or (SKIP_SIGNATURE if index == 0 else None)
                parts.append(types.Part(function_call=function_call, thought_signature=signature))
            add("model", parts)
        elif message.role == "tool":
            key = "error" if message.is_error else "output"
            call_id = message.tool_call_id
            add("user", [types.Part(function_response=types.FunctionResponse(
                name=message.name or "", response={key: message.content},
                id=None if not call_id or call_id.startswith(GENERATED_ID_PREFIX) else call_id))])
    return contents


# --- JSON schema -> Gemini schema -------------------------------------------------------------------------

_FORMATS = {"STRING": {"enum", "date-time"}, "INTEGER": {"int32", "int64"}, "NUMBER": {"float", "double"}}
_RENAMED = {"minItems": "min_items", "maxItems": "max_items", "minLength": "min_length",
            "maxLength": "max_length", "minProperties": "min_properties", "maxProperties": "max_properties"}
_MAX_DEPTH = 16


def gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema (as pydantic writes it) in the OpenAPI subset of Gemini's ``Schema``.

    ``$ref`` is inlined from ``$defs``/``definitions`` (recursion is cut at a fixed depth), ``anyOf`` with
    ``null`` and ``type: [..., "null"]`` become ``nullable``, ``const`` becomes a one-value enum, and keywords
    Gemini rejects (``additionalProperties``, ``$schema``, ``default``, ``title``, unknown formats, enums of
    non-strings) are dropped, their meaning kept in the description where it matters.
    """
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), dict):
            defs.update(schema[key])
    return _convert(schema, defs, 0)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    name = re.sub(r"^#/(\$defs|definitions)/", "", ref)
    target = defs.get(name)
    if not isinstance(target, dict):
        return {k: v for k, v in node.items() if k != "$ref"}
    merged = dict(target)
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return merged


def _convert(node: Any, defs: dict[str, Any], depth: int) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    node = _resolve(node, defs)
    if depth > _MAX_DEPTH:
        kind = node.get("type")
        cut: dict[str, Any] = {"type": kind.upper() if isinstance(kind, str) else "OBJECT",
                               "description": "(deeper levels omitted)"}
        if cut["type"] == "ARRAY":
            cut["items"] = {"type": "STRING"}
        return cut
    for _ in range(_MAX_DEPTH):
        if "$ref" not in node:
            break
        node = _resolve(node, defs)
    out: dict[str, Any] = {}
    nullable = False

    variants = node.get("anyOf") or node.get("oneOf")
    if isinstance(variants, list):
        kept = [v for v in variants if not (isinstance(v, dict) and v.get("type") == "null")]
        nullable = len(kept) < len(variants)
        if len(kept) == 1:
            out.update(_convert(kept[0], defs, depth + 1))
        elif kept:
            out["any_of"] = [_convert(v, defs, depth + 1) for v in kept]
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:
        out.update(_convert(all_of[0], defs, depth + 1))

    kind = node.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        nullable = nullable or len(non_null) < len(kind)
        if len(non_null) == 1:
            kind = non_null[0]
        elif non_null:
            out["any_of"] = [{"type": str(k).upper()} for k in non_null]
            kind = None
        else:
            kind = None
    if isinstance(kind, str) and kind != "null":
        out["type"] = kind.upper()

    description = node.get("description")
    notes: list[str] = []
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    enum = node.get("enum")
    if isinstance(enum, list) and enum:
        if all(isinstance(v, str) for v in enum):
            out["type"] = "STRING"
            out["enum"] = list(enum)
            out["format"] = "enum"
        else:
            notes.append("one of: " + ", ".join(str(v) for v in enum))
            if "type" not in out:
                first = enum[0]
                out["type"] = ("BOOLEAN" if isinstance(first, bool) else "INTEGER" if isinstance(first, int)
                               else "NUMBER" if isinstance(first, float) else "STRING")

    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(out.get("type", ""), set()) and "format" not in out:
        out["format"] = fmt

    properties = node.get("properties")
    if isinstance(properties, dict):
        out["type"] = "OBJECT"
        out["properties"] = {name: _convert(sub, defs, depth + 1) for name, sub in properties.items()}
        required = [name for name in node.get("required") or [] if name in properties]
        if required:
            out["required"] = required
    elif out.get("type") == "OBJECT" and isinstance(node.get("additionalProperties"), dict):
        notes.append("an object whose keys are free-form")

    items = node.get("items")
    if isinstance(items, dict):
        out["type"] = "ARRAY"
        out["items"] = _convert(items, defs, depth + 1)
    elif out.get("type") == "ARRAY":
        out["items"] = {"type": "STRING"}

    for key in ("minimum", "maximum", "pattern", *_RENAMED):
        if key in node:
            out[_RENAMED.get(key, key)] = node[key]

    if nullable:
        out["nullable"] = True
    if isinstance(description, str) and description:
        notes.insert(0, description)
    if notes:
        out["description"] = "; ".join(notes)
    if "type" not in out and "any_of" not in out:
        out["type"] = "STRING"
    return out


# --- errors -----------------------------------------------------------------------------------------------


def _retry_delay(exc: genai_errors.APIError) -> float | None:
    """Seconds from Google's ``RetryInfo`` detail, else from a ``retry-after`` header."""
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    for detail in error.get("details") or [] if isinstance(error, dict) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)s\s*", str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    headers = getattr(exc.response, "headers", None)
    return parse_retry_after(dict(headers)) if headers is not None else None


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError):
        return True
    return any(cls.__name__ in ("TimeoutException", "ServerTimeoutError") for cls in type(exc).__mro__)


def _is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError):
        return True
    return any(cls.__name__ in ("ConnectError", "NetworkError", "ClientConnectionError")
               for cls in type(exc).__mro__)
