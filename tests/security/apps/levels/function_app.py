"""One route group per auth level: chat FUNCTION (the default), sessions ADMIN, info ANONYMOUS."""

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode
from azurefunctions.agents.types import LLMConfig

greeter = Agent(name="Greeter", instructions="Greet people.", llm_config=LLMConfig(provider="offline"))

app = AgentFunctionApp(agents=[greeter], mode=AgentMode.A2A,
                       auth_levels={"sessions": "ADMIN", "info": "ANONYMOUS"})
