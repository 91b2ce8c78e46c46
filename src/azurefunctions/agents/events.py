"""The typed events of the agent loop.

The Runner's loop yields these and nothing else: the JSON route collects them into a ``ChatResponse``, the
SSE route encodes them, and other consumers (A2A task updates, telemetry) read the same stream. Each event's
``to_dict()`` is its wire form, with ``type`` equal to its SSE event name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .types import ChatResponse


@dataclass
class AgentEvent:
    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        data = {"type": self.type}
        for name in self.__dataclass_fields__:
            data[name] = getattr(self, name)
        return data


@dataclass
class TurnStarted(AgentEvent):
    type: ClassVar[str] = "turn_started"
    session_id: str | None
    agent: str
    turn_id: str


@dataclass
class TextDelta(AgentEvent):
    type: ClassVar[str] = "text_delta"
    agent: str
    text: str


@dataclass
class ToolCallStarted(AgentEvent):
    type: ClassVar[str] = "tool_call"
    agent: str
    call_id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolCallCompleted(AgentEvent):
    type: ClassVar[str] = "tool_result"
    agent: str
    call_id: str
    name: str
    result: str
    is_error: bool = False


@dataclass
class HandoffOccurred(AgentEvent):
    type: ClassVar[str] = "handoff"
    from_agent: str
    to_agent: str
    reason: str | None = None


@dataclass
class ReflectionEvaluated(AgentEvent):
    """A ``ReflectionAgent`` scored one of its answers."""

    type: ClassVar[str] = "reflection"
    agent: str
    iteration: int
    score: float | None
    feedback: str
    threshold_met: bool


@dataclass
class UsageReported(AgentEvent):
    type: ClassVar[str] = "usage"
    agent: str
    model: str | None
    input_tokens: int
    output_tokens: int


@dataclass
class ApprovalRequired(AgentEvent):
    """The turn stopped before tool calls a person must approve; it ends next with a ``TurnCompleted`` whose
    response has ``status="awaiting_approval"``. ``approvals`` are the pending calls as the response lists them."""

    type: ClassVar[str] = "approval_required"
    turn_id: str
    session_id: str | None
    agent: str
    approvals: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TurnCompleted(AgentEvent):
    type: ClassVar[str] = "done"
    response: ChatResponse

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "response": self.response.to_dict()}


@dataclass
class TurnFailed(AgentEvent):
    type: ClassVar[str] = "error"
    code: str
    message: str
    status: int = 500
    agent: str | None = None
    session_id: str | None = None
    retry_after: float | None = None
    response: ChatResponse | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.agent is not None:
            data["agent"] = self.agent
        if self.session_id is not None:
            data["session_id"] = self.session_id
        return data
