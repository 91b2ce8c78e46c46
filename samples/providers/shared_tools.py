"""Tools every agent of this sample shares: the same Python functions, whichever model calls them.

Their typed arguments (a float, enums, an optional integer) show that each provider's tool-calling format is
translated to and from one schema.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

Unit = Literal["celsius", "fahrenheit", "kelvin"]


def convert_temperature(value: float, from_unit: Unit, to_unit: Unit) -> str:
    """Convert a temperature between Celsius, Fahrenheit and Kelvin.

    Args:
        value: The temperature to convert.
        from_unit: The unit of ``value``.
        to_unit: The unit to convert to.
    """
    celsius = {"celsius": value, "fahrenheit": (value - 32) * 5 / 9, "kelvin": value - 273.15}[from_unit]
    if celsius < -273.15:
        return f"{value} {from_unit} is below absolute zero."
    result = {"celsius": celsius, "fahrenheit": celsius * 9 / 5 + 32, "kelvin": celsius + 273.15}[to_unit]
    return f"{value:g} {from_unit} = {round(result, 2):g} {to_unit}"


def word_stats(text: str, top: int | None = 3) -> str:
    """Count the words of a text and name the most frequent ones.

    Args:
        text: The text to analyse.
        top: How many of the most frequent words to list (default 3).
    """
    words = re.findall(r"[\w']+", text.lower())
    if not words:
        return "The text has no words."
    common = Counter(words).most_common(max(1, top or 3))
    listed = ", ".join(f"{word} ({count})" for word, count in common)
    return f"{len(words)} words, {len(set(words))} distinct; most frequent: {listed}"
