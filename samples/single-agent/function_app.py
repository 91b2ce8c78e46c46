"""WeatherBot: one agent with a real weather tool, served by Azure Functions.

The model comes from the environment (README "Configuration"): Azure OpenAI with managed identity when
AZURE_OPENAI_ENDPOINT is set, OpenAI when OPENAI_API_KEY is set, else the labelled offline model locally.
"""

from weather import get_weather

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig

weather_agent = Agent(
    name="WeatherBot",
    instructions=(
        "You are WeatherBot. Answer questions about the weather with the get_weather tool, "
        "quote its figures, and say plainly when weather data is unavailable."
    ),
    description="Current weather for any city, from OpenWeatherMap.",
    tools=[get_weather],
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
)

app = AgentFunctionApp(agents={"WeatherBot": weather_agent})
