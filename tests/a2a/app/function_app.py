"""A2A test app: offline-model agents (Converter with a tool, Echo, Sleeper whose tool takes its time),
streaming when A2A_TEST_STREAMING=1, with background work (queued non-blocking tasks) when
A2A_TEST_BACKGROUND=1."""

import asyncio
import os

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.types import LLMConfig


def celsius_to_fahrenheit(celsius: float) -> str:
    """Convert a temperature in degrees Celsius to degrees Fahrenheit."""
    return f"{celsius:g} C is {celsius * 9 / 5 + 32:.1f} F"


async def pause(seconds: float) -> str:
    """Pause (wait) for the given number of seconds, then report."""
    await asyncio.sleep(seconds)
    return f"paused {seconds:g} s"


offline = LLMConfig(provider="offline")
converter = Agent(name="Converter", instructions="Convert units with the tool.", llm_config=offline,
                  description="Converts temperatures from Celsius to Fahrenheit.", tools=[celsius_to_fahrenheit],
                  version="2.1.0")
echo = Agent(name="Echo", instructions="Repeat what you are told.", llm_config=offline,
             description="Repeats the message.")
sleeper = Agent(name="Sleeper", instructions="Pause when asked.", llm_config=offline,
                description="Pauses for a while.", tools=[pause])

app = AgentFunctionApp(agents=[converter, echo, sleeper], mode=AgentMode.A2A,
                       streaming=os.environ.get("A2A_TEST_STREAMING") == "1",
                       background=os.environ.get("A2A_TEST_BACKGROUND") == "1")
