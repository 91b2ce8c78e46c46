"""OpenAI and Azure OpenAI through the official ``openai`` SDK: Chat Completions or the Responses API.

``LLMConfig.api`` picks the API per agent: ``"chat_completions"`` (default; every OpenAI-compatible server
speaks it) or ``"responses"`` (OpenAI's API for agents). Both carry tools, streaming, usage with reasoning
tokens, ``reasoning_effort`` and typed answers (a strict ``json_schema`` response format when the schema allows
strict mode). The token limit goes as ``max_completion_tokens`` (Chat) or ``max_output_tokens`` (Responses):
``max_tokens`` is deprecated and reasoning models refuse it.

Azure OpenAI speaks its v1 API (``{endpoint}/openai/v1/``, no api-version) with the plain ``AsyncOpenAI``
client unless a dated ``api_version`` is configured, which keeps the ``/openai/deployments/...`` path of
``AsyncAzureOpenAI``. Either way a key is used when one is configured, else an Entra ID token from the app's
identity. The SDK's own retries are off: ``retry.py`` retries for every provider, reading ``retry-after-ms``,
``retry-after`` seconds and HTTP dates.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import openai

from .. import settings
from ..errors import (
    ConfigurationError,
    ProviderError,
    ProviderTimeoutError,
    missing_extra,
)
from ..messages import Message, Usage
from ..types import LLMConfig
from .base import (
    ModelDelta,
    ModelProvider,
    ModelRequest,
    ModelResponse,
    ModelStreamItem,
    OutputSpec,
    parse_tool_arguments,
)
from .credentials import locate_api_key
from .keyed import KeyedClient, ProviderKey
from .retry import RetryPolicy, call_with_retries, clean_detail, parse_retry_after, status_error

AZURE_OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"
#: ``api_version`` values that mean Azure's v1 API rather than a dated version.
AZURE_V1_VERSIONS = frozenset({"", "v1"})

_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


class OpenAIProvider(ModelProvider):
    """OpenAI. A key kept in Key Vault is read at the first request, in a worker thread, and refreshed when
    OpenAI refuses it (``keyed.py``)."""

    provider_name = "openai"
    key_setting: settings.Setting = settings.OPENAI_API_KEY

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._keyed = self._make_keyed(config)
        self.server_address = urlparse(str(self.client.base_url)).hostname
        self.retry_policy = RetryPolicy(max_retries=config.max_retries)

    @property
    def client(self) -> Any:
        """The SDK client for the key in force (replaced when a key from Key Vault rotates)."""
        return self._keyed.client

    def _make_keyed(self, config: LLMConfig) -> KeyedClient[Any]:
        key = ProviderKey(config.api_key, settings.OPENAI_API_KEY)
        return KeyedClient(key, lambda api_key: self._client_with_key(config, api_key), self.provider_name)

    def _client_with_key(self, config: LLMConfig, api_key: str) -> Any:
        return openai.AsyncOpenAI(
            api_key=api_key,
            base_url=config.base_url or settings.OPENAI_BASE_URL.get(),
            timeout=config.timeout,
            max_retries=0,
        )

    def _model(self, request: ModelRequest) -> str:
        return request.model

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamItem]:
        """One model call, retried by the shared policy; a key from Key Vault that the provider refuses
        (rotated) is re-read and the call retried once."""
        responses = self.config.api == "responses"
        params = self._responses_params(request) if responses else self._chat_params(request)
        attempt = self._responses_attempt if responses else self._chat_attempt
        return self._keyed.stream(lambda client, key: call_with_retries(
            self.retry_policy, lambda: self._guarded(attempt(client, params, request.stream), key)))

    async def _guarded(self, items: AsyncIterator[ModelStreamItem], key: str) -> AsyncIterator[ModelStreamItem]:
        """``items`` with SDK errors translated into the runtime's (``key`` masked in any detail kept)."""
        try:
            async for item in items:
                yield item
        except openai.OpenAIError as exc:
            raise self._translate(exc, key) from exc
        except ProviderError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderError(f"{self.provider_name} returned a malformed response") from exc

    # Chat Completions ---------------------------------------------------------------------------------------
    def _chat_params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self._model(request),
            "messages": to_openai_messages(request.system, request.messages),
        }
        if request.tools:
            params["tools"] = [
                {"type": "function",
                 "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
                for t in request.tools
            ]
        temperature = request.temperature if request.temperature is not None else self.config.temperature
        if temperature is not None:
            params["temperature"] = temperature
        max_tokens = request.max_tokens or self.config.max_tokens
        if max_tokens is not None and "max_tokens" not in self.config.extra:
            params["max_completion_tokens"] = max_tokens
        if self.config.reasoning_effort is not None:
            params["reasoning_effort"] = self.config.reasoning_effort
        if request.output is not None:
            params["response_format"] = {"type": "json_schema", "json_schema": json_schema_format(request.output)}
        elif request.json_output:
            params["response_format"] = {"type": "json_object"}
        params.update(self.config.extra)
        return params

    async def _chat_attempt(self, client: Any, params: dict[str, Any],
                            stream: bool) -> AsyncIterator[ModelStreamItem]:
        if stream:
            async for item in self._chat_stream(client, params):
                yield item
            return
        response = await client.chat.completions.create(**params)
        result = _from_completion(response)
        if result.text:
            yield ModelDelta(result.text)
        yield result

    async def _chat_stream(self, client: Any, params: dict[str, Any]) -> AsyncIterator[ModelStreamItem]:
        stream = await client.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True})
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        result = ModelResponse()
        async for chunk in stream:
            result.response_id = result.response_id or chunk.id
            result.model = chunk.model or result.model
            if chunk.usage is not None:
                result.usage = _chat_usage(chunk.usage)
            for choice in chunk.choices:
                delta = choice.delta
                if delta is not None and delta.content:
                    text.append(delta.content)
                    yield ModelDelta(delta.content)
                for call in (delta.tool_calls or []) if delta is not None else []:
                    slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                    if call.id:
                        slot["id"] = call.id
                    if call.function is not None:
                        slot["name"] += call.function.name or ""
                        slot["arguments"] += call.function.arguments or ""
                if choice.finish_reason:
                    result.finish_reason = choice.finish_reason
        result.text = "".join(text)
        result.tool_calls = [
            parse_tool_arguments(slot["id"] or f"call_{index}", slot["name"], slot["arguments"])
            for index, slot in sorted(calls.items())
        ]
        result.usage.requests = 1
        yield result

    # Responses API -------------------------------------------------------------------------------------------
    def _responses_params(self, request: ModelRequest) -> dict[str, Any]:
        # The conversation lives in the session store; nothing is kept at the provider (store=False).
        params: dict[str, Any] = {
            "model": self._model(request),
            "input": to_responses_input(request.messages),
            "store": False,
        }
        if request.system:
            params["instructions"] = request.system
        if request.tools:
            params["tools"] = [
                {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters,
                 "strict": False}
                for t in request.tools
            ]
        temperature = request.temperature if request.temperature is not None else self.config.temperature
        if temperature is not None:
            params["temperature"] = temperature
        max_tokens = request.max_tokens or self.config.max_tokens
        if max_tokens is not None:
            params["max_output_tokens"] = max_tokens
        if self.config.reasoning_effort is not None:
            params["reasoning"] = {"effort": self.config.reasoning_effort}
        if request.output is not None:
            params["text"] = {"format": {"type": "json_schema", **json_schema_format(request.output)}}
        elif request.json_output:
            params["text"] = {"format": {"type": "json_object"}}
        params.update(self.config.extra)
        return params

    async def _responses_attempt(self, client: Any, params: dict[str, Any],
                                 stream: bool) -> AsyncIterator[ModelStreamItem]:
        if not stream:
            result = _from_response(await client.responses.create(**params))
            if result.text:
                yield ModelDelta(result.text)
            yield result
            return
        events = await client.responses.create(**params, stream=True)
        text: list[str] = []
        final: ModelResponse | None = None
        async for event in events:
            kind = event.type
            if kind == "response.output_text.delta" and event.delta:
                text.append(event.delta)
                yield ModelDelta(event.delta)
            elif kind in ("response.completed", "response.incomplete"):
                final = _from_response(event.response)
            elif kind == "response.failed":
                error = getattr(event.response, "error", None)
                raise ProviderError(f"{self.provider_name} failed the response: "
                                    f"{clean_detail(getattr(error, 'message', None)) or 'no detail'}")
            elif kind == "error":
                raise _stream_error(self.provider_name, getattr(event, "code", None),
                                    getattr(event, "message", None))
        if final is None:
            raise ProviderError(f"{self.provider_name} ended the stream before the response completed")
        final.text = final.text or "".join(text)
        yield final

    # Errors --------------------------------------------------------------------------------------------------
    def _translate(self, exc: openai.OpenAIError, key: str) -> ProviderError:
        provider = self.provider_name
        if isinstance(exc, openai.APITimeoutError):
            return ProviderTimeoutError(
                f"{provider} did not answer within {self.config.timeout:g} s (LLMConfig.timeout)")
        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            message = body.get("message") if isinstance(body.get("message"), str) else None
            return status_error(provider, exc.status_code, message, parse_retry_after(dict(exc.response.headers)),
                                key_setting=self.key_setting.name, secret=key)
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError(f"could not reach {provider} at {self.server_address}")
        if isinstance(exc, openai.APIError) and isinstance(exc.body, dict):  # an error inside a stream
            return _stream_error(provider, exc.body.get("code"), exc.body.get("message"))
        return ProviderError(f"{provider} returned a malformed response")

    async def aclose(self) -> None:
        for client in self._keyed.take_clients():
            await client.close()


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI: an API key when one is configured, else Entra ID (the app's managed identity).

    No ``api_version`` (the default), or ``"v1"``: the v1 API at ``{endpoint}/openai/v1/`` through the plain
    OpenAI client, the deployment name as the model. A dated version (``"2024-10-21"``): the deployments path.
    """

    provider_name = "azure.ai.openai"
    key_setting = settings.AZURE_OPENAI_API_KEY

    def _make_keyed(self, config: LLMConfig) -> KeyedClient[Any]:
        endpoint = config.endpoint or config.base_url or settings.AZURE_OPENAI_ENDPOINT.get()
        if not endpoint:
            raise ConfigurationError(
                "No model is configured: set AZURE_OPENAI_ENDPOINT (Azure OpenAI with managed identity), "
                "or OPENAI_API_KEY, or choose a provider with AGENT_PROVIDER."
            )
        api_version = (config.api_version or settings.AZURE_OPENAI_API_VERSION.get() or "").strip()
        self.v1 = api_version.lower() in AZURE_V1_VERSIONS
        self._endpoint = endpoint
        self._api_version = api_version
        # No key anywhere: Entra ID. The fallback secret 'azure-openai-api-key' may not exist; whether it does
        # is learnt at the first request (read in a worker thread), and without it Entra ID is used for good.
        key = (ProviderKey(config.api_key, settings.AZURE_OPENAI_API_KEY, optional=True)
               if locate_api_key(config.api_key, settings.AZURE_OPENAI_API_KEY) is not None else None)
        return KeyedClient(key, lambda value: self._client_with_key(config, value), self.provider_name,
                           keyless=self._entra_client)

    def _entra_client(self) -> Any:
        """A client that authenticates with the app's identity (``DefaultAzureCredential``)."""
        try:
            from azure.identity.aio import DefaultAzureCredential, get_bearer_token_provider
        except ModuleNotFoundError as exc:
            raise missing_extra("Azure OpenAI without AZURE_OPENAI_API_KEY (Entra ID)", "identity", exc) from exc
        self._credential = DefaultAzureCredential()
        token_provider = get_bearer_token_provider(self._credential, AZURE_OPENAI_SCOPE)
        if self.v1:
            # The v1 API takes the Entra token as the bearer "key"; the SDK calls the provider per request.
            return openai.AsyncOpenAI(api_key=token_provider, base_url=azure_v1_base_url(self._endpoint),
                                      timeout=self.config.timeout, max_retries=0)
        return openai.AsyncAzureOpenAI(azure_ad_token_provider=token_provider, **self._dated_options())

    def _client_with_key(self, config: LLMConfig, api_key: str) -> Any:
        if self.v1:
            # Azure's documented v1 form sends the key as the bearer token; the ``api-key`` header, Azure's own
            # header for keys, goes too, so gateways in front of Azure that only know it keep working.
            return openai.AsyncOpenAI(api_key=api_key, base_url=azure_v1_base_url(self._endpoint),
                                      default_headers={"api-key": api_key},
                                      timeout=config.timeout, max_retries=0)
        return openai.AsyncAzureOpenAI(api_key=api_key, **self._dated_options())

    def _dated_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"azure_endpoint": self._endpoint, "api_version": self._api_version,
                                   "timeout": self.config.timeout, "max_retries": 0}
        if self.config.azure_deployment:
            options["azure_deployment"] = self.config.azure_deployment
        return options

    def _model(self, request: ModelRequest) -> str:
        return self.config.azure_deployment or request.model

    async def aclose(self) -> None:
        await super().aclose()
        credential = getattr(self, "_credential", None)
        if credential is not None:
            await credential.close()


