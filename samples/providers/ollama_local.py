"""OllamaAgent: a local open model served by Ollama, through the official ``ollama`` SDK.

Uses Ollama when ``OLLAMA_HOST`` is set (for example ``http://localhost:11434``; no key is needed), otherwise
the app's default model (``LLMConfig.from_env()``). Pull the model first: ``ollama pull llama3.2``.
"""

from __future__ import annotations

import os

from shared_tools import convert_temperature, word_stats

from azurefunctions.agents import Agent
from azurefunctions.agents.types import LLMConfig, LLMProvider


def ollama_config() -> LLMConfig:
    host = os.environ.get("OLLAMA_HOST", "").strip()
    if host:
        return LLMConfig(
            provider=LLMProvider.OLLAMA,
            model_name=os.environ.get("OLLAMA_MODEL", "").strip() or "llama3.2",
            base_url=host,
            timeout=120,  # a local model may need to load first
        )
    return LLMConfig.from_env()


ollama_agent = Agent(
    name="OllamaAgent",
    instructions="You are a helpful assistant running on a local model. Use the tools when they fit.",
    description="A local Ollama model with unit-conversion and text tools.",
    tools=[convert_temperature, word_stats],
    llm_config=ollama_config(),
)
