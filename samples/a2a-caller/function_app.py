"""A Function App whose agent calls another agent over the Agent-to-Agent (A2A) protocol.

``Assistant`` answers everyday questions; for unit conversions it asks the ``UnitConverter`` agent of the
``samples/a2a`` app, a separate Function App, through the ``unit_converter`` tool: the remote agent's card is
resolved (and cached), the message goes out with the official a2a-sdk client, and the remote answer comes
back as the tool's result. ``A2A_REMOTE_AGENT_URL`` says where the remote agent is (its app's URL and agent
path, or its card URL); ``A2A_REMOTE_AGENT_KEY`` is the remote app's function key, sent as x-functions-key.
The model comes from the environment (README "Configuration"); with none configured locally the labelled
offline model answers.
"""

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.a2a.remote import RemoteA2AAgent
from azurefunctions.agents.settings import A2A_REMOTE_AGENT_KEY, A2A_REMOTE_AGENT_URL
from azurefunctions.agents.types import LLMConfig

key = A2A_REMOTE_AGENT_KEY.get()
unit_converter = RemoteA2AAgent(
    A2A_REMOTE_AGENT_URL.get() or "http://localhost:7071/api/agents/UnitConverter",
    name="unit_converter",
    description="Ask the UnitConverter agent to convert temperatures (Celsius to Fahrenheit) or distances "
                "(kilometres to miles); send it the whole request.",
    headers={"x-functions-key": key} if key else None,
)

assistant = Agent(
    name="Assistant",
    instructions="You help with everyday questions. For any unit conversion, ask the unit_converter tool and "
                 "quote its answer exactly; if it fails, say so.",
    description="Answers everyday questions; asks a remote A2A agent for unit conversions.",
    a2a_agents=[unit_converter],
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
)

app = AgentFunctionApp(agents=[assistant])
