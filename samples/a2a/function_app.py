"""Two agents served over the Agent-to-Agent (A2A) protocol by one Function App.

Each agent has an Agent Card at /api/agents/{name}/.well-known/agent-card.json and a JSON-RPC endpoint at
/api/agents/{name}/a2a (A2A 1.0 methods such as SendMessage, and the 0.3 names such as message/send). The
root /.well-known/agent-card.json is UnitConverter's, the default agent. The app streams its responses (A2A
apps do), and UnitConverter asks a clarifying question (ask_user: the task waits in input-required) when a
request leaves it unsure. The model comes from the environment (README "Configuration"); with none configured
locally the labelled offline model answers.
"""

from conversions import celsius_to_fahrenheit, define_a2a_term, kilometres_to_miles

from azurefunctions.agents import Agent, AgentFunctionApp, AgentMode, ask_user
from azurefunctions.agents.types import LLMConfig

converter = Agent(
    name="UnitConverter",
    instructions="You convert units. Always use a tool for the arithmetic and quote its result. When the "
                 "request does not say which value or unit to convert, ask the user with ask_user.",
    description="Converts temperatures (Celsius to Fahrenheit) and distances (kilometres to miles).",
    tools=[celsius_to_fahrenheit, kilometres_to_miles, ask_user],
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
)

glossary = Agent(
    name="Glossary",
    instructions="You explain A2A protocol terms. Look each term up with define_a2a_term and quote it.",
    description="Explains Agent-to-Agent protocol terms: agent card, task, context, artifact.",
    tools=[define_a2a_term],
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
)

app = AgentFunctionApp(agents=[converter, glossary], mode=AgentMode.A2A)
