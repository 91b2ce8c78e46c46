"""A person's decision on tool calls that wait for approval:
``POST /api/sessions/{session_id}/turns/{turn_id}/approvals``.

A turn whose model asked for a tool that needs approval stops before running it and is kept in the turn
journal (run/journal.py), in the session's store, not in this process: the decision may reach any instance,
after any restart. The reply is the resumed turn's, in the form the caller asks for: JSON (the
``ChatResponse``), SSE (``Accept: text/event-stream`` or ``"stream": true``), or ``202`` with a background turn
(``"async": true``) whose status route shows it until it ends. Only the turn's owner may decide (under Entra ID
the principal, which replaces ``user_id``): anyone else gets the same 404 as for a turn that does not exist.

The body is a closed model (``extra="forbid"``): a decision says yes or no, with an optional message for the
model; it cannot change the call's arguments.
"""

from __future__ import annotations

import copy
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from ..errors import (
    ApprovalDecidedError,
    ApprovalPendingError,
    InvalidRequestError,
    TurnNotAwaitingApprovalError,
    TurnNotFoundError,
    owned_by,
)
from ..events import AgentEvent, TurnCompleted, TurnFailed
from ..http.calls import SSE_TYPE, HttpCall, HttpReply, error_reply, json_reply
from ..http.routes import ROUTES_BY_NAME, url_for
from ..messages import SESSION_ID_PATTERN, SESSION_ID_RULE
from ..streaming.live import StreamedTurn
from ..streaming.sse import SSE_HEADERS
from ..types import TURN_ID_PATTERN, ApprovalDecision, ChatRequest, ChatResponse

if TYPE_CHECKING:
    from ..background.http import BackgroundHttp
    from ..run.journal import TurnHead
    from ..runner import Runner
    from ..sessions.base import SessionStore

#: Most decisions one call may carry (a model answer asks for far fewer tool calls).
MAX_DECISIONS = 64


class DecisionsCall(BaseModel):
    """The body of the approvals route."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    decisions: list[ApprovalDecision] = Field(
        min_length=1, max_length=MAX_DECISIONS,
        description="One decision per pending approval (by its id); approvals left out stay pending.")
    stream: StrictBool = Field(default=False, description="Answer with the resumed turn's events (SSE).")
    run_async: StrictBool = Field(default=False, alias="async",
                                  description="Resume the turn in the background: 202 with the turn's URL.")


def parse_decisions(body: dict[str, Any]) -> DecisionsCall:
    """The body as a ``DecisionsCall``, or ``InvalidRequestError`` naming the first field that is wrong."""
    try:
        return DecisionsCall.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            message = (f"{where} is not a field of a decision: a decision approves or rejects a call (id, "
                       "approved, message); it cannot change the call")
        else:
            message = f"{where}: {error['msg']}"
        raise InvalidRequestError(message[:300]) from None


class ApprovalsHttp:
    """Route logic of the approvals route; ``runners`` by agent name, ``turns`` for ``"async": true``,
    ``reply`` the chat route's JSON reply of a response (the resumed turn answers as a chat turn does)."""

    def __init__(self, *, runners: Mapping[str, Runner], session_store: SessionStore, turns: BackgroundHttp,
                 reply: Callable[[ChatResponse], HttpReply], api_base: str = "/api") -> None:
        self.runners = runners
        self.session_store = session_store
        self.turns = turns
        self.reply = reply
        self.api_base = api_base

    def url(self, session_id: str, turn_id: str) -> str:
        """The URL path a paused turn's decisions go to (with host.json's route prefix)."""
        return url_for(ROUTES_BY_NAME["sessions_turn_approvals"], self.api_base, session_id=session_id,
                       turn_id=turn_id)

    async def decide(self, call: HttpCall, body: dict[str, Any]) -> HttpReply:
        session_id = call.route_params.get("session_id", "")
        turn_id = call.route_params.get("turn_id", "")
        if not SESSION_ID_PATTERN.match(session_id):
            return error_reply(400, "invalid_request", SESSION_ID_RULE)
        if not TURN_ID_PATTERN.match(turn_id):
            return error_reply(400, "invalid_request", "turn_id must be the turn id of the reply that listed the "
                               "approvals.", session_id=session_id)
        try:
            asked = parse_decisions(body)
        except InvalidRequestError as exc:
            return error_reply(400, exc.code, exc.message, session_id=session_id)
        user_id = call.query.get("user_id") or None
        head = await self._head(session_id, turn_id, user_id)
        runner = self.runners[head.agent]
        if asked.run_async:
            check_decisions(head, asked.decisions, user_id)  # refused now, not after the 202
            request = ChatRequest.model_validate({**head.request, "session_id": session_id, "turn_id": turn_id})
            return await self.turns.submit_decisions(head.agent, request, turn_id, asked.decisions)
        if asked.stream or SSE_TYPE in (call.header("accept") or ""):
            events, _ = await first_event(runner.resume_stream(session_id, turn_id, asked.decisions,
                                                               user_id=user_id))
            keep = self.session_store if runner.agent.enable_conversational_agent else None
            turn = StreamedTurn(self._settling(events, session_id, turn_id), keep, owner=user_id).start()
            return HttpReply(status=200, media_type=SSE_TYPE, headers=dict(SSE_HEADERS), stream=turn.body())
        response = await runner.resume(session_id, turn_id, asked.decisions, user_id=user_id)
        if self.turns.background is not None:  # a paused background turn's record follows its outcome
            await self.turns.background.settle(session_id, turn_id, response)
        return self.reply(response)

    async def _settling(self, events: AsyncIterator[AgentEvent], session_id: str,
                        turn_id: str) -> AsyncIterator[AgentEvent]:
        """The resumed turn's events; its outcome settles a paused background turn's record too."""
        async for event in events:
            if isinstance(event, TurnCompleted | TurnFailed) and event.response is not None \
                    and self.turns.background is not None:
                await self.turns.background.settle(session_id, turn_id, event.response)
            yield event

    async def _head(self, session_id: str, turn_id: str, user_id: str | None) -> TurnHead:
        """The turn's journal head; ``TurnNotFoundError`` for a turn this caller may not see (it does not exist,
        or it is someone else's: the two are not told apart) or whose agent this app no longer has."""
        head = await read_head(self.session_store, session_id, turn_id)
        if head is None or not owned_by(head.user_id, user_id) or head.agent not in self.runners:
            raise TurnNotFoundError(f"Turn {turn_id} of session {session_id} was not found.")
        return head


