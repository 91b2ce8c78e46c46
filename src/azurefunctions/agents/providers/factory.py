"""Builds the provider for an ``LLMConfig``, importing only that provider's SDK."""

from __future__ import annotations

import importlib

from ..errors import missing_extra
from ..types import LLMConfig, LLMProvider
from .base import ModelProvider

# provider -> (module, class); each module imports its SDK at import time, so it is loaded only here.
_PROVIDERS: dict[LLMProvider, tuple[str, str]] = {
    LLMProvider.OPENAI: (".openai_provider", "OpenAIProvider"),
    LLMProvider.AZURE_OPENAI: (".openai_provider", "AzureOpenAIProvider"),
    LLMProvider.ANTHROPIC: (".anthropic_provider", "AnthropicProvider"),
    LLMProvider.GOOGLE: (".google_provider", "GoogleProvider"),
    LLMProvider.OLLAMA: (".ollama_provider", "OllamaProvider"),
    LLMProvider.OFFLINE: (".offline", "OfflineProvider"),
}

_EXTRAS: dict[LLMProvider, str] = {
    LLMProvider.OPENAI: "openai",
    LLMProvider.AZURE_OPENAI: "openai",
    LLMProvider.ANTHROPIC: "anthropic",
    LLMProvider.GOOGLE: "google",
    LLMProvider.OLLAMA: "ollama",
}


def create_provider(config: LLMConfig) -> ModelProvider:
    module_name, class_name = _PROVIDERS[config.provider]
    try:
        module = importlib.import_module(module_name, __package__)
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get(config.provider, config.provider.value)
        raise missing_extra(f"The {config.provider.value} provider", extra, exc) from exc
    provider_class: type[ModelProvider] = getattr(module, class_name)
    return provider_class(config)  # type: ignore[call-arg]


def load_sdk(config: LLMConfig) -> None:
    """Import the provider's module and SDK now. Safe in a worker thread: a server calls it there before an
    agent's first turn, so that import (seconds for some SDKs) does not hold up its event loop, which may be
    answering other requests. A missing SDK is left for ``create_provider`` to report."""
    module_name, _ = _PROVIDERS[config.provider]
    try:
        importlib.import_module(module_name, __package__)
    except ImportError:
        return
