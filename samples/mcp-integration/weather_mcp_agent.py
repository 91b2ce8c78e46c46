"""WeatherMCPAgent: an agent whose tools come from MCP servers.

- The weather server (stdio) is started from ``MCP_SERVER_PATH``, default ``weather_mcp_server.py`` beside
  this file. A stdio server gets a minimal environment, so its settings are passed explicitly.
- ``MCP_SERVER_URL`` optionally adds a remote MCP server over streamable HTTP (``MCP_SERVER_TOKEN`` is sent
  as a bearer token when set).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from azurefunctions.agents import (
    Agent,
    MCPServer,
    MCPServerMode,
    MCPServerStdioParams,
    MCPServerStreamableHttpParams,
)
from azurefunctions.agents.types import LLMConfig

HERE = Path(__file__).resolve().parent


def weather_server() -> MCPServer:
    path = os.environ.get("MCP_SERVER_PATH", "").strip() or str(HERE / "weather_mcp_server.py")
    env = {name: os.environ[name] for name in ("OPENWEATHER_API_KEY", "OPENWEATHER_BASE_URL") if name in os.environ}
    return MCPServer(
        name="weather",
        mode=MCPServerMode.STDIO,
        params=MCPServerStdioParams(command=sys.executable, args=[path], env=env),
        cache_tools_list=True,
    )


def remote_server() -> MCPServer | None:
    url = os.environ.get("MCP_SERVER_URL", "").strip()
    if not url:
        return None
    token = os.environ.get("MCP_SERVER_TOKEN", "").strip()
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return MCPServer(name="remote", mode=MCPServerMode.STREAMABLE_HTTP,
                     params=MCPServerStreamableHttpParams(url=url, headers=headers))


weather_agent = Agent(
    name="WeatherMCPAgent",
    instructions=(
        "You answer weather questions with the get_weather tool of the weather MCP server. Quote its figures "
        "and say plainly when the tool reports an error."
    ),
    description="Current weather for any city, through an MCP server.",
    mcp_servers=[server for server in (weather_server(), remote_server()) if server is not None],
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
)