def azure_v1_base_url(endpoint: str) -> str:
    """``https://<resource>.openai.azure.com/openai/v1/`` from the resource endpoint (given with or without
    the ``/openai/v1`` suffix)."""
    base = endpoint.rstrip("/")
    if base.endswith("/openai/v1"):
        return base + "/"
    if base.endswith("/openai"):
        return base + "/v1/"
    return base + "/openai/v1/"


# --- structured output ----------------------------------------------------------------------------------------


def json_schema_format(output: OutputSpec) -> dict[str, Any]:
    """The ``json_schema`` format body: strict when the schema can be made strict (OpenAI's structured
    outputs then guarantee it), else the plain schema, which the runtime still validates."""
    strict = strict_json_schema(output.schema)
    body: dict[str, Any] = {"name": output.name, "schema": strict if strict is not None else output.schema,
                            "strict": strict is not None}
    if output.description:
        body["description"] = output.description
    return body


def strict_json_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """``schema`` as OpenAI's strict mode wants it (every object closed, every property required, no
    ``default``), or ``None`` when it has free-form objects (``dict[str, X]``), which strict mode cannot take.

    Optional fields stay nullable in the schema, so the model sends ``null`` and validation fills nothing in.
    """
    result = copy.deepcopy(schema)

    def visit(node: Any) -> bool:
        if isinstance(node, list):
            return all(visit(item) for item in node)
        if not isinstance(node, dict):
            return True
        node.pop("default", None)
        if node.get("type") == "object" or "properties" in node:
            extra = node.get("additionalProperties")
            if extra not in (None, False):
                return False
            node["additionalProperties"] = False
            node["required"] = list(node.get("properties") or {})
        for key in ("properties", "$defs", "definitions"):
            if isinstance(node.get(key), dict) and not all(visit(v) for v in node[key].values()):
                return False
        for key in ("items", "anyOf", "allOf", "oneOf", "prefixItems"):
            if key in node and not visit(node[key]):
                return False
        return True

    return result if visit(result) else None


