"""A small MCP server (stdio) with one tool: current weather from OpenWeatherMap.

The agent in ``weather_mcp_agent.py`` starts it as a subprocess (``MCP_SERVER_PATH`` points at it; this file
is the default). Run it by hand with ``python weather_mcp_server.py`` to try it with any MCP client.
"""

from __future__ import annotations

import os

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

DEFAULT_BASE_URL = "https://api.openweathermap.org"

server = MCPServer("weather", instructions="Current weather for a city.")


@server.tool(description="Get the current weather for a city, e.g. 'Seattle' or 'Paris,FR'.")
async def get_weather(city: str, units: str = "metric") -> str:
    key = os.environ.get("OPENWEATHER_API_KEY", "").strip()
    if not key:
        raise ToolError("OPENWEATHER_API_KEY is not set for the weather MCP server.")
    if units not in ("metric", "imperial"):
        raise ToolError('units must be "metric" or "imperial"')
    base = os.environ.get("OPENWEATHER_BASE_URL", "").strip() or DEFAULT_BASE_URL
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            reply = await http.get(f"{base.rstrip('/')}/data/2.5/weather",
                                   params={"q": city, "appid": key, "units": units})
        except httpx.HTTPError as exc:
            raise ToolError("The weather service could not be reached; try again later.") from exc
    if reply.status_code == 404:
        raise ToolError(f"No weather found for {city!r}: check the city name.")
    if reply.status_code == 401:
        raise ToolError("The weather service refused OPENWEATHER_API_KEY: check the key.")
    if reply.status_code != 200:
        raise ToolError(f"The weather service answered HTTP {reply.status_code}; try again later.")
    data = reply.json()
    symbol = "°C" if units == "metric" else "°F"
    description = (data.get("weather") or [{}])[0].get("description", "unknown conditions")
    main = data.get("main") or {}
    return (f"{data.get('name', city)}: {description}, {main.get('temp')}{symbol}, "
            f"humidity {main.get('humidity')}%")


if __name__ == "__main__":
    server.run("stdio")
