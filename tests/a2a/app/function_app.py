"""A2A test app: two offline-model agents (one with a tool), streaming when A2A_TEST_STREAMING=1."""

import os

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.types import LLMConfig


def celsius_to_fahrenheit(celsius: float) -> str:
    """Convert a temperature in degrees Celsius to degrees Fahrenheit."""
    return f"{celsius:g} C is {celsius * 9 / 5 + 32:.1f} F"


offline = LLMConfig(provider="offline")
converter = Agent(name="Converter", instructions="Convert units with the tool.", llm_config=offline,
                  description="Converts temperatures from Celsius to Fahrenheit.", tools=[celsius_to_fahrenheit],
                  version="2.1.0")
echo = Agent(name="Echo", instructions="Repeat what you are told.", llm_config=offline,
             description="Repeats the message.")

app = AgentFunctionApp(agents=[converter, echo], mode=AgentMode.A2A,
                       streaming=os.environ.get("A2A_TEST_STREAMING") == "1")
