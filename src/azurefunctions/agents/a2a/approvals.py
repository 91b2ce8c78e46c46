"""Tool calls that wait for a person's approval, on an A2A task.

A turn that pauses for approval leaves its task ``input-required`` (the protocol's interrupted state: the client
continues the task with a new message on the same ``taskId``, A2A specification §3.4.3 "Input Required State").
The status message carries a text part with the reasons and a data part
``{"approvals": [...], "turnId": ...}``. The next message on the task decides: a data part
``{"decisions": [{"id": ..., "approved": true|false, "message": ...}]}``, or, when exactly one approval is
pending, the text ``approve`` or ``reject`` (anything after it, such as ``reject: too much``, is the message for
the model). Which turn waits, and for what, is read from the session's turn journal (``paused_turn``), not
from the task: the SDK moves the status message into the task's history when the next message arrives
(``TaskManager.update_with_message``), and a copy of the task read right after the blocking answer may predate
its ``input-required`` update.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..types import ApprovalDecision

if TYPE_CHECKING:
    from a2a.types.a2a_pb2 import Message, Task

    from ..sessions.base import SessionStore

#: The data part's key that lists pending approvals, and the one that answers them.
APPROVALS_KEY = "approvals"
DECISIONS_KEY = "decisions"
_VERDICT = re.compile(r"^\s*(approve|approved|yes|reject|rejected|no)\b[\s:,.-]*(.*)$", re.IGNORECASE | re.DOTALL)


def _data_parts(message: Message) -> list[dict[str, Any]]:
    from google.protobuf.json_format import MessageToDict

    found: list[dict[str, Any]] = []
    for part in message.parts:
        if part.WhichOneof("content") == "data":
            value = MessageToDict(part.data)
            if isinstance(value, dict):
                found.append(value)
    return found


def awaiting_approval(task: Task) -> tuple[str, list[dict[str, Any]]] | None:
    """The turn id and pending approvals a task waits on, or ``None`` when it waits on none."""
    from a2a.types.a2a_pb2 import Role, TaskState

    if task.status.state != TaskState.TASK_STATE_INPUT_REQUIRED:
        return None
    messages = list(task.history)
    if task.status.HasField("message"):
        messages.append(task.status.message)
    for message in reversed(messages):
        if message.role != Role.ROLE_AGENT:
            continue
        for data in _data_parts(message):
            approvals, turn_id = data.get(APPROVALS_KEY), data.get("turnId")
            if isinstance(approvals, list) and isinstance(turn_id, str) and approvals:
                return turn_id, [a for a in approvals if isinstance(a, dict)]
        return None  # the latest agent message asks for something else
    return None


async def paused_turn(store: SessionStore, session_id: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The id and the pending approvals (as the HTTP API shows them) of the session's turn that waits for
    approval, from the turn journal; ``None`` when no turn of the session waits (or the store keeps no
    journal)."""
    from ..run import approvals
    from ..run.journal import TurnJournal

    journal = TurnJournal.for_store(store)
    turn_id = await journal.paused_turn(session_id) if journal is not None else None
    if journal is None or turn_id is None:
        return None
    head = await journal.get(session_id, turn_id)
    if head is None or head.status != "awaiting_approval":
        return None
    now = journal.clock()
    waiting = approvals.pending(head, now)
    return (turn_id, [approvals.public_view(a, now) for a in waiting]) if waiting else None


def from_camel(approval: dict[str, Any]) -> dict[str, Any]:
    """An approval as the data part carries it (lowerCamelCase keys) with the runtime's keys again
    (``callId`` -> ``call_id``), as the HTTP API shows it."""
    return {re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), key): value
            for key, value in approval.items()}


def decisions_in(message: Message, pending: list[dict[str, Any]]) -> list[ApprovalDecision] | None:
    """The decisions ``message`` carries, or ``None`` when it carries none (then the task keeps waiting).

    A data part's decisions are taken as they are (the runner refuses unknown ids); ``approve`` / ``reject``
    text decides the one pending approval. A decision cannot carry anything but id, approved and message.
    """
    for data in _data_parts(message):
        raw = data.get(DECISIONS_KEY)
        if isinstance(raw, list) and raw:
            try:
                return [ApprovalDecision.model_validate(item) for item in raw]
            except ValidationError:
                return None
    if len(pending) != 1:
        return None
    text = " ".join(part.text for part in message.parts if part.WhichOneof("content") == "text").strip()
    found = _VERDICT.match(text)
    if found is None:
        return None
    approved = found.group(1).lower() in ("approve", "approved", "yes")
    note = found.group(2).strip() or None
    return [ApprovalDecision(id=str(pending[0].get("id")), approved=approved, message=note)]
