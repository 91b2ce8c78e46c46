"""AzureOpenAIAgent: Azure OpenAI with the app's managed identity (no key anywhere).

Uses Azure OpenAI when ``AZURE_OPENAI_ENDPOINT`` is set, with the deployment named by
``AZURE_OPENAI_DEPLOYMENT``. Without ``AZURE_OPENAI_API_KEY`` the runtime signs in with Entra ID: the Function
App's managed identity in Azure (it needs the "Cognitive Services OpenAI User" role), your ``az login`` locally.
Without an endpoint it runs on the app's default model (``LLMConfig.from_env()``).
"""

from __future__ import annotations

import os

from shared_tools import convert_temperature, word_stats

from azurefunctions.agents import Agent
from azurefunctions.agents.types import LLMConfig, LLMProvider


def azure_openai_config() -> LLMConfig:
    endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT", "").strip()
    if endpoint:
        return LLMConfig(
            provider=LLMProvider.AZURE_OPENAI,
            model_name=os.environ.get("AZURE_OPENAI_DEPLOYMENT", "").strip() or "gpt-4o-mini",
            endpoint=endpoint,
        )
    return LLMConfig.from_env()


azure_openai_agent = Agent(
    name="AzureOpenAIAgent",
    instructions="You are a helpful assistant. Use the tools for conversions and word counts.",
    description="Azure OpenAI (managed identity) with unit-conversion and text tools.",
    tools=[convert_temperature, word_stats],
    llm_config=azure_openai_config(),
)
