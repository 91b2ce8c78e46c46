"""The record of one background turn: what was asked, where it stands, and its answer once it has one.

A turn moves ``queued`` -> ``running`` -> ``completed`` | ``failed``, or to ``cancelled`` from either of the
first two; a turn whose tool calls wait for a person (an approval, or a non-repeatable call that may or may not
have happened before its worker stopped) ends its run ``awaiting_approval``, with the pending approvals in its
response. ``kind`` says what runs: ``chat`` (a turn of the chat route) or another kind registered in
``kinds.py`` (an A2A task), whose own details are in ``data``. ``running`` carries a *claim*: the id of the
worker run that holds it and when that hold lapses (``lease_until``). A worker renews its lease while the turn
runs; another delivery of the same queue message finds the claim held and leaves the turn alone, or finds it
lapsed (its worker stopped) and takes it over.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

TurnStatus = Literal["queued", "running", "completed", "failed", "cancelled", "awaiting_approval"]
STATUSES: tuple[TurnStatus, ...] = ("queued", "running", "completed", "failed", "cancelled", "awaiting_approval")
#: No worker runs a turn in these states (a paused turn resumes through its approvals, not its message).
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled", "awaiting_approval"})


def new_turn_id() -> str:
    return uuid.uuid4().hex


def turn_item_id(turn_id: str) -> str:
    """Id of a turn's item in its session's partition (``pk`` = session id)."""
    return f"turn:{turn_id}"


@dataclass
class TurnRecord:
    session_id: str
    agent: str
    request: dict[str, Any]  # the ChatRequest, as a dict
    turn_id: str = field(default_factory=new_turn_id)
    user_id: str | None = None
    status: TurnStatus = "queued"
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    #: Times a worker started the turn (a worker that stopped mid-turn counts).
    attempts: int = 0
    claim: str | None = None
    lease_until: float | None = None
    #: Messages in the session when the turn was claimed: tells a take-over whether the turn was saved already.
    history_length: int | None = None
    response: dict[str, Any] | None = None  # the ChatResponse, as a dict, once the turn ended
    error: dict[str, str] | None = None  # {"code", "message"} of a failed or cancelled turn
    #: What the turn is: ``chat``, or a kind registered in ``kinds.py``; ``data`` is that kind's own part.
    kind: str = "chat"
    data: dict[str, Any] | None = None
    etag: str | None = None  # version of the stored copy

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def lease_active(self, now: float) -> bool:
        return self.status == "running" and self.lease_until is not None and self.lease_until > now

    def to_record(self) -> dict[str, Any]:
        """The stored body (everything but the etag)."""
        return {
            "turn_id": self.turn_id, "session_id": self.session_id, "agent": self.agent, "request": self.request,
            "user_id": self.user_id, "status": self.status, "created_at": self.created_at,
            "updated_at": self.updated_at, "started_at": self.started_at, "finished_at": self.finished_at,
            "attempts": self.attempts, "claim": self.claim, "lease_until": self.lease_until,
            "history_length": self.history_length, "response": self.response, "error": self.error,
            "kind": self.kind, "data": self.data,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any], etag: str | None) -> TurnRecord:
        status = data.get("status")
        return cls(
            session_id=str(data["session_id"]), agent=str(data["agent"]), request=dict(data.get("request") or {}),
            turn_id=str(data["turn_id"]), user_id=data.get("user_id"),
            status=status if status in STATUSES else "failed",
            created_at=float(data.get("created_at") or 0.0), updated_at=float(data.get("updated_at") or 0.0),
            started_at=data.get("started_at"), finished_at=data.get("finished_at"),
            attempts=int(data.get("attempts") or 0), claim=data.get("claim"), lease_until=data.get("lease_until"),
            history_length=data.get("history_length"), response=data.get("response"), error=data.get("error"),
            kind=str(data.get("kind") or "chat"), data=data.get("data"), etag=etag,
        )

    def to_public(self) -> dict[str, Any]:
        """What ``GET /api/sessions/{session_id}/turns/{turn_id}`` shows the turn's owner."""
        data: dict[str, Any] = {
            "turn_id": self.turn_id, "session_id": self.session_id, "agent": self.agent, "status": self.status,
            "created_at": self.created_at, "updated_at": self.updated_at, "started_at": self.started_at,
            "finished_at": self.finished_at, "attempts": self.attempts,
        }
        if self.response is not None:
            data["response"] = self.response
            if self.response.get("approvals"):
                data["approvals"] = self.response["approvals"]
        if self.error is not None:
            data["error"] = self.error
        return data
