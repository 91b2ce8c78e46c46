"""The support specialists' tools: troubleshooting search, prorated refunds, quotes and escalation priority.

They read ``support_data.json`` (plan prices, troubleshooting articles, the escalation policy of a fictitious
product) and the customer context each specialist was given (``HandoffTarget.context_keys``), so their answers
are computed, not canned. In production, ``load_support_data`` becomes your billing system and knowledge base,
and ``plan_escalation`` is where a ticketing API (ServiceNow, Zendesk, Dynamics 365) creates the case.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from azurefunctions.agents.tools import ToolContext, ToolError

DATA = Path(__file__).with_name("support_data.json")


@cache
def load_support_data() -> dict[str, Any]:
    return json.loads(DATA.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _plan(name: str | None) -> tuple[str, dict[str, Any]]:
    plans: dict[str, Any] = load_support_data()["plans"]
    key = (name or "").strip().lower()
    if key not in plans:
        raise ToolError(f"Unknown plan {name!r}; plans are {', '.join(plans)}.")
    return key, plans[key]


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ToolError(f"{what} must be a non-negative whole number")
    return value


def search_troubleshooting(query: str) -> str:
    """Find the troubleshooting article for a technical problem: error codes first, then matching words.

    Args:
        query: The problem in the customer's words, with any error code, e.g. "login fails with E1001".
    """
    codes = {c.upper() for c in re.findall(r"\bE\d{4}\b", query, flags=re.IGNORECASE)}
    words = set(re.findall(r"[a-z]+", query.lower()))
    scored = []
    for article in load_support_data()["troubleshooting"]:
        score = 5 * len(codes & set(article["codes"])) + len(words & set(article["keywords"]))
        if score:
            scored.append((score, article))
    if not scored:
        titles = "; ".join(a["title"] for a in load_support_data()["troubleshooting"])
        return f"No troubleshooting article matches. Known topics: {titles}."
    best = max(scored, key=lambda pair: pair[0])[1]
    steps = " ".join(f"{i}. {step}." for i, step in enumerate(best["steps"], start=1))
    return f"{best['id']} {best['title']}: {steps}"


def calculate_refund(days_used: int, ctx: ToolContext, plan: str | None = None, seats: int | None = None,
                     cycle_days: int = 30) -> str:
    """Prorated refund for the unused part of the current monthly billing cycle.

    Args:
        days_used: Days of the current cycle already used.
        plan: The customer's plan; taken from the customer context when omitted.
        seats: Number of seats billed; taken from the customer context when omitted.
        cycle_days: Length of the billing cycle in days.
    """
    name, info = _plan(plan or ctx.context.get("plan"))
    billed = _count(seats if seats is not None else ctx.context.get("seats", 1), "seats")
    if not 1 <= cycle_days <= 31 or not 0 <= days_used <= cycle_days:
        raise ToolError(f"days_used must be between 0 and cycle_days ({cycle_days})")
    charge = info["monthly_price_per_seat_usd"] * billed
    refund = round(charge * (cycle_days - days_used) / cycle_days, 2)
    return (f"{name} plan, {billed} seat(s): ${charge:.2f} charged this cycle; {cycle_days - days_used} of "
            f"{cycle_days} days unused, so the prorated refund is ${refund:.2f}.")


def quote_plan(plan: str, seats: int, ctx: ToolContext, annual: bool = False) -> str:
    """Price a plan for a number of seats, with volume and annual discounts, compared to the current plan.

    Args:
        plan: The plan to quote: free, pro or business.
        seats: Number of seats.
        annual: Billed yearly (two months free) instead of monthly.
    """
    name, info = _plan(plan)
    if not 1 <= seats <= info["max_seats"]:
        raise ToolError(f"The {name} plan takes 1 to {info['max_seats']} seats.")
    data = load_support_data()
    percent = next((d["percent"] for d in data["volume_discounts"] if seats >= d["min_seats"]), 0)
    monthly = round(info["monthly_price_per_seat_usd"] * seats * (100 - percent) / 100, 2)
    if annual:
        price = f"${monthly * data['annual_months_charged']:.2f} per year (${monthly:.2f}/month, 2 months free)"
    else:
        price = f"${monthly:.2f} per month"
    discount = f", {percent}% volume discount" if percent else ""
    text = f"{name} plan, {seats} seat(s){discount}: {price}."
    current = ctx.context.get("plan")
    if isinstance(current, str) and current.lower() in data["plans"] and current.lower() != name:
        now = data["plans"][current.lower()]["monthly_price_per_seat_usd"] * int(ctx.context.get("seats", seats))
        text += f" Today: {current.lower()} plan at ${now:.2f} per month."
    return text


def plan_escalation(summary: str, ctx: ToolContext) -> str:
    """Priority, queue and first-response target for an escalated case, from the customer's tier and history.

    Args:
        summary: One or two sentences on the problem and what was already tried.
    """
    tier = str(ctx.context.get("tier") or "free").lower()
    failed = ctx.context.get("failed_attempts", 0)
    failed = failed if isinstance(failed, int) and not isinstance(failed, bool) and failed >= 0 else 0
    rule = next((r for r in load_support_data()["escalation_policy"]
                 if r["tier"] == tier and failed >= r["min_failed_attempts"]), None)
    if rule is None:
        raise ToolError(f"No escalation policy for tier {tier!r}.")
    customer = ctx.context.get("customer_id", "unknown customer")
    return (f"Escalation for {customer} ({tier}, {failed} failed attempt(s)): priority {rule['priority']}, "
            f"{rule['queue']}, first response within {rule['first_response_hours']} hour(s). "
            f"Case summary: {summary.strip()}")
