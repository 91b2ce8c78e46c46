"""This project: ``Agent`` and ``Runner`` from ``azurefunctions.agents`` (the default in-memory session store)."""

from __future__ import annotations

from typing import Any

import harness


def build(base_url: str) -> Any:
    from azurefunctions.agents import Agent, LLMConfig, Runner

    agent = Agent(
        name="WeatherBot",
        instructions=harness.INSTRUCTIONS,
        tools=[harness.get_weather],
        llm_config=LLMConfig(provider="openai", model_name=harness.MODEL, api_key=harness.API_KEY,
                             base_url=base_url, max_retries=0),
    )
    return Runner(agent)


async def turn(runner: Any, message: str) -> str:
    response = await runner.run(message)
    if response.status != "success":
        raise RuntimeError(f"the turn failed: {response.error}")
    return response.response or ""


async def close(runner: Any) -> None:
    await runner.agent.aclose()


if __name__ == "__main__":
    harness.main(build, turn, close)
