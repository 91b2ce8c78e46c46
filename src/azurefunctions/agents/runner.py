"""``Runner``: runs an agent's turns, framework-agnostic (no HTTP in here).

One loop, and it is a stream of events: ``run_stream`` yields them as they happen; ``run`` is the same events
collected into a ``ChatResponse``. A turn loads the session, runs the model/tool loop (and handoffs), then
saves the session, so any trigger (HTTP, queue, timer, a test) gets identical behaviour. The turn itself is
run/execute.py (session load and save) and run/loop.py (how an agent answers); this module is their public face.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from .agent import Agent
from .errors import (
    AGENT_ERROR,
    ApprovalDecidedError,
    ApprovalExpiredError,
    ConfigurationError,
    InvalidRequestError,
    TurnInProgressError,
    TurnNotAwaitingApprovalError,
    TurnNotFoundError,
    owned_by,
)
from .events import AgentEvent, ApprovalRequired, TextDelta, TurnCompleted, TurnFailed, TurnStarted
from .run import approvals
from .run.execute import TurnExecutor, answered_events, claim_turn, collect, release_claim
from .run.journal import journal_partition
from .run.overrides import overrides_process_request
from .run.replay import TurnReplay, new_owner
from .run.request import as_response, describe_validation_error, normalize_request
from .sessions.base import SessionStore
from .storage import DocumentConflictError
from .types import TURN_ID_PATTERN, TURN_ID_RULE, ApprovalDecision, ChatRequest, ChatResponse


class Runner(TurnExecutor):
    """Executes one agent's turns, with sessions from ``session_store``.

    ``agents`` is the registry of agents this runner may hand off to (an ``AgentFunctionApp`` passes all of
    its agents); a runner built from one agent knows only that agent and its handoff targets.
    """

    def __init__(self, agent: Agent, *, session_store: SessionStore | None = None,
                 agents: Mapping[str, Agent] | None = None) -> None:
        if not isinstance(agent, Agent):
            raise TypeError(f"Runner() expects an Agent, got {type(agent).__name__}")
        super().__init__(agent, session_store=session_store, agents=agents)

    @classmethod
    def for_agent(cls, agent: Agent) -> Runner:
        """The runner currently running ``agent`` (inside ``Runner.run``), else a new one."""
        return super().for_agent(agent)

    # Public API -------------------------------------------------------------------------------------------
    async def run(self, request: ChatRequest | Mapping[str, Any] | str) -> ChatResponse:
        """Run one turn through ``agent.process_request`` and return its response; never raises for a
        failed turn (the response says ``status="error"``)."""
        try:
            chat_request = normalize_request(request)
        except InvalidRequestError as exc:
            return ChatResponse(status="error", agent=self.agent.name, error=exc.message, error_code=exc.code)
        with self.running():
            # A subclass's override gets the README's ``request_data`` dict; the base implementation takes the
            # validated request as it is (no second validation per turn).
            overridden = overrides_process_request(self.agent)
            result = await self.agent.process_request(chat_request.model_dump() if overridden else chat_request)
        return as_response(result, self.agent.name, chat_request)

    def run_sync(self, request: ChatRequest | Mapping[str, Any] | str) -> ChatResponse:
        """``run`` for synchronous code (not inside a running event loop)."""
        return asyncio.run(self.run(request))

    async def run_stream(self, request: ChatRequest | Mapping[str, Any] | str) -> AsyncIterator[AgentEvent]:
        """The turn's events as they happen, ending with ``TurnCompleted`` or ``TurnFailed``."""
        if not overrides_process_request(self.agent):
            async for event in self.events(request, stream=True):
                yield event
            return
        # A subclass customises process_request: its result is authoritative, so stream it as one turn.
        response = await self.run(request)
        yield TurnStarted(session_id=response.session_id, agent=response.agent or self.agent.name,
                          turn_id=response.turn_id or uuid.uuid4().hex)
        if response.status == "awaiting_approval":
            yield ApprovalRequired(turn_id=response.turn_id or "", session_id=response.session_id,
                                   agent=response.agent or self.agent.name, approvals=list(response.approvals))
            yield TurnCompleted(response=response)
        elif response.status == "success":
            if response.response:
                yield TextDelta(agent=response.agent or self.agent.name, text=response.response)
            yield TurnCompleted(response=response)
        else:
            yield TurnFailed(code=response.error_code or AGENT_ERROR, message=response.error or "",
                             agent=response.agent, session_id=response.session_id, response=response)

    # Approvals: a paused turn resumed by a person's decisions ------------------------------------------------
    async def resume(self, session_id: str | None, turn_id: str,
                     decisions: Sequence[ApprovalDecision | Mapping[str, Any]], *,
                     user_id: str | None = None) -> ChatResponse:
        """Record ``decisions`` for the approvals of the paused turn ``turn_id`` of ``session_id`` (``None`` for
        an agent without sessions) and, once every approval is decided, resume the turn by replay.

        Returns the resumed turn's response (``status="awaiting_approval"`` again, listing the rest, while some
        approvals wait). Raises, before anything is recorded: ``TurnNotFoundError`` (unknown turn, or not
        ``user_id``'s), ``ApprovalNotFoundError``, ``ApprovalDecidedError``, ``ApprovalExpiredError``,
        ``TurnNotAwaitingApprovalError``, ``InvalidRequestError`` (malformed decisions).
        """
        decided = await self._decide(session_id, turn_id, decisions, user_id)
        if isinstance(decided, ChatResponse):
            return decided
        runner, request = decided
        token = claim_turn(runner[1])
        try:
            return await runner[0].run(request)
        finally:
            release_claim(token)

    async def resume_stream(self, session_id: str | None, turn_id: str,
                            decisions: Sequence[ApprovalDecision | Mapping[str, Any]], *,
                            user_id: str | None = None) -> AsyncIterator[AgentEvent]:
        """``resume`` as the resumed turn's events (the same errors, raised at the first iteration)."""
        decided = await self._decide(session_id, turn_id, decisions, user_id)
        if isinstance(decided, ChatResponse):
            async for event in answered_events(decided, self.agent.name):
                yield event
            return
        runner, request = decided
        token = claim_turn(runner[1])
        try:
            async for event in runner[0].run_stream(request):
                yield event
        finally:
            release_claim(token)

    async def _decide(self, session_id: str | None, turn_id: str,
                      decisions: Sequence[ApprovalDecision | Mapping[str, Any]],
                      user_id: str | None) -> ChatResponse | tuple[tuple[Runner, TurnReplay], dict[str, Any]]:
        """Apply the decisions to the turn's head (one compare-and-swap); the pause as it stands when some
        approvals still wait, else the claimed turn and the runner of its agent."""
        journal = self.journal()
        if journal is None:
            raise ConfigurationError("approvals need a session store that keeps documents (memory, SQLite or "
                                     "Cosmos DB); this one has none")
        if not isinstance(turn_id, str) or not TURN_ID_PATTERN.match(turn_id):
            raise InvalidRequestError(TURN_ID_RULE)
        parsed = _decisions(decisions)
        partition = journal_partition(session_id, turn_id)
        for _ in range(8):
            owner = ""
            head = await journal.get(partition, turn_id)
            if head is None or not owned_by(head.user_id, user_id) or head.session_id != session_id:
                raise TurnNotFoundError(f"Turn {turn_id} was not found.")
            now = journal.clock()
            if head.status != "awaiting_approval":
                for decision in parsed:
                    known = head.approval(decision.id)
                    status = approvals.effective_status(known, now) if known is not None else None
                    if status == "expired":
                        raise ApprovalExpiredError(f"Approval {decision.id} expired; the call was refused.")
                    if status in ("approved", "rejected"):
                        raise ApprovalDecidedError(f"Approval {decision.id} was decided already ({status}).")
                raise TurnNotAwaitingApprovalError(f"Turn {turn_id} is not waiting for approval ({head.status}).")
            applied = approvals.apply_decisions(head, parsed, decided_by=user_id, now=now)
            waiting = approvals.pending(head, now)
            target = self._runner_for(head.agent, turn_id)
            if waiting:
                response = ChatResponse.from_record(head.response or {})
                response.approvals = [approvals.public_view(a, now) for a in waiting]
                head.response = response.to_record()
            else:
                owner = new_owner()
                journal.claim(head, owner)
                head.resumes += 1
            try:
                head = await journal.replace(head)
            except DocumentConflictError:  # decided or taken up by someone else meanwhile: read it again
                continue
            steps = await journal.steps(partition, turn_id)
            replay = TurnReplay(journal, head, steps, owner=owner)
            for approval in applied:
                await replay.note("decision", {
                    "approval_id": approval["id"], "approved": approval["status"] == "approved",
                    "message": approval.get("message"), "decided_by": approval.get("decided_by"),
                    "decided_at": approval.get("decided_at")})
            if waiting:
                return response
            replay.decided = applied
            return (target, replay), dict(head.request)
        raise TurnInProgressError(f"Turn {turn_id} kept changing while the decisions were recorded; try again.")

    def _runner_for(self, agent_name: str, turn_id: str) -> Runner:
        if agent_name == self.agent.name:
            return self
        agent = self.agents.get(agent_name)
        if agent is None:
            raise TurnNotFoundError(f"Turn {turn_id} belongs to agent {agent_name!r}, which this runner does not "
                                    "know.")
        return Runner(agent, session_store=self.session_store, agents=self.agents)

    # Handoffs through the Runner (the seed README's runner-based API) -------------------------------------
    def can_handoff_to(self, target_agent: str) -> bool:
        """Whether ``target_agent`` is one of this agent's handoff targets and can be reached."""
        config = self.agent.handoff_config
        return (config is not None and config.target(target_agent) is not None
                and target_agent in self.agents)

    async def handoff_to(self, target_agent: str, input_data: Any = None, conversation_id: str | None = None,
                         reason: str | None = None, *, user_id: str | None = None) -> ChatResponse:
        """Hand work to another agent directly; its ``ChatResponse`` records the path and the reason.

        ``input_data`` is a message string, or a dict: with ``message`` it is a request; without, the dict is
        given to the target as JSON text and as its context.
        """
        if not self.can_handoff_to(target_agent):
            targets = [t.agent_name for t in self.agent.handoff_config.targets] if self.agent.handoff_config else []
            return ChatResponse(status="error", agent=self.agent.name, error_code="handoff_refused",
                                error=f"{self.agent.name} cannot hand off to {target_agent!r}; its targets are: "
                                      f"{', '.join(targets) or 'none'}", session_id=conversation_id,
                                status_code=409)
        if isinstance(input_data, Mapping) and "message" in input_data:
            request: dict[str, Any] = dict(input_data)
        elif isinstance(input_data, Mapping):
            request = {"message": json.dumps(dict(input_data), default=str), "context": dict(input_data)}
        else:
            request = {"message": str(input_data) if input_data is not None else reason or "Continue."}
        request.setdefault("session_id", conversation_id)
        if user_id is not None:
            request.setdefault("user_id", user_id)
        target = self.agents[target_agent]
        runner = Runner(target, session_store=self.session_store, agents=self.agents)
        response = await runner.run(request)
        response.handoff_path = [self.agent.name, *response.handoff_path]
        response.metadata["handoff_reason"] = reason
        return response


def _decisions(decisions: Sequence[ApprovalDecision | Mapping[str, Any]]) -> list[ApprovalDecision]:
    if isinstance(decisions, str | bytes | Mapping) or not isinstance(decisions, Sequence):
        raise InvalidRequestError("decisions must be a list of {id, approved, message} objects")
    parsed = []
    for index, decision in enumerate(decisions):
        if isinstance(decision, ApprovalDecision):
            parsed.append(decision)
            continue
        try:
            parsed.append(ApprovalDecision.model_validate(decision))
        except ValidationError as exc:
            raise InvalidRequestError(f"decisions[{index}]: {describe_validation_error(exc)}") from None
    return parsed


__all__ = ["ApprovalDecision", "Runner", "collect", "normalize_request"]
