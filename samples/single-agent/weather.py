"""The WeatherBot's tool: current weather from OpenWeatherMap (https://openweathermap.org/current)."""

from __future__ import annotations

import json
import os

DEFAULT_BASE_URL = "https://api.openweathermap.org"


def get_weather(city: str, units: str = "metric") -> str:
    """Get the current weather for a city.

    Args:
        city: City name, optionally with a country code, e.g. "Seattle" or "Paris,FR".
        units: "metric" (Celsius) or "imperial" (Fahrenheit).
    """
    # Imported here, not at module level: the Functions worker imports function_app.py to index functions,
    # and urllib.request alone adds tens of milliseconds to that cold start.
    import urllib.error
    import urllib.parse
    import urllib.request

    key = os.environ.get("OPENWEATHER_API_KEY", "").strip()
    if not key:
        return ("Weather data is unavailable: OPENWEATHER_API_KEY is not set. "
                "Get a free key at https://openweathermap.org/api and add it to local.settings.json.")
    if units not in ("metric", "imperial"):
        return 'units must be "metric" or "imperial"'
    base = os.environ.get("OPENWEATHER_BASE_URL", "").strip() or DEFAULT_BASE_URL
    query = urllib.parse.urlencode({"q": city, "appid": key, "units": units})
    try:
        with urllib.request.urlopen(f"{base.rstrip('/')}/data/2.5/weather?{query}", timeout=10) as reply:  # noqa: S310
            data = json.load(reply)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return f"No weather found for {city!r}: check the city name."
        if exc.code == 401:
            return "The weather service refused OPENWEATHER_API_KEY: check the key."
        return f"The weather service answered HTTP {exc.code}; try again later."
    except (urllib.error.URLError, TimeoutError, ValueError):
        return "The weather service could not be reached; try again later."
    symbol = "°C" if units == "metric" else "°F"
    description = (data.get("weather") or [{}])[0].get("description", "unknown conditions")
    main = data.get("main") or {}
    return (f"{data.get('name', city)}: {description}, {main.get('temp')}{symbol} "
            f"(feels like {main.get('feels_like')}{symbol}), humidity {main.get('humidity')}%, "
            f"wind {(data.get('wind') or {}).get('speed')} {'m/s' if units == 'metric' else 'mph'}")
