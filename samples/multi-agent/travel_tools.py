"""The travel planner's tools: flight and hotel search over the sample catalogue, and trip budgets.

``travel_catalogue.json`` holds fictitious flights and hotels with indicative prices, so the agents do real
filtering, sorting and arithmetic without a booking account. In production, replace ``load_catalogue`` (or the
two search functions) with calls to a flight and hotel API such as Amadeus Self-Service or Duffel; the budget
tools work on whatever prices the searches return.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from azurefunctions.agents.tools import ToolError

CATALOGUE = Path(__file__).with_name("travel_catalogue.json")


@cache
def load_catalogue() -> dict[str, Any]:
    return json.loads(CATALOGUE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def airports_for(place: str) -> list[str]:
    """Airport codes for a city name, alias or code ("Tokyo" -> NRT, HND; "NYC" -> JFK)."""
    wanted = place.strip().lower()
    airports: dict[str, Any] = load_catalogue()["airports"]
    return [code for code, info in airports.items() if wanted == code.lower() or wanted in info["names"]
            or wanted == info["city"].lower()]


def city_of(place: str) -> str | None:
    codes = airports_for(place)
    return load_catalogue()["airports"][codes[0]]["city"] if codes else None


def _known_cities() -> str:
    return ", ".join(sorted({info["city"] for info in load_catalogue()["airports"].values()}))


def _duration(minutes: int) -> str:
    return f"{minutes // 60}h{minutes % 60:02d}m"


def find_flights(destination: str, origin: str | None = None, max_price_usd: float | None = None,
                 nonstop_only: bool = False) -> list[dict[str, Any]]:
    """The catalogue's flights matching the filters, cheapest first."""
    to_codes = airports_for(destination)
    if not to_codes:
        raise ToolError(f"No airport known for {destination!r}; the catalogue covers {_known_cities()}.")
    from_codes = airports_for(origin) if origin else None
    if origin and not from_codes:
        raise ToolError(f"No airport known for {origin!r}; the catalogue covers {_known_cities()}.")
    flights = [f for f in load_catalogue()["flights"]
               if f["destination"] in to_codes and (from_codes is None or f["origin"] in from_codes)
               and (max_price_usd is None or f["price_usd"] <= max_price_usd)
               and (not nonstop_only or f["stops"] == 0)]
    return sorted(flights, key=lambda f: (f["price_usd"], f["duration_min"]))


def find_hotels(city: str, max_price_per_night_usd: float | None = None,
                min_stars: int | None = None) -> list[dict[str, Any]]:
    """The catalogue's hotels in a city matching the filters, best rated first."""
    name = city_of(city) or city.strip()
    hotels = [h for h in load_catalogue()["hotels"] if h["city"].lower() == name.lower()]
    if not hotels:
        raise ToolError(f"No hotels for {city!r} in the catalogue; it covers {_known_cities()}.")
    hotels = [h for h in hotels
              if (max_price_per_night_usd is None or h["price_per_night_usd"] <= max_price_per_night_usd)
              and (min_stars is None or h["stars"] >= min_stars)]
    return sorted(hotels, key=lambda h: (-h["rating"], h["price_per_night_usd"]))


def search_flights(destination: str, origin: str | None = None, max_price_usd: float | None = None,
                   nonstop_only: bool = False) -> str:
    """Search the flight catalogue (fares per traveller, economy), cheapest first.

    Args:
        destination: Destination city, alias or airport code, e.g. "Tokyo", "LAX".
        origin: Departure city or airport code, e.g. "Seattle", "NYC"; any origin when omitted.
        max_price_usd: Highest fare per traveller in US dollars.
        nonstop_only: Only flights without stops.
    """
    flights = find_flights(destination, origin, max_price_usd, nonstop_only)
    route = f"{origin} to {destination}" if origin else f"to {destination}"
    if not flights:
        return f"No flights {route} match those filters in the catalogue."
    lines = [f"{len(flights)} flight(s) {route}, cheapest first:"]
    for f in flights:
        stops = "nonstop" if f["stops"] == 0 else f"{f['stops']} stop"
        lines.append(f"- {f['flight']} {f['airline']}: {f['origin']} {f['departs']} -> {f['destination']} "
                     f"{f['arrives']}, {_duration(f['duration_min'])}, {stops}, ${f['price_usd']}")
    return "\n".join(lines)


