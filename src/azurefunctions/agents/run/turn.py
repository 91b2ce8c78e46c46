"""A turn's state and its answer's last item (``Final``), and the one way to take that item off a stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..messages import Usage
from ..types import ChatRequest, ChatResponse, ToolCallRecord

if TYPE_CHECKING:
    from ..agent import Agent
    from ..events import AgentEvent
    from ..sessions.base import Session


@dataclass
class Final:
    """The last item of an agent's answer stream: the text it answered with (never shown as an event)."""

    text: str


class FinalText:
    """An answer stream with its ``Final`` taken off: iterate it for the events, then read ``text``.

    Loops around an agent's answer (handoffs, reflection, the turn itself) pass the events on and keep the
    answer's text; this is the one place that knows the answer arrives as a ``Final`` item.
    """

    def __init__(self, answer: AsyncIterator[Any]) -> None:
        self._answer = answer
        self.text = ""

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for item in self._answer:
            if isinstance(item, Final):
                self.text = item.text
            else:
                yield item


@dataclass
class Turn:
    """What a turn accumulates on the way to its ``ChatResponse``."""

    request: ChatRequest
    session: Session | None
    agent: Agent
    turn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    usage: Usage = field(default_factory=Usage)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    handoff_path: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    # Handoff state: edges taken (cycle detection), events of delegated agents waiting to be yielded, each
    # agent's answer, context narrowed by ``context_keys``, a transfer the model asked for, who answered.
    handoff_edges: set[tuple[str, str]] = field(default_factory=set)
    pending_events: list[AgentEvent] = field(default_factory=list)
    contributions: list[dict[str, str]] = field(default_factory=list)
    context_by_agent: dict[str, dict[str, Any]] = field(default_factory=dict)
    transfer: tuple[Any, str | None] | None = None
    answered_by: str | None = None
    # The typed answer of the last agent that answered, and its ``StructuredOutput`` (None without one).
    output: Any = None
    structured: Any = None
    #: The turn's journal (``run/replay.py``'s ``TurnReplay``) when its session store keeps one: recorded steps
    #: replay, new ones are written as they complete.
    replay: Any = None

    def __post_init__(self) -> None:
        if not self.handoff_path:
            self.handoff_path.append(self.agent.name)

    @property
    def session_id(self) -> str | None:
        return self.session.id if self.session is not None else self.request.session_id

    def response(self, text: str) -> ChatResponse:
        metadata = dict(self.metadata)
        if len(self.handoff_path) > 1:
            metadata["contributions"] = list(self.contributions)
        return ChatResponse(
            status="success", response=text, agent=self.answered_by or self.agent.name,
            context=dict(self.request.context), session_id=self.session_id, usage=self.usage,
            tool_calls=self.tool_calls, handoff_path=list(self.handoff_path), metadata=metadata,
            output=self.output,
        )
