"""A handoff target's ``process_request`` override, run inside the turn that reached the target.

A turn enters through its first agent's ``process_request`` (``Runner.run``). When it hands off to an agent whose
class overrides ``process_request``, the override runs too: it receives the README's ``request_data`` dict
(the message the target works on, its context, user and session) and its ``super().process_request(...)``
continues *this* turn for the target (same session, history, usage and handoff path) instead of starting a new
one. What the override returns is what the target answered: a changed answer replaces the target's text in the
history and the response. The target's events are passed on once the override has returned, so a streamed turn
shows that agent's text in one piece.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AGENT_ERROR, AgentFrameworkError
from ..events import TextDelta
from ..messages import Message
from ..types import ChatResponse
from .request import as_response, normalize_request
from .strategy import AnswerLoop
from .turn import Final, FinalText, Turn

if TYPE_CHECKING:
    from ..agent import Agent
    from ..types import ChatRequest


@dataclass
class _Step:
    """A handoff target running through its override: where its ``super().process_request`` continues."""

    answer: AnswerLoop
    turn: Turn
    agent: Agent
    history: list[Message]
    stream: bool
    events: list[Any] = field(default_factory=list)
    text: str = ""


_current_step: contextvars.ContextVar[_Step | None] = contextvars.ContextVar("handoff_step", default=None)


def overrides_process_request(agent: Agent) -> bool:
    """Whether ``agent``'s class overrides ``process_request`` (its override then runs for every turn)."""
    return agent.overrides_process_request()


def runs_through_override(turn: Turn, agent: Agent) -> bool:
    """Whether reaching ``agent`` in ``turn`` must go through its override (not yet running for it)."""
    if agent is turn.agent or not overrides_process_request(agent):
        return False  # the turn's first agent went through its override in Runner.run
    step = _current_step.get()
    return step is None or step.agent is not agent


def current_step_for(agent: Agent) -> _Step | None:
    step = _current_step.get()
    return step if step is not None and step.agent is agent else None


async def answer_through_override(answer: AnswerLoop, turn: Turn, agent: Agent, history: list[Message],
                                  stream: bool) -> AsyncIterator[Any]:
    """The target's answer, produced by its ``process_request`` override; ``answer`` is the loop its
    ``super().process_request`` continues with."""
    step = _Step(answer, turn, agent, history, stream)
    last_user = next((m for m in reversed(history) if m.role == "user"), None)
    request_data = {"message": last_user.content if last_user is not None else turn.request.message,
                    "context": dict(turn.context_by_agent.get(agent.name, turn.request.context)),
                    "user_id": turn.request.user_id, "session_id": turn.session_id}
    token = _current_step.set(step)
    try:
        result = await agent.process_request(request_data)
    finally:
        _current_step.reset(token)
    response = as_response(result, agent.name, turn.request)
    if response.status != "success":
        raise AgentFrameworkError(response.error or f"agent {agent.name} failed to answer",
                                  code=response.error_code or AGENT_ERROR, status=response.status_code or 500)
    text = response.response or ""
    changed = text != step.text
    for event in step.events:
        if not (changed and isinstance(event, TextDelta) and event.agent == agent.name):
            yield event
    if changed:
        if text:
            yield TextDelta(agent=agent.name, text=text)
        for message in reversed(history):
            if message.role == "assistant" and message.agent == agent.name:
                message.content = text
                break
    yield Final(text)


async def continue_step(step: _Step, request: ChatRequest | Mapping[str, Any] | str) -> ChatResponse:
    """The base ``process_request`` of a target inside its override: the target's part of the turn."""
    data = normalize_request(request)
    turn, agent, history = step.turn, step.agent, step.history
    last_user = next((m for m in reversed(history) if m.role == "user"), None)
    if data.message and (last_user is None or data.message != last_user.content):  # the override rewrote it
        if history and history[-1] is last_user:
            last_user.content = data.message
        else:
            history.append(Message(role="user", content=data.message))
    turn.context_by_agent[agent.name] = dict(data.context)
    answer = FinalText(step.answer(turn, agent, history, step.stream))
    step.events.extend([event async for event in answer])
    step.text = answer.text
    return ChatResponse(status="success", response=step.text, agent=agent.name, session_id=turn.session_id,
                        context=dict(data.context), usage=turn.usage)
