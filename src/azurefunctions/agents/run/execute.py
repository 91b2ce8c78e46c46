"""A turn: load the session, let the agent answer (run/loop.py), save the session; as a stream of events.

``TurnExecutor.events`` is the one way a turn runs: ``Runner.run_stream`` yields its events as they happen, the
base ``Agent.process_request`` collects them into a ``ChatResponse`` (``collect``). Any trigger (HTTP, queue,
timer, a test) gets identical behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Self

from .. import settings
from ..errors import (
    AGENT_FAILED_MESSAGE,
    INTERNAL_ERROR,
    AgentFrameworkError,
    ApprovalExpiredError,
    ApprovalPendingError,
    InvalidRequestError,
    ProviderRateLimitError,
    SessionBusyError,
    SessionNotFoundError,
    TurnIdReusedError,
    TurnInProgressError,
    TurnNotFoundError,
    TurnParkedError,
    owned_by,
)
from ..events import AgentEvent, ApprovalRequired, TextDelta, TurnCompleted, TurnFailed, TurnStarted
from ..limits import check_message
from ..messages import Message, Usage
from ..sessions.base import Session, SessionStore
from ..storage import DocumentConflictError
from ..telemetry import Span, instrumentation
from ..types import ChatRequest, ChatResponse
from . import approvals
from .handoffs import HandoffEngine
from .journal import TurnHead, TurnJournal, journal_partition
from .loop import AgentLoop
from .overrides import continue_step, current_step_for
from .replay import TurnClosing, TurnPaused, TurnReplay, new_owner
from .request import normalize_request
from .turn import FinalText, Turn

if TYPE_CHECKING:
    from ..agent import Agent

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
        """The turn's events, ending with ``TurnCompleted`` or ``TurnFailed`` (a failed turn never raises)."""
        turn: Turn | None = None
        replay: TurnReplay | None = None
        session: Session | None = None
        history: list[Message] = []
        try:
            request = self.keyed_session(normalize_request(raw))
            check_message(request.message, settings.get_int(settings.MAX_MESSAGE_CHARS))
            journal = self.journal()
            if journal is not None and request.session_id is not None:
                await self.check_paused(journal, request)
            session = await self.load_session(request)
            if journal is not None:
                opened = await self.open_turn(journal, request, session)
                if isinstance(opened, ChatResponse):  # the turn ran before: its answer, not a second run
                    async for event in answered_events(opened, self.agent.name):
                        yield event
                    return
                replay = opened
                replay.start_heartbeat()
            turn = Turn(request=request, session=session, agent=self.agent,
                        turn_id=replay.turn_id if replay is not None else request.turn_id or uuid.uuid4().hex)
            turn.replay = replay
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
                finally:
                    if replay is not None:
                        _record_replay(span, replay)
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
            response = turn.response(text)
            response.turn_id = turn.turn_id
            if replay is not None and not (session is not None and turn.metadata.get("conversation_ended")):
                await _finish(replay, response)  # (an ended conversation took its journal with it)
            yield TurnCompleted(response=response)
        except TurnPaused:
            assert turn is not None and replay is not None
            response = await _pause(turn, replay)
            yield ApprovalRequired(turn_id=turn.turn_id, session_id=turn.session_id,
                                   agent=response.agent or self.agent.name, approvals=list(response.approvals))
            yield TurnCompleted(response=response)
        except TurnClosing:
            assert turn is not None and replay is not None
            if session is not None:
                await self.session_store.append(session, history[len(session.messages):])
            response = ChatResponse(
                status="error", agent=self.agent.name, session_id=turn.session_id, turn_id=turn.turn_id,
                error_code=ApprovalExpiredError.code, usage=turn.usage, tool_calls=turn.tool_calls,
                error="The turn's approvals expired: its waiting tool calls were refused.", status_code=410)
            await _finish(replay, response)
            yield TurnCompleted(response=response)
        except AgentFrameworkError as exc:
            if not isinstance(exc, InvalidRequestError | SessionNotFoundError | ApprovalPendingError
                              | TurnNotFoundError | TurnIdReusedError | TurnInProgressError | TurnParkedError):
                logger.warning("turn of agent %s failed: %s", self.agent.name, exc.message)
            failed = _failure(exc, turn, self.agent.name)
            if replay is not None and not replay.lost and failed.response is not None:
                await _fail(replay, failed.response)
            yield failed
        except Exception:
            logger.exception("turn of agent %s failed", self.agent.name)
            failed = _failure(AgentFrameworkError(AGENT_FAILED_MESSAGE), turn, self.agent.name)
            if replay is not None and not replay.lost and failed.response is not None:
                await _fail(replay, failed.response)
            yield failed
        except (asyncio.CancelledError, GeneratorExit):
            # Stopped from outside (a cancelled task, a client that went away): the completed steps are kept;
            # give the lease back so a retry or another worker takes the turn up at once.
            if replay is not None:
                await replay.stop_heartbeat()
                await _release(replay)
            raise
        finally:
            if replay is not None:
                await replay.stop_heartbeat()

    # The journal (run/journal.py) -------------------------------------------------------------------------
    def journal(self) -> TurnJournal | None:
        """The journal kept with this executor's sessions, or ``None`` for a store without documents."""
        return TurnJournal.for_store(self.session_store)

    def keyed_session(self, request: ChatRequest) -> ChatRequest:
        """A turn with an id and no session gets the session derived from (user, turn id), so a retry of it
        reaches the same session (and journal) on any instance."""
        if request.turn_id is None or request.session_id is not None or not self.agent.enable_conversational_agent:
            return request
        session_id = uuid.uuid5(_KEYED_SESSIONS, f"{request.user_id or ''}\n{request.turn_id}").hex
        return request.model_copy(update={"session_id": session_id})

    async def check_paused(self, journal: TurnJournal, request: ChatRequest) -> None:
        """``ApprovalPendingError`` for a new message in a session whose turn waits for approval; a paused turn
        whose every approval expired is closed first (its waiting calls refused), and the new turn runs."""
        session_id = request.session_id
        assert session_id is not None
        paused = await journal.paused_turn(session_id)
        if paused is None or paused == request.turn_id:
            return
        head = await journal.get(session_id, paused)
        if head is None or head.status != "awaiting_approval":
            await journal.clear_paused(session_id, paused)
            return
        if not owned_by(head.user_id, request.user_id):
            return  # someone else's session: load_session answers session_not_found
        now = journal.clock()
        waiting = approvals.pending(head, now)
        if waiting:
            raise ApprovalPendingError(
                f"Turn {paused} of session {session_id} waits for approval; decide it first.",
                turn_id=paused, session_id=session_id, approvals=[approvals.public_view(a, now) for a in waiting])
        head, owner = await _take_over(journal, head, SessionBusyError(
            f"session {session_id} is busy closing turn {paused}; retry"))
        closing = TurnReplay(journal, head, await journal.steps(head.partition, paused), owner=owner)
        closing.closing = True
        agent = self.agents.get(head.agent, self.agent)
        executor = TurnExecutor(agent, session_store=self.session_store, agents=self.agents)
        token = _claimed.set(closing)
        try:
            await collect(executor.events(dict(head.request), stream=False))
        finally:
            _claimed.reset(token)

    async def open_turn(self, journal: TurnJournal, request: ChatRequest,
                        session: Session | None) -> TurnReplay | ChatResponse:
        """The journal of this turn: a new head, or the known turn taken up again (replay), or the answer the
        turn already has (completed, or waiting for approval)."""
        claim = _claimed.get()
        if claim is not None and claim.turn_id == request.turn_id:
            _claimed.set(None)
            return claim
        session_id = session.id if session is not None else None
        turn_id = request.turn_id or uuid.uuid4().hex
        partition = journal_partition(session_id, turn_id)
        if request.turn_id is not None:
            known = await journal.get(partition, turn_id)
            if known is not None:
                return await self.rejoin(journal, known, request)
        owner = new_owner()
        head = TurnHead(turn_id=turn_id, partition=partition, session_id=session_id, agent=self.agent.name,
                        user_id=request.user_id,
                        request={**request.model_dump(), "session_id": session_id, "turn_id": turn_id},
                        history_length=session.history_length if session is not None else 0)
        journal.claim(head, owner)
        try:
            head = await journal.create(head)
        except DocumentConflictError:  # the same turn id, sent twice at once
            known = await journal.get(partition, turn_id)
            if known is None:
                raise TurnInProgressError(f"Turn {turn_id} is being started by another request.") from None
            return await self.rejoin(journal, known, request)
        return TurnReplay(journal, head, [], owner=owner)

    async def rejoin(self, journal: TurnJournal, head: TurnHead, request: ChatRequest) -> TurnReplay | ChatResponse:
        """A known turn id again: the stored answer, the same pause, 409 while another worker runs it, or the
        turn taken over and replayed after its last completed step."""
        if not owned_by(head.user_id, request.user_id):
            raise TurnNotFoundError(f"Turn {head.turn_id} was not found.")
        if head.request.get("message") != request.message:
            raise TurnIdReusedError(f"Turn {head.turn_id} was a turn with another message; use a new turn id.")
        if head.status == "completed" and head.response is not None:
            return self.stored_response(head.response)
        now = journal.clock()
        waiting = approvals.pending(head, now) if head.status == "awaiting_approval" else []
        if waiting and head.response is not None:
            paused = self.stored_response(head.response)
            paused.approvals = [approvals.public_view(a, now) for a in waiting]
            return paused
        if journal.lease_live(head):
            raise TurnInProgressError(f"Turn {head.turn_id} is running now; ask again later.")
        head, owner = await _take_over(journal, head, TurnInProgressError(
            f"Turn {head.turn_id} was taken up by another worker."))
        return TurnReplay(journal, head, await journal.steps(head.partition, head.turn_id), owner=owner)

    def stored_response(self, record: dict[str, Any]) -> ChatResponse:
        response = ChatResponse.from_record(record)
        structured = self.agent.structured_output
        if structured is not None and response.output is not None and response.response:
            try:
                response.output = structured.validate(response.response)
            except Exception:  # the agent's output type changed since: the JSON as stored
                logger.info("stored answer of turn %s no longer matches %s", response.turn_id, structured.name)
        return response

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
    if turn is not None and turn.replay is not None:
        response.turn_id = turn.turn_id
    if isinstance(exc, ApprovalPendingError):  # what the 409 body names: the paused turn and its approvals
        response.session_id = exc.session_id
        response.metadata["pending_turn"] = {"turn_id": exc.turn_id, "session_id": exc.session_id,
                                             "approvals": list(exc.approvals)}
    return TurnFailed(code=exc.code, message=exc.message, status=exc.status, agent=response.agent,
                      session_id=response.session_id,
                      retry_after=exc.retry_after if isinstance(exc, ProviderRateLimitError) else None,
                      response=response)


