"""OpenAI and Azure OpenAI through the official ``openai`` SDK (Chat Completions, async client)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import openai

from .. import settings
from ..errors import (
    ConfigurationError,
    ProviderAuthenticationError,
    ProviderError,
    ProviderRateLimitError,
    ProviderTimeoutError,
)
from ..messages import Message, Usage
from ..types import LLMConfig
from .base import ModelDelta, ModelProvider, ModelRequest, ModelResponse, ModelStreamItem, parse_tool_arguments
from .credentials import locate_api_key
from .keyed import KeyedClient, ProviderKey

AZURE_OPENAI_SCOPE = "https://cognitiveservices.azure.com/.default"


class OpenAIProvider(ModelProvider):
    """OpenAI. A key kept in Key Vault is read at the first request, in a worker thread, and refreshed when
    OpenAI refuses it (``keyed.py``)."""

    provider_name = "openai"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._keyed = self._make_keyed(config)
        self.server_address = urlparse(str(self.client.base_url)).hostname

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
            max_retries=config.max_retries,
        )

    def _model(self, request: ModelRequest) -> str:
        return request.model

    def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamItem]:
        """One model call; a key from Key Vault that the provider refuses (rotated) is re-read and the call
        retried once."""
        return self._keyed.stream(lambda client, _key: self._stream_once(client, request))

    async def _stream_once(self, client: Any, request: ModelRequest) -> AsyncIterator[ModelStreamItem]:
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
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if request.json_output:
            params["response_format"] = {"type": "json_object"}
        params.update(self.config.extra)
        try:
            if request.stream:
                async for item in self._stream(client, params):
                    yield item
            else:
                response = await client.chat.completions.create(**params)
                result = _from_completion(response)
                if result.text:
                    yield ModelDelta(result.text)
                yield result
        except openai.OpenAIError as exc:
            raise _translate(exc, self.provider_name) from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ProviderError(f"{self.provider_name} returned a malformed response") from exc

    async def _stream(self, client: Any, params: dict[str, Any]) -> AsyncIterator[ModelStreamItem]:
        stream = await client.chat.completions.create(
            **params, stream=True, stream_options={"include_usage": True})
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        result = ModelResponse()
        async for chunk in stream:
            result.response_id = result.response_id or chunk.id
            result.model = chunk.model or result.model
            if chunk.usage is not None:
                result.usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0, 1)
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
        if result.usage.requests == 0:
            result.usage.requests = 1
        yield result

    async def aclose(self) -> None:
        for client in self._keyed.take_clients():
            await client.close()


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI: an API key when one is configured, else Entra ID (the app's managed identity)."""

    provider_name = "azure.ai.openai"

    def _make_keyed(self, config: LLMConfig) -> KeyedClient[Any]:
        endpoint = config.endpoint or config.base_url or settings.AZURE_OPENAI_ENDPOINT.get()
        if not endpoint:
            raise ConfigurationError(
                "No model is configured: set AZURE_OPENAI_ENDPOINT (Azure OpenAI with managed identity), "
                "or OPENAI_API_KEY, or choose a provider with AGENT_PROVIDER."
            )
        api_version = config.api_version or settings.AZURE_OPENAI_API_VERSION.get()
        common: dict[str, Any] = {
            "azure_endpoint": endpoint,
            "api_version": api_version,
            "timeout": config.timeout,
            "max_retries": config.max_retries,
        }
        if config.azure_deployment:
            common["azure_deployment"] = config.azure_deployment
        self._common = common
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
            raise ConfigurationError(
                "Azure OpenAI without AZURE_OPENAI_API_KEY uses Entra ID: "
                "pip install 'azurefunctions-agent-framework[identity]'"
            ) from exc
        self._credential = DefaultAzureCredential()
        token_provider = get_bearer_token_provider(self._credential, AZURE_OPENAI_SCOPE)
        return openai.AsyncAzureOpenAI(azure_ad_token_provider=token_provider, **self._common)

    def _client_with_key(self, config: LLMConfig, api_key: str) -> Any:
        return openai.AsyncAzureOpenAI(api_key=api_key, **self._common)

    def _model(self, request: ModelRequest) -> str:
        return self.config.azure_deployment or request.model

    async def aclose(self) -> None:
        await super().aclose()
        credential = getattr(self, "_credential", None)
        if credential is not None:
            await credential.close()


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
                     "function": {"name": c.name,
                                  "arguments": c.invalid_arguments if c.invalid_arguments is not None
                                  else json.dumps(c.arguments)}}
                    for c in m.tool_calls
                ]
            out.append(item)
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def _from_completion(response: Any) -> ModelResponse:
    if not getattr(response, "choices", None):
        raise ProviderError("the model returned no choices")
    choice = response.choices[0]
    message = choice.message
    usage = response.usage
    return ModelResponse(
        text=message.content or "",
        tool_calls=[
            parse_tool_arguments(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []
        ],
        finish_reason=choice.finish_reason,
        usage=Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0, 1) if usage else Usage(requests=1),
        model=response.model,
        response_id=response.id,
    )


def _translate(exc: Exception, provider: str) -> ProviderError:
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeoutError(f"{provider} did not answer in time")
    if isinstance(exc, openai.RateLimitError):
        retry_after = None
        raw = exc.response.headers.get("retry-after") if exc.response is not None else None
        try:
            retry_after = float(raw) if raw is not None else None
        except ValueError:
            retry_after = None
        return ProviderRateLimitError(f"{provider} rate limit reached; retry later", retry_after=retry_after)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ProviderAuthenticationError(f"{provider} refused the credentials (HTTP {exc.status_code})")
    if isinstance(exc, openai.APIStatusError):
        return ProviderError(f"{provider} answered HTTP {exc.status_code}")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(f"could not reach {provider}")
    return ProviderError(f"{provider} returned a malformed response")
