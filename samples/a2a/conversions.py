"""Unit conversions the UnitConverter agent calls as tools: exact arithmetic, no network."""

from __future__ import annotations


def celsius_to_fahrenheit(celsius: float) -> str:
    """Convert a temperature in degrees Celsius to degrees Fahrenheit."""
    return f"{celsius:g} °C is {celsius * 9 / 5 + 32:.1f} °F"


def kilometres_to_miles(kilometres: float) -> str:
    """Convert a distance in kilometres to miles."""
    return f"{kilometres:g} km is {kilometres / 1.609344:.2f} miles"


GLOSSARY = {
    "agent card": "A JSON document at /.well-known/agent-card.json that names an agent, its skills, its "
                  "endpoint and how to authenticate.",
    "task": "One unit of work an A2A agent runs for a message; it moves through states such as working and "
            "completed, and its results are artifacts.",
    "context": "A conversation: the tasks of one contextId share history.",
    "artifact": "An output of a task, made of parts (text, data or files).",
}


def define_a2a_term(term: str) -> str:
    """Define an A2A protocol term such as agent card, task, context or artifact."""
    wanted = term.strip().lower()
    key = next((k for k in GLOSSARY if k == wanted or k + "s" == wanted), None)
    key = key or next((k for k in sorted(GLOSSARY, key=len, reverse=True) if k in wanted), None)
    if key is None:
        return f"No definition for {term!r}. Known terms: {', '.join(sorted(GLOSSARY))}."
    return f"{key}: {GLOSSARY[key]}"