# --- wire formats ---------------------------------------------------------------------------------------------


def to_openai_messages(system: str | None, messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for m in messages:
        if m.role == "tool":
            out.append({"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content})
        elif m.role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": m.content or None}
            if m.tool_calls:
                item["tool_calls"] = [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.name, "arguments": _arguments_text(c)}}
                    for c in m.tool_calls
                ]
            out.append(item)
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def to_responses_input(messages: list[Message]) -> list[dict[str, Any]]:
    """The history as Responses API input items: messages, ``function_call`` and ``function_call_output``."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "tool":
            out.append({"type": "function_call_output", "call_id": m.tool_call_id or "", "output": m.content})
        elif m.role == "assistant":
            if m.content:
                out.append({"role": "assistant", "content": m.content})
            for c in m.tool_calls:
                out.append({"type": "function_call", "call_id": c.id, "name": c.name,
                            "arguments": _arguments_text(c)})
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def _arguments_text(call: Any) -> str:
    return call.invalid_arguments if call.invalid_arguments is not None else json.dumps(call.arguments)


def _chat_usage(usage: Any) -> Usage:
    details = getattr(usage, "completion_tokens_details", None)
    return Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0, 1,
                 reasoning_tokens=getattr(details, "reasoning_tokens", None) or 0)


def _from_completion(response: Any) -> ModelResponse:
    if not getattr(response, "choices", None):
        raise ProviderError("the model returned no choices")
    choice = response.choices[0]
    message = choice.message
    return ModelResponse(
        text=message.content or "",
        tool_calls=[
            parse_tool_arguments(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []
        ],
        finish_reason=choice.finish_reason,
        usage=_chat_usage(response.usage) if response.usage else Usage(requests=1),
        model=response.model,
        response_id=response.id,
    )


def _from_response(response: Any) -> ModelResponse:
    """A Responses API ``Response`` (non-streamed, or the one ``response.completed`` carries)."""
    text: list[str] = []
    calls = []
    for item in response.output or []:
        if item.type == "message":
            text.extend(part.text for part in item.content or [] if part.type == "output_text")
        elif item.type == "function_call":
            calls.append(parse_tool_arguments(item.call_id, item.name, item.arguments))
    usage = Usage(requests=1)
    if response.usage is not None:
        details = getattr(response.usage, "output_tokens_details", None)
        usage = Usage(response.usage.input_tokens or 0, response.usage.output_tokens or 0, 1,
                      reasoning_tokens=getattr(details, "reasoning_tokens", None) or 0)
    finish = "tool_calls" if calls else "stop"
    if response.status == "incomplete":
        reason = getattr(response.incomplete_details, "reason", None) or "length"
        finish = _INCOMPLETE_REASONS.get(reason, reason)
    return ModelResponse(text="".join(text), tool_calls=calls, finish_reason=finish, usage=usage,
                         model=response.model, response_id=response.id)


def _stream_error(provider: str, code: Any, message: Any) -> ProviderError:
    """An ``error`` event inside a stream that had started with HTTP 200."""
    status = 429 if code in ("rate_limit_exceeded", "rate_limit_error") else 503 if code == "server_is_overloaded" \
        else 502
    return status_error(provider, status, message if isinstance(message, str) else None, None)
