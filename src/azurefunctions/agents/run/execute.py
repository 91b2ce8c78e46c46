"""A turn: load the session, let the agent answer (run/loop.py), save the session; as a stream of events.

``TurnExecutor.events`` is the one way a turn runs: ``Runner.run_stream`` yields its events as they happen, the
base ``Agent.process_request`` collects them into a ``ChatResponse`` (``collect``). Any trigger (HTTP, queue,
timer, a test) gets identical behaviour.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Self

from .. import settings
from ..agent import Agent
from ..errors import (
    AGENT_FAILED_MESSAGE,
    INTERNAL_ERROR,
    AgentFrameworkError,
    InvalidRequestError,
    ProviderRateLimitError,
    SessionNotFoundError,
    owned_by,
)
from ..events import AgentEvent, TurnCompleted, TurnFailed, TurnStarted
from ..handoff.engine import HandoffEngine
from ..handoff.override import continue_step, current_step_for
from ..limits import check_message
from ..messages import Message, Usage
from ..sessions.base import Session, SessionStore
from ..telemetry import instrumentation
from ..types import ChatRequest, ChatResponse
from .loop import AgentLoop
from .request import normalize_request
from .turn import FinalText, Turn

logger = logging.getLogger("azurefunctions.agents")

_current: contextvars.ContextVar[TurnExecutor | None] = contextvars.ContextVar("current_turn", default=None)
_default_store: SessionStore | None = None


def _process_default_store() -> SessionStore:
    """Programmatic runners share one in-memory store per process unless given one."""
    global _default_store
    if _default_store is None:
        from ..sessions.memory import MemorySessionStore

        # Bounded: sessions of programmatic runs expire after an hour idle instead of accumulating forever.
        _default_store = MemorySessionStore(ttl_seconds=3600)
    return _default_store


class TurnExecutor:
    """Runs one agent's turns, with sessions from ``session_store``.

    ``agents`` is the registry of agents a turn may hand off to; an executor built from one agent knows only
    that agent and its handoff targets.
    """

    def __init__(self, agent: Agent, *, session_store: SessionStore | None = None,
                 agents: Mapping[str, Agent] | None = None) -> None:
        self.agent = agent
        self.session_store = session_store if session_store is not None else _process_default_store()
        self.agents: dict[str, Agent] = dict(agents or {})
        self.agents.setdefault(agent.name, agent)
        self.loop = AgentLoop(self.agents)

    @property
    def handoffs(self) -> HandoffEngine:
        return self.loop.handoffs

    @classmethod
    def for_agent(cls, agent: Agent) -> Self:
        """The executor currently running ``agent`` (inside ``running()``), else a new one."""
        current = _current.get()
        if current is not None and current.agent is agent and isinstance(current, cls):
            return current
        return cls(agent)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """While the agent's ``process_request`` runs a turn: ``for_agent`` finds this executor (its store and
        registry) from inside it."""
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)

    async def execute(self, request: ChatRequest | Mapping[str, Any] | str) -> ChatResponse:
        """The base ``process_request``: the event loop, collected; for a handoff target called from its
        override, the target's part of the running turn."""
        step = current_step_for(self.agent)
        if step is not None:
            return await continue_step(step, request)
        return await collect(self.events(request, stream=False))

    async def events(self, raw: ChatRequest | Mapping[str, Any] | str, *,
                      stream: bool) -> AsyncIterator[AgentEvent]:
        turn: Turn | None = None
        try:
            request = normalize_request(raw)
            check_message(request.message, settings.get_int(settings.MAX_MESSAGE_CHARS))
            session = await self.load_session(request)
            turn = Turn(request=request, session=session, agent=self.agent)
            yield TurnStarted(session_id=turn.session_id, agent=self.agent.name, turn_id=turn.turn_id)
            history = list(session.messages) if session is not None else []
            history.append(Message(role="user", content=request.message))
            with instrumentation().invoke_agent(agent=self.agent, conversation_id=turn.session_id) as span:
                answer = FinalText(self.loop.answer(turn, self.agent, history, stream))
                try:
                    async for event in answer:
                        yield event
                except AgentFrameworkError as exc:
                    span.record_error(exc.code)
                    raise
                text = answer.text
                if turn.structured is not None and text != turn.structured.dump_json(turn.output):
                    # A loop around the agent's (reflection) chose another of its validated answers.
                    turn.output = turn.structured.validate(text)
                span.set("gen_ai.usage.input_tokens", turn.usage.input_tokens)
                span.set("gen_ai.usage.output_tokens", turn.usage.output_tokens)
            if session is not None and turn.metadata.get("conversation_ended"):
                await self.session_store.delete(session.id)
            elif session is not None:
                # Store what the turn added after the window it loaded, never the whole history again.
                session.active_agent = turn.answered_by or turn.agent.name
                await self.session_store.append(session, history[len(session.messages):])
            yield TurnCompleted(response=turn.response(text))
        except AgentFrameworkError as exc:
            if not isinstance(exc, InvalidRequestError | SessionNotFoundError):
                logger.warning("turn of agent %s failed: %s", self.agent.name, exc.message)
            yield _failure(exc, turn, self.agent.name)
        except Exception:
            logger.exception("turn of agent %s failed", self.agent.name)
            yield _failure(AgentFrameworkError(AGENT_FAILED_MESSAGE), turn,
                           self.agent.name)

    # Sessions ---------------------------------------------------------------------------------------------
    def history_needed(self) -> int | None:
        """How many of the latest messages a turn may show a model: the widest window of any agent that can
        answer it (handoffs included); ``None`` (everything) when one of them sees the whole history."""
        windows = [agent.history_window for agent in self.agents.values()]
        return None if any(window is None for window in windows) else max(windows, default=0)

    async def load_session(self, request: ChatRequest) -> Session | None:
        if not self.agent.enable_conversational_agent:
            return None
        if request.session_id is None:
            session_id = uuid.uuid4().hex
            # Reach the store before the model: a misconfigured store (say, a Cosmos DB container that does
            # not exist) fails the turn here, before a model call is paid for and its answer lost.
            await self.session_store.load_recent(session_id, 0)
            return Session(id=session_id, user_id=request.user_id, active_agent=self.agent.name)
        session = await self.session_store.load_recent(request.session_id, self.history_needed())
        if session is None:
            return Session(id=request.session_id, user_id=request.user_id, active_agent=self.agent.name)
        if not owned_by(session.user_id, request.user_id):
            # Someone else's session: answer as if it did not exist, so ids cannot be probed.
            raise SessionNotFoundError(f"session {request.session_id} was not found")
        return session


