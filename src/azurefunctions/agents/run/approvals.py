"""Approvals: tool calls a person must allow before they run, as a paused turn keeps them.

An approval lives in its turn's head (``run/journal.py``), with these fields: ``id`` (unguessable, what a
decision names), ``key`` (the tool step it guards), ``call_id``, ``agent``, ``tool``, ``arguments`` (redacted
as tool arguments are everywhere they are shown), ``reason`` (the text for the approver), ``kind``
(``approval``: the tool asks for one; ``uncertain``: a call that must not run twice started but its end was not
recorded), ``created_at``, ``expires_at``, ``status`` (``pending`` | ``approved`` | ``rejected`` |
``expired``), ``decided_by``, ``decided_at``, ``message`` (the approver's note for the model).

A decision is accepted once and only while the approval is pending; one that waited past ``expires_at`` counts
as refused ("the approval expired").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ..errors import (
    ApprovalDecidedError,
    ApprovalExpiredError,
    ApprovalNotFoundError,
    InvalidRequestError,
)
from ..redaction import redact
from ..types import ApprovalDecision
from .journal import TurnHead, new_approval_id

ApprovalKind = Literal["approval", "uncertain"]

#: What the model reads for a refused call.
REFUSED = "The user did not approve this call."
EXPIRED = "The user did not approve this call: the approval expired."
#: What the approver reads about a call that may have happened already.
UNCERTAIN_REASON = ("{tool} started before the turn was interrupted, and whether it finished is not known: it "
                    "may or may not have happened. Approve to run it again, or reject to leave it as it is.")
#: The public fields of an approval (``public_view``).
PUBLIC_FIELDS = ("id", "call_id", "agent", "tool", "arguments", "reason", "kind", "created_at", "expires_at",
                 "status")


def redact_arguments(value: Any) -> Any:
    """Tool arguments as they may be shown: every string with known secrets and secret shapes replaced."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_arguments(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_arguments(item) for item in value]
    return value


def new_approval(*, key: str, call_id: str, agent: str, tool: str, arguments: dict[str, Any], reason: str,
                 kind: ApprovalKind, now: float, timeout_seconds: float) -> dict[str, Any]:
    return {
        "id": new_approval_id(), "key": key, "call_id": call_id, "agent": agent, "tool": tool,
        "arguments": redact_arguments(arguments), "reason": reason, "kind": kind, "created_at": now,
        "expires_at": now + timeout_seconds, "status": "pending", "decided_by": None, "decided_at": None,
        "message": None,
    }


def effective_status(approval: dict[str, Any], now: float) -> str:
    """``expired`` for a pending approval past its deadline; else its stored status."""
    status = str(approval.get("status") or "pending")
    if status == "pending" and float(approval.get("expires_at") or 0) <= now:
        return "expired"
    return status


def public_view(approval: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """An approval as the caller sees it (a response, an event, the turn status): no journal keys."""
    view = {name: approval.get(name) for name in PUBLIC_FIELDS}
    if now is not None:
        view["status"] = effective_status(approval, now)
    if approval.get("decided_at") is not None:
        view.update(decided_by=approval.get("decided_by"), decided_at=approval.get("decided_at"),
                    message=approval.get("message"))
    return view


def pending(head: TurnHead, now: float) -> list[dict[str, Any]]:
    """The head's approvals still waiting for a decision (not expired)."""
    return [a for a in head.approvals if effective_status(a, now) == "pending"]


def refusal_text(approval: dict[str, Any], now: float) -> str | None:
    """What the model reads for a decided call that must not run, or ``None`` when it may run."""
    status = effective_status(approval, now)
    if status == "approved":
        return None
    if status == "expired":
        return EXPIRED
    if status == "rejected":
        note = approval.get("message")
        return f"{REFUSED} Their message: {note}" if note else REFUSED
    return None


def apply_decisions(head: TurnHead, decisions: Sequence[ApprovalDecision], *, decided_by: str | None,
                    now: float) -> list[dict[str, Any]]:
    """Record ``decisions`` on ``head``'s approvals (all or none) and return the approvals they decided.

    Raises ``InvalidRequestError`` (no decision, or one id twice), ``ApprovalNotFoundError``,
    ``ApprovalDecidedError`` or ``ApprovalExpiredError`` naming the approval, before changing anything.
    """
    if not decisions:
        raise InvalidRequestError("decisions must list at least one decision")
    ids = [decision.id for decision in decisions]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise InvalidRequestError(f"decisions names approval {twice[0]} more than once")
    found: list[tuple[dict[str, Any], ApprovalDecision]] = []
    for decision in decisions:
        approval = head.approval(decision.id)
        if approval is None:
            raise ApprovalNotFoundError(f"Turn {head.turn_id} has no approval {decision.id}.")
        status = effective_status(approval, now)
        if status == "expired":
            raise ApprovalExpiredError(f"Approval {decision.id} expired; the call was refused.")
        if status != "pending":
            raise ApprovalDecidedError(f"Approval {decision.id} was decided already ({status}).")
        found.append((approval, decision))
    for approval, decision in found:
        approval.update(status="approved" if decision.approved else "rejected", decided_by=decided_by,
                        decided_at=now, message=decision.message)
    return [approval for approval, _ in found]


def expire(head: TurnHead, now: float) -> list[dict[str, Any]]:
    """Mark the head's pending approvals that are past their deadline ``expired``; returns them."""
    gone = [a for a in head.approvals if a.get("status") == "pending" and effective_status(a, now) == "expired"]
    for approval in gone:
        approval["status"] = "expired"
    return gone
