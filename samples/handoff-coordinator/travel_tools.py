"""The travel specialists' tools: flights, hotels and restaurants from the sample catalogue, typical weather.

``travel_catalogue.json`` holds fictitious flights, hotels and restaurants with indicative prices, and
``climate.json`` approximate monthly averages, so the specialists do real filtering, sorting and arithmetic
without accounts. In production, replace ``load_catalogue`` (or the ``find_*`` functions) with a booking or
places API (for example Amadeus or Duffel for flights and hotels, Google Places or Yelp for restaurants) and
``monthly_normals`` with a weather API; the tools' signatures stay the same, so the agents do not change.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from azurefunctions.agents.tools import ToolError

HERE = Path(__file__).parent


@cache
def load_catalogue() -> dict[str, Any]:
    return json.loads((HERE / "travel_catalogue.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def load_climate() -> dict[str, Any]:
    return json.loads((HERE / "climate.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z]+", text.lower()))


def _cities() -> list[str]:
    return sorted({info["city"] for info in load_catalogue()["airports"].values()})


def city_in(text: str) -> str:
    """The catalogue city a place names: "Tokyo", "NRT", "NYC", "Tokyo, Japan in May" (first one mentioned)."""
    words = _words(text)
    airports: dict[str, Any] = load_catalogue()["airports"]
    found: list[tuple[int, str]] = []
    for code, info in airports.items():
        for alias in [code.lower(), *info["names"]]:
            match = re.search(rf"\b{re.escape(alias)}\b", words)
            if match:
                found.append((match.start(), info["city"]))
    if not found:
        raise ToolError(f"No city in the catalogue matches {text!r}; it covers {', '.join(_cities())}.")
    return min(found)[1]


def _codes(city: str) -> list[str]:
    return [code for code, info in load_catalogue()["airports"].items() if info["city"] == city]


def search_flights(destination: str, origin: str | None = None, max_price_usd: float | None = None) -> str:
    """Search the flight catalogue (fares per traveller), cheapest first.

    Args:
        destination: Destination city or airport code, e.g. "Tokyo".
        origin: Departure city or airport code; any origin when omitted.
        max_price_usd: Highest fare per traveller in US dollars.
    """
    to_city = city_in(destination)
    from_city = city_in(origin) if origin else None
    to_codes, from_codes = _codes(to_city), _codes(from_city) if from_city else None
    flights = sorted((f for f in load_catalogue()["flights"]
                      if f["destination"] in to_codes and (from_codes is None or f["origin"] in from_codes)
                      and (max_price_usd is None or f["price_usd"] <= max_price_usd)),
                     key=lambda f: (f["price_usd"], f["duration_min"]))
    route = f"{from_city} to {to_city}" if from_city else f"to {to_city}"
    if not flights:
        return f"No flights {route} match in the catalogue."
    lines = [f"{len(flights)} flight(s) {route}, cheapest first:"]
    lines += [f"- {f['flight']} {f['airline']}: {f['origin']} {f['departs']} -> {f['destination']} {f['arrives']}, "
              f"{'nonstop' if f['stops'] == 0 else str(f['stops']) + ' stop'}, ${f['price_usd']}" for f in flights]
    return "\n".join(lines)


def search_hotels(city: str, nights: int = 1, max_price_per_night_usd: float | None = None) -> str:
    """Search the hotel catalogue, best rated first, with the total for the stay.

    Args:
        city: City name or airport code, e.g. "Tokyo".
        nights: Number of nights, for the total price.
        max_price_per_night_usd: Highest price per room and night in US dollars.
    """
    if not 1 <= nights <= 60:
        raise ToolError("nights must be between 1 and 60")
    name = city_in(city)
    hotels = sorted((h for h in load_catalogue()["hotels"] if h["city"] == name
                     and (max_price_per_night_usd is None or h["price_per_night_usd"] <= max_price_per_night_usd)),
                    key=lambda h: (-h["rating"], h["price_per_night_usd"]))
    if not hotels:
        return f"No hotels in {name} match in the catalogue."
    lines = [f"{len(hotels)} hotel(s) in {name}, best rated first ({nights} night(s)):"]
    lines += [f"- {h['name']} ({h['area']}, {h['stars']}*, rated {h['rating']}): ${h['price_per_night_usd']}/night, "
              f"${h['price_per_night_usd'] * nights} in total" for h in hotels]
    return "\n".join(lines)


def find_restaurants(city: str, cuisine: str | None = None, dietary: str | None = None,
                     max_price_level: int | None = None) -> str:
    """Find restaurants in the catalogue, best rated first.

    Args:
        city: City name, e.g. "Paris".
        cuisine: A cuisine to match, e.g. "sushi", "french"; any when omitted.
        dietary: A dietary need the restaurant must cater for: "vegetarian", "vegan" or "gluten-free".
        max_price_level: Highest price level, 1 (cheap) to 4 (expensive).
    """
    name = city_in(city)
    wanted_diet = dietary.strip().lower() if dietary else None
    if wanted_diet and wanted_diet not in {"vegetarian", "vegan", "gluten-free"}:
        raise ToolError(f"dietary must be vegetarian, vegan or gluten-free, not {dietary!r}")
    places = sorted((r for r in load_catalogue()["restaurants"] if r["city"] == name
                     and (not cuisine or cuisine.strip().lower() in r["cuisine"])
                     and (wanted_diet is None or wanted_diet in r["dietary"])
                     and (max_price_level is None or r["price_level"] <= max_price_level)),
                    key=lambda r: -r["rating"])
    if not places:
        return f"No restaurants in {name} match in the catalogue."
    lines = [f"{len(places)} restaurant(s) in {name}, best rated first:"]
    lines += [f"- {r['name']} ({r['area']}): {r['cuisine']}, {'$' * r['price_level']}, rated {r['rating']}"
              + (f"; {', '.join(r['dietary'])}" if r["dietary"] else "") for r in places]
    return "\n".join(lines)


def month_name(month: str | None, mentioned_in: str = "") -> str:
    """A month's full name from "May", "sep" or "9"; else one named in ``mentioned_in``; else the current one."""
    months: list[str] = load_climate()["months"]
    text = (month or "").strip().lower()
    if text.isdigit() and 1 <= int(text) <= 12:
        return months[int(text) - 1]
    candidates = [text] if text else _words(mentioned_in).split()
    for word in candidates:
        for name in months:
            if len(word) >= 3 and name.lower().startswith(word[:3]) and (text or name.lower().startswith(word)):
                return name
    if text:
        raise ToolError(f"{month!r} is not a month; use a name such as 'May' or a number 1-12.")
    return months[datetime.now(UTC).month - 1]


def get_weather_outlook(city: str, month: str | None = None) -> str:
    """Typical weather for a city and month from the climate table (averages, not a forecast).

    Args:
        city: City name, e.g. "Tokyo".
        month: Month name or number; the current month when omitted.
    """
    name = city_in(city)
    table: dict[str, Any] = load_climate()["cities"]
    if name not in table:
        raise ToolError(f"No climate data for {name}; the table covers {', '.join(sorted(table))}.")
    chosen = month_name(month, mentioned_in=city)
    normals = table[name][chosen]
    return (f"{name} in {chosen} (typical, not a forecast): highs around {normals['high_c']}°C, lows around "
            f"{normals['low_c']}°C, {normals['precipitation_mm']} mm of rain over about {normals['rain_days']} days.")