def check_decisions(head: TurnHead, decisions: list[ApprovalDecision], user_id: str | None) -> None:
    """Refuse now what ``Runner.resume`` would refuse, before a background turn is queued for it: the same
    rules (run/approvals.py ``apply_decisions``) on a copy of the head, which is not written."""
    from ..run import approvals

    now = time.time()
    if head.status != "awaiting_approval":  # as Runner.resume answers: the decided approval is named first
        for decision in decisions:
            known = head.approval(decision.id)
            if known is not None and approvals.effective_status(known, now) in ("approved", "rejected"):
                raise ApprovalDecidedError(f"Approval {decision.id} was decided already.")
        raise TurnNotAwaitingApprovalError(f"Turn {head.turn_id} is not waiting for approval ({head.status}).")
    approvals.apply_decisions(copy.deepcopy(head), decisions, decided_by=user_id, now=now)


async def read_head(store: SessionStore, session_id: str, turn_id: str) -> TurnHead | None:
    """The journal head of a session's turn, or ``None`` (no such turn, or a store that keeps no journal)."""
    from ..run.journal import TurnJournal, journal_partition

    journal = TurnJournal.for_store(store)
    if journal is None:
        return None
    return await journal.get(journal_partition(session_id, turn_id), turn_id)


async def first_event(events: AsyncIterator[AgentEvent]) -> tuple[AsyncIterator[AgentEvent], AgentEvent | None]:
    """``events`` with its first event taken (and given back first), and that event: a turn refused before it
    starts (a decision the runner refuses, a session whose turn waits) is answered as JSON, before any SSE."""
    try:
        first: AgentEvent | None = await anext(events)
    except StopAsyncIteration:
        first = None

    async def rest() -> AsyncIterator[AgentEvent]:
        if first is not None:
            yield first
        async for event in events:
            yield event

    return rest(), first


def approval_pending_reply(response: ChatResponse, api_base: str) -> HttpReply:
    """409 ``approval_pending`` for a turn refused because its session's last turn waits for approval: the error
    envelope with that turn's id, its pending approvals (the runner names them in ``metadata["pending_turn"]``)
    and the URL their decisions go to."""
    data: dict[str, Any] = {"error": {"code": ApprovalPendingError.code, "message": response.error or ""}}
    if response.agent is not None:
        data["agent"] = response.agent
    pending = response.metadata.get("pending_turn") or {}
    session_id, turn_id = pending.get("session_id") or response.session_id, pending.get("turn_id")
    if session_id:
        data["session_id"] = session_id
    if session_id and turn_id:
        data["turn_id"] = turn_id
        data["approvals_url"] = url_for(ROUTES_BY_NAME["sessions_turn_approvals"], api_base,
                                        session_id=session_id, turn_id=turn_id)
        data["approvals"] = list(pending.get("approvals") or [])
    return json_reply(data, ApprovalPendingError.status)


async def waiting_turn(store: SessionStore, request: ChatRequest, agent: str) -> ChatResponse | None:
    """The refusal a new message meets in a session whose turn waits for approval (as ``Runner.run`` would
    answer it), or ``None``; read before a background turn is queued, so the caller gets the 409 now and not
    in a failed record later. A turn whose approvals all expired does not refuse: the turn closes it."""
    from ..run import approvals
    from ..run.journal import TurnJournal

    session_id = request.session_id
    journal = TurnJournal.for_store(store) if session_id else None
    if journal is None or session_id is None:
        return None
    paused = await journal.paused_turn(session_id)
    head = await journal.get(session_id, paused) if paused is not None and paused != request.turn_id else None
    if head is None or head.status != "awaiting_approval" or not owned_by(head.user_id, request.user_id):
        return None
    now = journal.clock()
    waiting = approvals.pending(head, now)
    if not waiting:
        return None
    return ChatResponse(
        status="error", agent=agent, session_id=session_id, error_code=ApprovalPendingError.code, status_code=409,
        error=f"Turn {head.turn_id} of session {session_id} waits for approval; decide it first.",
        metadata={"pending_turn": {"turn_id": head.turn_id, "session_id": session_id,
                                   "approvals": [approvals.public_view(a, now) for a in waiting]}})

