"""How customer_service routes: conditions on the message and the customer context, evaluated before any model.

Each ``HandoffTarget.condition`` receives ``request_data`` (``message``, ``context``, ``user_id``,
``session_id``). Escalation comes first and fires on repeated failure (the context's ``failed_attempts``, which
the chat front end increments each time the customer says an answer did not help), on explicit escalation
language, or on an outage reported by an enterprise customer. Then technical, billing and sales match on keywords.
``analyse`` gives the same signals for the demo route's routing analysis.
"""

from __future__ import annotations

import re
from typing import Any

FAILED_ATTEMPTS_LIMIT = 2
TIERS = ("free", "pro", "enterprise")

KEYWORDS: dict[str, tuple[str, ...]] = {
    "escalation": ("manager", "supervisor", "complaint", "unacceptable", "lawyer", "legal", "cancel my account"),
    "technical": ("error", "crash", "bug", "login", "log in", "sign in", "password", "not working", "broken",
                  "install", "sync", "export", "freez"),
    "billing": ("invoice", "refund", "charge", "payment", "bill", "receipt", "credit card", "overcharged"),
    "sales": ("upgrade", "pricing", "price", "quote", "buy", "purchase", "demo", "trial", "more seats", "discount"),
}
OUTAGE = ("outage", "down for everyone", "all users", "production is down")
ERROR_CODE = re.compile(r"\bE\d{4}\b", re.IGNORECASE)


def _message(request_data: dict[str, Any]) -> str:
    return str(request_data.get("message") or "").lower()


def _context(request_data: dict[str, Any]) -> dict[str, Any]:
    context = request_data.get("context")
    return context if isinstance(context, dict) else {}


def failed_attempts(context: dict[str, Any]) -> int:
    value = context.get("failed_attempts", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def keyword_hits(agent: str, message: str) -> list[str]:
    """The agent's keywords that start a word of the message ("charge" matches "charged", not "surcharge")."""
    return [word for word in KEYWORDS[agent] if re.search(r"\b" + re.escape(word), message)]


def escalation_triggers(request_data: dict[str, Any]) -> list[str]:
    """Why the case should go to a person, if it should."""
    message, context = _message(request_data), _context(request_data)
    triggers = []
    failed = failed_attempts(context)
    if failed >= FAILED_ATTEMPTS_LIMIT:
        triggers.append(f"{failed} failed attempts (limit {FAILED_ATTEMPTS_LIMIT})")
    triggers += [f"asked for escalation: {word!r}" for word in keyword_hits("escalation", message)]
    if str(context.get("tier", "")).lower() == "enterprise" and any(word in message for word in OUTAGE):
        triggers.append("enterprise customer reports an outage")
    return triggers


def needs_escalation(request_data: dict[str, Any]) -> bool:
    return bool(escalation_triggers(request_data))


def is_technical(request_data: dict[str, Any]) -> bool:
    message = _message(request_data)
    return bool(keyword_hits("technical", message) or ERROR_CODE.search(message))


def is_billing(request_data: dict[str, Any]) -> bool:
    return bool(keyword_hits("billing", _message(request_data)))


def is_sales(request_data: dict[str, Any]) -> bool:
    return bool(keyword_hits("sales", _message(request_data)))


def analyse(request_data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every condition in routing order, whether it matched, and the signals behind it."""
    message = _message(request_data)
    technical = keyword_hits("technical", message) + [f"error code {c.upper()}" for c in ERROR_CODE.findall(message)]
    escalation = escalation_triggers(request_data)
    return [
        {"agent": "escalation", "matched": bool(escalation), "signals": escalation},
        {"agent": "technical", "matched": is_technical(request_data), "signals": technical},
        {"agent": "billing", "matched": is_billing(request_data), "signals": keyword_hits("billing", message)},
        {"agent": "sales", "matched": is_sales(request_data), "signals": keyword_hits("sales", message)},
    ]
