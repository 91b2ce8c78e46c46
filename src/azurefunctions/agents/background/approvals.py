"""A turn resumed in the background after a person's decision (``"async": true`` on the approvals route):
the ``approval`` kind of turn record.

The record's id is the paused turn's id, so ``GET /api/sessions/{session_id}/turns/{turn_id}`` follows the
resumed turn under the id the client already has. ``data`` holds the decisions; the worker runs
``Runner.resume`` with them. A worker that stopped after the decisions were recorded leaves a turn that no
longer waits for them: the next attempt finishes it by replay (``Runner.run`` with the same ``turn_id``), which
runs nothing twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import AgentFrameworkError, ApprovalDecidedError, TurnNotAwaitingApprovalError
from ..types import ApprovalDecision, ChatRequest, ChatResponse

if TYPE_CHECKING:
    from ..runner import Runner
    from ..sessions.base import SessionStore
    from .records import TurnRecord

#: The kind name (``kinds.BUILT_IN``).
APPROVAL = "approval"


def approval_data(turn_id: str, decisions: list[ApprovalDecision]) -> dict[str, Any]:
    """The record's ``data``: the paused turn and the decisions to resume it with."""
    return {"turn_id": turn_id, "decisions": [d.model_dump(mode="json") for d in decisions]}


class ApprovedTurns:
    """The ``TurnKind`` of turns resumed by a decision."""

    async def run(self, runner: Runner, record: TurnRecord, store: SessionStore,
                  recovered: ChatResponse | None) -> ChatResponse:
        if recovered is not None:
            return recovered
        data = record.data or {}
        turn_id = str(data.get("turn_id") or record.turn_id)
        try:
            decisions = [ApprovalDecision.model_validate(d) for d in data.get("decisions") or []]
            try:
                return await runner.resume(record.session_id, turn_id, decisions, user_id=record.user_id)
            except (ApprovalDecidedError, TurnNotAwaitingApprovalError):
                if record.attempts <= 1:
                    raise
                # An earlier attempt recorded the decisions and stopped: finish the turn by replay.
                request = ChatRequest.model_validate({**record.request, "turn_id": turn_id})
                return await runner.run(request)
        except AgentFrameworkError as exc:  # refused: the record says why (a redelivery would not change it)
            return ChatResponse(status="error", error=exc.message, error_code=exc.code, agent=record.agent,
                                session_id=record.session_id, status_code=exc.status)

    async def abandoned(self, record: TurnRecord, store: SessionStore, error: dict[str, str]) -> None:
        """Nothing kept elsewhere: the journal keeps the turn, which a later decision or retry can resume."""


#: The instance ``kinds.py`` names.
APPROVED_TURNS = ApprovedTurns()
