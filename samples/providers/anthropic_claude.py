"""ClaudeAgent: Anthropic Claude (Messages API) through the official ``anthropic`` SDK.

Uses Claude when ``ANTHROPIC_API_KEY`` is set (``ANTHROPIC_BASE_URL`` optionally points at another endpoint);
otherwise it runs on the app's default model (``LLMConfig.from_env()``), so the rest of the app still works.
"""

from __future__ import annotations

import os

from shared_tools import convert_temperature, word_stats

from azurefunctions.agents import Agent
from azurefunctions.agents.types import LLMConfig, LLMProvider


def claude_config() -> LLMConfig:
    if os.environ.get("ANTHROPIC_API_KEY", "").strip():
        return LLMConfig(
            provider=LLMProvider.ANTHROPIC,
            model_name=os.environ.get("ANTHROPIC_MODEL", "").strip() or "claude-sonnet-4-6",
            max_tokens=1024,
        )
    return LLMConfig.from_env()


claude_agent = Agent(
    name="ClaudeAgent",
    instructions="You are a careful assistant. Use the tools for conversions and word counts; quote their results.",
    description="Anthropic Claude with unit-conversion and text tools.",
    tools=[convert_temperature, word_stats],
    llm_config=claude_config(),
)
