"""The seed package (``azurefunctions-agent-framework`` 0.0.1a21 on PyPI), ``Agent`` and ``Runner``."""

from __future__ import annotations

from typing import Any

import harness


def build(base_url: str) -> Any:
    from azurefunctions.agents import Agent, LLMConfig, LLMProvider, Runner

    agent = Agent(
        name="WeatherBot",
        instructions=harness.INSTRUCTIONS,
        tools=[harness.get_weather],
        llm_config=LLMConfig(provider=LLMProvider.OPENAI, model_name=harness.MODEL, api_key=harness.API_KEY,
                             api_base=base_url, max_retries=0),
    )
    return Runner(agent)


async def turn(runner: Any, message: str) -> str:
    response = await runner.run(message)
    return str(getattr(response, "response", response))


if __name__ == "__main__":
    harness.main(build, turn)
