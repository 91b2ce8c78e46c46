"""Helpers shared by the provider tests: build a provider for a config, and read its stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from azurefunctions.agents.providers.base import ModelDelta, ModelProvider, ModelRequest, ModelResponse
from azurefunctions.agents.providers.factory import create_provider
from azurefunctions.agents.types import LLMConfig


@asynccontextmanager
async def provider_for(config: LLMConfig) -> AsyncIterator[ModelProvider]:
    provider = create_provider(config)
    try:
        yield provider
    finally:
        await provider.aclose()


async def collect(provider: ModelProvider, request: ModelRequest) -> tuple[list[str], ModelResponse]:
    """The text deltas and the one final response of a stream, checking the stream's shape on the way."""
    deltas: list[str] = []
    finals: list[ModelResponse] = []
    async for item in provider.stream(request):
        if isinstance(item, ModelDelta):
            assert not finals, "a delta came after the final response"
            deltas.append(item.text)
        else:
            finals.append(item)
    assert len(finals) == 1, "a stream must end with exactly one ModelResponse"
    return deltas, finals[0]