def search_hotels(city: str, max_price_per_night_usd: float | None = None, min_stars: int | None = None) -> str:
    """Search the hotel catalogue, best rated first.

    Args:
        city: City name or airport code, e.g. "Tokyo".
        max_price_per_night_usd: Highest price per room and night in US dollars.
        min_stars: Lowest star category (1-5).
    """
    hotels = find_hotels(city, max_price_per_night_usd, min_stars)
    if not hotels:
        return f"No hotels in {city} match those filters in the catalogue."
    lines = [f"{len(hotels)} hotel(s) in {hotels[0]['city']}, best rated first:"]
    for h in hotels:
        lines.append(f"- {h['name']} ({h['area']}, {h['stars']}*, rated {h['rating']}): "
                     f"${h['price_per_night_usd']}/night; {', '.join(h['amenities'])}")
    return "\n".join(lines)


def budget_breakdown(flight_price_usd: float, hotel_price_per_night_usd: float, nights: int, travellers: int = 1,
                     daily_spend_usd: float = 75.0) -> dict[str, float]:
    """Trip cost: fares per traveller, one room per two travellers, daily spending per traveller and day."""
    if nights < 1 or travellers < 1:
        raise ToolError("nights and travellers must be at least 1")
    if min(flight_price_usd, hotel_price_per_night_usd, daily_spend_usd) < 0:
        raise ToolError("prices must not be negative")
    rooms = math.ceil(travellers / 2)
    flights = flight_price_usd * travellers
    hotel = hotel_price_per_night_usd * nights * rooms
    spending = daily_spend_usd * (nights + 1) * travellers
    return {"flights": round(flights, 2), "hotel": round(hotel, 2), "daily_spending": round(spending, 2),
            "rooms": rooms, "total": round(flights + hotel + spending, 2)}


def plan_budget(total_budget_usd: float, flight_price_usd: float, hotel_price_per_night_usd: float, nights: int,
                travellers: int = 1, daily_spend_usd: float = 75.0) -> str:
    """Check a trip against a budget: flights, hotel (one room per two travellers) and daily spending.

    Args:
        total_budget_usd: The whole trip's budget in US dollars.
        flight_price_usd: Return fare per traveller.
        hotel_price_per_night_usd: Price per room and night.
        nights: Number of nights.
        travellers: Number of travellers.
        daily_spend_usd: Food, transport and activities per traveller and day.
    """
    cost = budget_breakdown(flight_price_usd, hotel_price_per_night_usd, nights, travellers, daily_spend_usd)
    left = round(total_budget_usd - cost["total"], 2)
    verdict = f"${left:,.2f} under budget" if left >= 0 else f"${-left:,.2f} over budget"
    return (f"Flights ${cost['flights']:,.2f} + hotel ${cost['hotel']:,.2f} ({int(cost['rooms'])} room(s) x {nights} "
            f"nights) + daily spending ${cost['daily_spending']:,.2f} = ${cost['total']:,.2f}: {verdict} "
            f"(budget ${total_budget_usd:,.2f}).")


def cheapest_trip(origin: str, destination: str, nights: int, budget_usd: float, travellers: int = 1,
                  daily_spend_usd: float = 75.0) -> str:
    """The cheapest flight and hotel combination from the catalogue, and whether it fits the budget.

    Args:
        origin: Departure city or airport code.
        destination: Destination city or airport code.
        nights: Number of nights.
        budget_usd: The whole trip's budget in US dollars.
        travellers: Number of travellers.
        daily_spend_usd: Food, transport and activities per traveller and day.
    """
    flights = find_flights(destination, origin)
    if not flights:
        return f"The catalogue has no flights from {origin} to {destination}."
    hotels = sorted(find_hotels(destination), key=lambda h: h["price_per_night_usd"])
    flight, hotel = flights[0], hotels[0]
    cost = budget_breakdown(flight["price_usd"], hotel["price_per_night_usd"], nights, travellers, daily_spend_usd)
    left = round(budget_usd - cost["total"], 2)
    verdict = (f"fits with ${left:,.2f} to spare" if left >= 0
               else f"is ${-left:,.2f} over the ${budget_usd:,.2f} budget")
    return (f"Cheapest: flight {flight['flight']} (${flight['price_usd']}) and {hotel['name']} "
            f"(${hotel['price_per_night_usd']}/night): total ${cost['total']:,.2f} for {travellers} traveller(s), "
            f"{nights} nights; it {verdict}.")
