"""A Function App serving WeatherMCPAgent, whose tools come from MCP servers.

Routes: POST /api/agents/WeatherMCPAgent/chat, GET /api/agents, GET /api/health, and the agents as MCP
tools at /api/mcp. The model comes from the environment (README "Configuration").
"""

from weather_mcp_agent import weather_agent

from azurefunctions.agents import AgentFunctionApp

app = AgentFunctionApp(agents={"WeatherMCPAgent": weather_agent})