#: Session ids of keyed turns without one: uuid5 in this namespace of (user, turn id).
_KEYED_SESSIONS = uuid.UUID("6f1c2a52-8c7e-4d53-9a43-0d7b5e0c8a11")
#: The turn ``Runner.resume`` (or the close of an expired paused turn) claimed, for ``open_turn`` to take up.
_claimed: contextvars.ContextVar[TurnReplay | None] = contextvars.ContextVar("claimed_turn", default=None)


def claim_turn(replay: TurnReplay) -> contextvars.Token[TurnReplay | None]:
    """Let the next turn run with ``replay``'s turn id take it up (``Runner.resume``); reset with the token."""
    return _claimed.set(replay)


def release_claim(token: contextvars.Token[TurnReplay | None]) -> None:
    _claimed.reset(token)


async def answered_events(response: ChatResponse, agent: str) -> AsyncIterator[AgentEvent]:
    """The events of a turn that has its answer already (a retry of a finished or paused turn)."""
    yield TurnStarted(session_id=response.session_id, agent=response.agent or agent, turn_id=response.turn_id or "")
    if response.status == "awaiting_approval":
        yield ApprovalRequired(turn_id=response.turn_id or "", session_id=response.session_id,
                               agent=response.agent or agent, approvals=list(response.approvals))
    elif response.response:
        yield TextDelta(agent=response.agent or agent, text=response.response)
    yield TurnCompleted(response=response)


