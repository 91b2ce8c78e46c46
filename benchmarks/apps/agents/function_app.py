"""This project's HTTP path: the single-agent sample's shape, with the benchmark's local tool.

The model comes from the environment as in the samples (``OPENAI_API_KEY`` and ``OPENAI_BASE_URL`` point at
the benchmark model server); sessions use the local default store (SQLite, ``AGENTS_SESSION_DB``).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runners"))

from harness import INSTRUCTIONS, MODEL, get_weather

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig

weather_agent = Agent(
    name="WeatherBot",
    instructions=INSTRUCTIONS,
    tools=[get_weather],
    llm_config=LLMConfig.from_env(model_name=MODEL, max_retries=0),
)

app = AgentFunctionApp(agents={"WeatherBot": weather_agent}, http_auth_level="ANONYMOUS")
