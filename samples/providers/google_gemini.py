"""GeminiAgent: Google Gemini through the official ``google-genai`` SDK.

Uses Gemini when ``GOOGLE_API_KEY`` is set (``GOOGLE_GEMINI_BASE_URL`` optionally points at another endpoint);
otherwise it runs on the app's default model (``LLMConfig.from_env()``).
"""

from __future__ import annotations

import os

from shared_tools import convert_temperature, word_stats

from azurefunctions.agents import Agent
from azurefunctions.agents.types import LLMConfig, LLMProvider


def gemini_config() -> LLMConfig:
    if os.environ.get("GOOGLE_API_KEY", "").strip():
        return LLMConfig(
            provider=LLMProvider.GOOGLE,
            model_name=os.environ.get("GEMINI_MODEL", "").strip() or "gemini-2.5-flash",
        )
    return LLMConfig.from_env()


gemini_agent = Agent(
    name="GeminiAgent",
    instructions="You are a concise assistant. Use the tools for conversions and word counts.",
    description="Google Gemini with unit-conversion and text tools.",
    tools=[convert_temperature, word_stats],
    llm_config=gemini_config(),
)