def _record_replay(span: Span, replay: TurnReplay) -> None:
    span.set("agents.turn.resumed", replay.resumed)
    span.set("agents.turn.steps_replayed", len(replay.replayed))
    for step_type, key in replay.replayed:
        span.add_event("agents.step.replayed", {"type": step_type, "key": key})
    for approval in replay.decided:
        span.add_event("agents.approval.decided", {
            "approval.id": approval.get("id"), "tool": approval.get("tool"), "kind": approval.get("kind"),
            "approved": approval.get("status") == "approved", "decided_by": approval.get("decided_by") or "",
            "decided_at": approval.get("decided_at")})
    replay.decided = []


async def _finish(replay: TurnReplay, response: ChatResponse) -> None:
    """Mark the turn completed with its answer (after the session holds its messages)."""
    def change(head: TurnHead) -> None:
        head.status, head.response = "completed", response.to_record()
        head.lease_until, head.lease_owner = 0.0, None

    try:
        await replay.update_head(change)
    except TurnInProgressError:
        logger.warning("turn %s finished after another worker took it over", replay.turn_id)
        return
    if replay.head.approvals and replay.head.session_id:
        await replay.journal.clear_paused(replay.head.session_id, replay.turn_id)


async def _release(replay: TurnReplay) -> None:
    """Give the lease of a turn this worker stopped running back (it stays ``running``, its lease lapsed)."""
    def change(head: TurnHead) -> None:
        head.lease_until, head.lease_owner = 0.0, None

    if replay.lost or replay.head.status != "running" or replay.head.lease_owner != replay.owner:
        return
    try:
        await replay.update_head(change)
    except BaseException:  # stopping anyway: the lease lapses by itself
        logger.info("could not give the lease of turn %s back", replay.turn_id)