def _failure(exc: AgentFrameworkError, turn: Turn | None, agent_name: str) -> TurnFailed:
    response = ChatResponse(
        status="error", agent=turn.agent.name if turn else agent_name, error=exc.message, error_code=exc.code,
        session_id=turn.session_id if turn else None,
        context=dict(turn.request.context) if turn else {},
        usage=turn.usage if turn else Usage(), tool_calls=turn.tool_calls if turn else [],
        status_code=exc.status, retry_after=exc.retry_after if isinstance(exc, ProviderRateLimitError) else None,
    )
    return TurnFailed(code=exc.code, message=exc.message, status=exc.status, agent=response.agent,
                      session_id=response.session_id,
                      retry_after=exc.retry_after if isinstance(exc, ProviderRateLimitError) else None,
                      response=response)


async def collect(events: AsyncIterator[AgentEvent]) -> ChatResponse:
    """The ``ChatResponse`` a stream of turn events ends with."""
    final: ChatResponse | None = None
    async for event in events:
        if isinstance(event, TurnCompleted):
            final = event.response
        elif isinstance(event, TurnFailed):
            final = event.response or ChatResponse(
                status="error", error=event.message, error_code=event.code, agent=event.agent,
                session_id=event.session_id, status_code=event.status, retry_after=event.retry_after)
    if final is None:
        return ChatResponse(status="error", error="the turn produced no result", error_code=INTERNAL_ERROR)
    return final


__all__ = ["TurnExecutor", "collect"]
