"""Turns that end waiting for the user: a question the agent needs answered before it can go on.

A tool raises ``InputRequired`` (``ask_user`` is the ready-made one for clarifying questions; an approval
step raises it with ``reason="approval"`` and the details in ``data``). The Runner then ends the turn at
once: the question is the turn's answer, it is kept in the session as the agent's message (so the user's
next message is read as the reply), and ``ChatResponse.metadata["input_required"]`` describes the request.
Over A2A such a turn leaves its task ``input-required``; the next message on the same task continues it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import ChatResponse

#: Key of ``ChatResponse.metadata`` (and of a turn's metadata) describing a pending request for input.
METADATA_KEY = "input_required"


class InputRequired(Exception):
    """Raised by a tool: end the turn and ask the user ``question``."""

    def __init__(self, question: str, *, reason: str = "clarification", data: dict[str, Any] | None = None) -> None:
        if not isinstance(question, str) or not question.strip():
            raise ValueError("InputRequired needs the question to ask (a non-empty string)")
        super().__init__(question)
        self.request = InputRequest(question=question.strip(), reason=reason, data=dict(data or {}))


@dataclass(frozen=True)
class InputRequest:
    """What the agent waits for: the question, why (``clarification``, ``approval`` ...), and details."""

    question: str
    reason: str = "clarification"
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "reason": self.reason, "data": dict(self.data)}


def input_request(response: ChatResponse) -> InputRequest | None:
    """The request for input a turn ended with, if it did."""
    raw = response.metadata.get(METADATA_KEY) if response.metadata else None
    if not isinstance(raw, dict) or not raw.get("question"):
        return None
    return InputRequest(question=str(raw["question"]), reason=str(raw.get("reason") or "clarification"),
                        data=dict(raw.get("data") or {}))


def ask_user(question: str) -> str:
    """Ask the user a clarifying question when the request is ambiguous or a detail is missing. The turn
    ends here; the user's next message is the answer."""
    raise InputRequired(question)