async def _fail(replay: TurnReplay, response: ChatResponse) -> None:
    """Mark the turn failed (a retry with its id replays it after its last completed step)."""
    def change(head: TurnHead) -> None:
        head.status, head.response = "failed", response.to_record()
        head.lease_until, head.lease_owner = 0.0, None

    response.turn_id = replay.turn_id
    try:
        await replay.update_head(change)
    except Exception:  # the answer is the failure either way; a lapsed lease lets a retry replay
        logger.warning("could not mark turn %s failed", replay.turn_id, exc_info=True)


async def _pause(turn: Turn, replay: TurnReplay) -> ChatResponse:
    """Keep the turn waiting for its approvals: the session is not appended; the head lists them."""
    now = replay.now()
    waiting: dict[str, dict[str, Any]] = {}
    for approval in replay.waiting:
        waiting.setdefault(str(approval["id"]), approval)
    response = ChatResponse(
        status="awaiting_approval", agent=next(iter(waiting.values()))["agent"], context=dict(turn.request.context),
        session_id=turn.session_id, usage=turn.usage, tool_calls=turn.tool_calls,
        handoff_path=list(turn.handoff_path), turn_id=turn.turn_id,
        approvals=[approvals.public_view(a, now) for a in waiting.values()])

    def change(head: TurnHead) -> None:
        known = {a.get("id") for a in head.approvals}
        head.approvals.extend(a for a in waiting.values() if a["id"] not in known)
        head.status, head.response = "awaiting_approval", response.to_record()
        head.lease_until, head.lease_owner = 0.0, None

    await replay.update_head(change)
    if turn.session_id is not None and replay.head.session_id:
        await replay.journal.set_paused(replay.head.session_id, turn.turn_id)
    return response


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


async def _take_over(journal: TurnJournal, head: TurnHead, taken: AgentFrameworkError) -> tuple[TurnHead, str]:
    """Claim ``head`` for a new owner (one more resume), or raise ``taken`` when another worker changed it first."""
    owner = new_owner()
    journal.claim(head, owner)
    head.resumes += 1
    try:
        return await journal.replace(head), owner
    except DocumentConflictError:
        raise taken from None
