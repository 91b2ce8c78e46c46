"""The weather advisory agents' tools: typical weather, temperature conversion and packing advice.

``get_weather_outlook`` reads ``climate.json``, approximate long-term monthly averages for a few cities, so the
sample runs without a weather account and its answers are reproducible. To use live data, replace
``monthly_normals`` with a call to a weather API (for example OpenWeatherMap, as in samples/single-agent, or
Open-Meteo); the conversion and advice tools work on whatever temperatures it returns.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from azurefunctions.agents.tools import ToolError

CLIMATE = Path(__file__).with_name("climate.json")
UNITS = {"c": "celsius", "celsius": "celsius", "°c": "celsius", "f": "fahrenheit", "fahrenheit": "fahrenheit",
         "°f": "fahrenheit", "k": "kelvin", "kelvin": "kelvin"}
MONTH_PREFIXES = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
SYMBOLS = {"celsius": "°C", "fahrenheit": "°F", "kelvin": "K"}


@cache
def load_climate() -> dict[str, Any]:
    return json.loads(CLIMATE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def month_name(month: str | None) -> str:
    """A month's full name from "May", "sep", "9" or nothing (the current month, UTC)."""
    months: list[str] = load_climate()["months"]
    if month is None or not month.strip():
        return months[datetime.now(UTC).month - 1]
    text = month.strip().lower()
    if text.isdigit() and 1 <= int(text) <= 12:
        return months[int(text) - 1]
    for name in months:
        if len(text) >= 3 and name.lower().startswith(text[:3]):
            return name
    raise ToolError(f"{month!r} is not a month; use a name such as 'May' or a number 1-12.")


def monthly_normals(city: str, month: str | None = None) -> tuple[str, str, dict[str, float]]:
    """The normals of a city ("Tokyo", "Tokyo, Japan", "Tokyo in May") for a month (else one named in ``city``)."""
    cities: dict[str, Any] = load_climate()["cities"]
    words = re.findall(r"[a-z]+", city.lower())
    text = " ".join(words)
    name = next((c for c in cities if c.lower() == text), None) or next(
        (c for c in cities if re.search(rf"\b{c.lower()}\b", text)), None)
    if name is None:
        raise ToolError(f"No climate data for {city!r}; the table covers {', '.join(sorted(cities))}.")
    if month is None or not month.strip():
        month = next((w for w in words if w[:3] in MONTH_PREFIXES and len(w) >= 3), None)
    chosen = month_name(month)
    return name, chosen, cities[name][chosen]


def get_weather_outlook(city: str, month: str | None = None) -> str:
    """Typical weather for a city and month from the climate table (averages, not a forecast).

    Args:
        city: City name, e.g. "Tokyo".
        month: Month name or number; the current month when omitted.
    """
    name, chosen, normals = monthly_normals(city, month)
    return (f"{name} in {chosen} (typical, not a forecast): highs around {normals['high_c']}°C, lows around "
            f"{normals['low_c']}°C, {normals['precipitation_mm']} mm of rain over about {normals['rain_days']} days.")


def convert(value: float, from_unit: str, to_unit: str) -> float:
    source, target = UNITS.get(from_unit.strip().lower()), UNITS.get(to_unit.strip().lower())
    if source is None or target is None:
        bad = from_unit if source is None else to_unit
        raise ToolError(f"Unknown unit {bad!r}; use celsius, fahrenheit or kelvin.")
    celsius = {"celsius": value, "fahrenheit": (value - 32) * 5 / 9, "kelvin": value - 273.15}[source]
    if celsius < -273.15:
        raise ToolError(f"{value} {source} is below absolute zero.")
    result = {"celsius": celsius, "fahrenheit": celsius * 9 / 5 + 32, "kelvin": celsius + 273.15}[target]
    return round(result, 2)


def convert_temperature(value: float, from_unit: str = "celsius", to_unit: str = "fahrenheit") -> str:
    """Convert a temperature between Celsius, Fahrenheit and Kelvin.

    Args:
        value: The temperature to convert.
        from_unit: celsius, fahrenheit or kelvin (C, F, K also work).
        to_unit: celsius, fahrenheit or kelvin (C, F, K also work).
    """
    result = convert(value, from_unit, to_unit)
    source, target = UNITS[from_unit.strip().lower()], UNITS[to_unit.strip().lower()]
    return f"{value:g}{SYMBOLS[source]} = {result:g}{SYMBOLS[target]}"


def packing_advice(high_c: float, low_c: float, rain_days: int) -> str:
    """Packing list and activity ideas for a day's typical high and low (°C) and rainy days in the month.

    Args:
        high_c: Typical daytime high in degrees Celsius.
        low_c: Typical night-time low in degrees Celsius.
        rain_days: Days with rain in the month (0-31).
    """
    if low_c > high_c:
        raise ToolError("low_c must not be above high_c")
    if not 0 <= rain_days <= 31:
        raise ToolError("rain_days must be between 0 and 31")
    items: list[str] = []
    if high_c >= 27:
        items += ["light breathable clothes", "sun hat", "sunscreen", "a refillable water bottle"]
    elif high_c >= 18:
        items += ["t-shirts", "a light jacket for the evening"]
    elif high_c >= 8:
        items += ["long sleeves", "a warm jacket"]
    else:
        items += ["a winter coat", "hat, gloves and scarf", "thermal layers"]
    if high_c - low_c >= 10:
        items.append("layers: nights are much cooler than days")
    if rain_days >= 10:
        items += ["a waterproof jacket", "a compact umbrella", "water-resistant shoes"]
    elif rain_days >= 5:
        items.append("a compact umbrella")
    wet = rain_days >= 10
    if high_c >= 27:
        plan = "plan outdoor sightseeing for mornings and evenings; museums at midday"
    elif 15 <= high_c < 27 and not wet:
        plan = "good conditions for walking tours, parks and day trips"
    elif wet:
        plan = "keep indoor options (museums, markets, food halls) for rainy spells"
    else:
        plan = "short outdoor outings with warm cafés in between"
    return f"Pack: {', '.join(items)}. Plans: {plan}."
