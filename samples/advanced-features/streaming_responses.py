"""A streaming agent: its answer reaches the client word by word as Server-Sent Events, tool calls included.

``streaming=True`` makes Server-Sent Events the agent's default answer (a client that sends
``Accept: application/json`` still gets one JSON body), and puts the whole Function App in streams mode (the
HTTP-streams extension). Events are kept with the session, so a client that loses the connection resumes with
``GET /api/sessions/{session_id}/stream`` and the ``Last-Event-ID`` header.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from azurefunctions.agents import Agent
from azurefunctions.agents.types import LLMConfig


def local_time(timezone: str) -> str:
    """The current date and time in an IANA time zone.

    Args:
        timezone: IANA time zone name, e.g. "Europe/Paris" or "America/New_York".
    """
    try:
        now = datetime.now(ZoneInfo(timezone.strip()))
    except (ZoneInfoNotFoundError, ValueError):
        return f"Unknown time zone {timezone!r}: use an IANA name such as Europe/Paris."
    return f"{timezone}: {now:%A %d %B %Y, %H:%M} (UTC{now:%z})"


def convert_temperature(value: float, to_unit: str = "fahrenheit") -> str:
    """Convert a temperature between Celsius and Fahrenheit.

    Args:
        value: The temperature to convert.
        to_unit: "fahrenheit" to convert from Celsius, "celsius" to convert from Fahrenheit.
    """
    unit = to_unit.strip().lower()
    if unit == "fahrenheit":
        return f"{value:g} °C = {value * 9 / 5 + 32:.1f} °F"
    if unit == "celsius":
        return f"{value:g} °F = {(value - 32) * 5 / 9:.1f} °C"
    return 'to_unit must be "celsius" or "fahrenheit"'


travel_guide = Agent(
    name="TravelGuide",
    instructions=(
        "You are a travel guide. Use local_time for the time anywhere and convert_temperature for "
        "temperatures; give practical, friendly answers of a few sentences."
    ),
    description="Local times and temperature conversions for travellers, streamed as it answers.",
    tools=[local_time, convert_temperature],
    llm_config=LLMConfig.from_env(model_name="gpt-4o-mini"),
    streaming=True,
)
