"""Peer: Microsoft Agent Framework (``agent-framework-core`` + ``agent-framework-openai``), Chat Completions."""

from __future__ import annotations

from typing import Any

import harness


def build(base_url: str) -> Any:
    import openai
    from agent_framework import Agent
    from agent_framework.openai import OpenAIChatCompletionClient

    client = openai.AsyncOpenAI(api_key=harness.API_KEY, base_url=base_url, max_retries=0)
    return Agent(
        client=OpenAIChatCompletionClient(model=harness.MODEL, async_client=client),
        instructions=harness.INSTRUCTIONS,
        name="WeatherBot",
        tools=[harness.get_weather],
    )


async def turn(agent: Any, message: str) -> str:
    response = await agent.run(message)
    return str(response.text)


if __name__ == "__main__":
    harness.main(build, turn)
