"""Peer: OpenAI Agents SDK (``openai-agents``) with its Chat Completions model and tracing off."""

from __future__ import annotations

from typing import Any

import harness


def build(base_url: str) -> Any:
    import openai
    from agents import Agent, OpenAIChatCompletionsModel, function_tool, set_tracing_disabled

    set_tracing_disabled(True)
    client = openai.AsyncOpenAI(api_key=harness.API_KEY, base_url=base_url, max_retries=0)
    return Agent(
        name="WeatherBot",
        instructions=harness.INSTRUCTIONS,
        tools=[function_tool(harness.get_weather)],
        model=OpenAIChatCompletionsModel(model=harness.MODEL, openai_client=client),
    )


async def turn(agent: Any, message: str) -> str:
    from agents import Runner

    result = await Runner.run(agent, message)
    return str(result.final_output)


if __name__ == "__main__":
    harness.main(build, turn)
