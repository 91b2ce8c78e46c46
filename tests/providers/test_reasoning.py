"""Reasoning models on every provider: ``LLMConfig.reasoning_effort`` sent in the provider's own field, and the
tokens spent reasoning reported in usage where the provider reports them."""

from __future__ import annotations

from typing import Any

import pytest

from azurefunctions.agents.messages import Message
from azurefunctions.agents.providers.base import ModelRequest
from tests.servers.scripted import Reply

from .conftest import ProviderCase
from .helpers import collect, provider_for


def effort_sent(case: ProviderCase, body: dict[str, Any]) -> Any:
    if case.name in ("openai", "azure_openai"):
        return body["reasoning_effort"]
    if case.name == "anthropic":
        return body["output_config"]["effort"]
    if case.name == "google":
        # The SDK writes nested config objects with their Python field names; Gemini's protobuf JSON parser
        # accepts both those and the lowerCamelCase names.
        # google-genai releases before thinking levels send the documented token budget instead.
        thinking = body["generationConfig"]["thinkingConfig"]
        level = thinking.get("thinkingLevel", thinking.get("thinking_level"))
        if level is None:
            budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
            return {24576: "high"}.get(budget, f"budget {budget}")
        return str(level).lower()
    return body["think"]


# Providers that report reasoning tokens on their own (Anthropic counts thinking in output tokens, Ollama
# reports no split).
REPORTS_REASONING = {"openai", "azure_openai", "google"}


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
async def test_reasoning_effort_is_sent_and_reasoning_tokens_reported(provider_case: ProviderCase,
                                                                      stream: bool) -> None:
    provider_case.script.add(Reply(text="Thought it through.", output_tokens=50, reasoning_tokens=30))
    model = "o4-mini" if provider_case.name in ("openai", "azure_openai") else provider_case.config.model_name
    config = provider_case.with_config(model_name=model, reasoning_effort="high")
    async with provider_for(config) as provider:
        _, final = await collect(provider, ModelRequest(model=model, messages=[Message("user", "Think hard.")],
                                                        stream=stream))
    assert final.text == "Thought it through."
    assert effort_sent(provider_case, provider_case.script.requests[0]) == "high"
    if provider_case.name in REPORTS_REASONING:
        assert final.usage.reasoning_tokens == 30
    else:
        assert final.usage.reasoning_tokens == 0
