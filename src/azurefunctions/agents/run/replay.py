"""The running turn's side of its journal: recorded results to replay, new steps to write, the lease to keep.

A turn run again with its id replays: the same code runs from the start, and each model call and tool call
whose result the journal holds gets that result instead of calling the model or running the tool. Keys make
this deterministic: a model call is ``<agent>:m<n>`` (the agent's n-th model call in the turn), a tool call
``<agent>:m<n>:t:<call id>`` (the call ids come from the recorded model answer). Handoff tools are not
recorded: they run again and their target's own calls replay from the journal, so the turn's path (handoffs,
transfers, contributions) is rebuilt exactly.

The worker running the turn holds its lease: a background task renews it while the turn runs (a tool may take
longer than a lease), and every step is written with ``if_match=NEW``, so a worker that lost the turn to
another stops at its next step (``TurnInProgressError``) instead of running it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidRequestError, TurnInProgressError, TurnParkedError
from ..messages import ToolCall, Usage
from ..storage import DocumentConflictError
from ..tools.base import Tool, ToolContext, ToolOutput, approval_needed, approval_text
from . import approvals
from .journal import StepType, TurnHead, TurnJournal, TurnStep, approval_timeout_seconds, idempotency_key

if TYPE_CHECKING:
    from ..providers.base import ModelResponse

logger = logging.getLogger("azurefunctions.agents")

#: What the model reads for a call that may have happened and that the person chose not to run again.
NOT_REPEATED = ("This call was interrupted and may or may not have happened; the user chose not to run it "
                "again.")


_parking = False


def park_turns(parking: bool = True) -> None:
    """Stop every journaled turn of this process at its next step boundary (``TurnParkedError``, 503
    ``turn_parked``): what a worker does when it is told to stop (SIGTERM, the host's drain). Its completed steps
    are kept and its lease released, so the next worker resumes it at once. ``park_turns(False)`` undoes it."""
    global _parking
    _parking = parking


def parking() -> bool:
    return _parking


class TurnPaused(Exception):
    """A tool call of the turn waits for a person's decision: the turn stops here (its steps are kept)."""


class TurnClosing(Exception):
    """Closing a paused turn whose approvals expired reached a model call it never made: it ends here."""


class AwaitingApproval(ToolOutput):
    """The result of a call that did not run: it waits for the approval ``approval``."""

    def __init__(self, approval: dict[str, Any]) -> None:
        super().__init__(content="", is_error=False)
        self.approval = approval


def model_step(key: str, agent: str, response: ModelResponse) -> dict[str, Any]:
    """The body of a ``model`` step: the assistant's answer, its usage and model."""
    usage = response.usage
    return {"key": key, "agent": agent, "text": response.text,
            "tool_calls": [call.to_dict() for call in response.tool_calls],
            "finish_reason": response.finish_reason, "model": response.model,
            "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                      "requests": usage.requests, "reasoning_tokens": usage.reasoning_tokens}}


def recorded_response(body: dict[str, Any]) -> ModelResponse:
    """The ``ModelResponse`` a ``model`` step recorded (its usage included: a turn reports what it cost)."""
    from ..providers.base import ModelResponse

    usage = body.get("usage") or {}
    return ModelResponse(
        text=str(body.get("text") or ""), tool_calls=[ToolCall.from_dict(c) for c in body.get("tool_calls") or []],
        finish_reason=body.get("finish_reason"), model=body.get("model"),
        usage=Usage(input_tokens=int(usage.get("input_tokens", 0)), output_tokens=int(usage.get("output_tokens", 0)),
                    requests=int(usage.get("requests", 0)), reasoning_tokens=int(usage.get("reasoning_tokens", 0))))


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    from pydantic_core import to_jsonable_python

    try:
        return to_jsonable_python(value)
    except Exception:
        return None


class TurnReplay:
    """One run of a journaled turn (see the module doc). ``head`` is the claimed head, as stored."""

    def __init__(self, journal: TurnJournal, head: TurnHead, steps: list[TurnStep], *, owner: str) -> None:
        self.journal = journal
        self.head = head
        self.owner = owner
        self._results: dict[str, TurnStep] = {}
        self._started: set[str] = set()
        for step in steps:
            if step.key is None:
                continue
            if step.type in ("model", "tool"):
                self._results[step.key] = step
            elif step.type == "tool_started":
                self._started.add(step.key)
        self._next_seq = max((step.seq for step in steps), default=-1) + 1
        self._model_calls: dict[str, int] = {}
        #: Whether the turn was taken up again (after a decision, a crash or a retry): it had steps or a pause.
        self.resumed = bool(steps) or head.resumes > 0
        #: ``(type, key)`` of each step answered from the journal in this run, in order.
        self.replayed: list[tuple[str, str]] = []
        #: Approvals this run asks for (new, or still pending from before): the turn pauses when any.
        self.waiting: list[dict[str, Any]] = []
        self.lost = False
        #: Closing a paused turn whose approvals all expired: recorded steps only, no model call.
        self.closing = False
        #: Approvals decided for this run (by ``Runner.resume``), for the turn's telemetry.
        self.decided: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def turn_id(self) -> str:
        return self.head.turn_id

    @property
    def partition(self) -> str:
        return self.head.partition

    def now(self) -> float:
        return self.journal.clock()

    # Keys -------------------------------------------------------------------------------------------------
    def next_model_key(self, agent: str) -> str:
        """The key of ``agent``'s next model call in this turn."""
        count = self._model_calls.get(agent, 0) + 1
        self._model_calls[agent] = count
        return f"{agent}:m{count}"

    @staticmethod
    def tool_key(model_key: str, call_id: str) -> str:
        return f"{model_key}:t:{call_id}"

    def idempotency_key(self, agent: str, call_id: str) -> str:
        return idempotency_key(self.partition, self.turn_id, agent, call_id)

    # Reading ------------------------------------------------------------------------------------------------
    def recorded(self, key: str) -> dict[str, Any] | None:
        """The recorded body of the model answer or tool result ``key`` (noted as replayed), else ``None``."""
        step = self._results.get(key)
        if step is None:
            return None
        self.replayed.append((step.type, key))
        return step.body

    def recorded_result(self, key: str) -> ToolOutput | None:
        """The recorded result of the tool call ``key`` (noted as replayed), else ``None``."""
        recorded = self.recorded(key)
        if recorded is None:
            return None
        return ToolOutput(str(recorded.get("content") or ""), is_error=bool(recorded.get("is_error")),
                          structured=recorded.get("structured"))

    def started_unfinished(self, key: str) -> bool:
        """A non-repeatable call that started and has no recorded result (its worker stopped meanwhile)."""
        return key in self._started and key not in self._results

    def approval(self, key: str, kind: str) -> dict[str, Any] | None:
        """The latest approval of ``kind`` the turn asked for the call ``key``."""
        found = [a for a in self.head.approvals if a.get("key") == key and a.get("kind") == kind]
        return found[-1] if found else None

    def checkpoint(self) -> None:
        """Before a step that is not in the journal (a model call, a tool run): stop here if this process is
        stopping (``park_turns``)."""
        if _parking:
            raise TurnParkedError(f"Turn {self.turn_id} stopped at a step boundary: this instance is stopping; "
                                  "the turn continues after its last completed step on another one.")

    # Tool calls -------------------------------------------------------------------------------------------
    async def call(self, tool: Tool, call: ToolCall, context: ToolContext, key: str,
                   run: Callable[[], Awaitable[tuple[ToolOutput, bool]]]) -> ToolOutput:
        """One tool call of the turn, replayed or settled or run (``run`` returns the output and whether to
        record it):

        1. a recorded result is returned as it is (the tool does not run again);
        2. a call that needs approval and has no decision waits (``AwaitingApproval``);
        3. a refused (or expired) approval answers the model with the refusal;
        4. a non-repeatable call that started without a recorded end runs again only with its idempotency key
           (a tool that takes one); otherwise it waits for a person (an ``uncertain`` approval);
        5. it runs (a non-repeatable one after a ``tool_started`` step), and its result is recorded.
        """
        recorded = self.recorded_result(key)
        if recorded is not None:
            return recorded
        now = self.now()
        approval = self.approval(key, "approval")
        if approval is None and await approval_needed(tool, call.arguments, context):
            reason = approval_text(tool, call.arguments, context)
            return self._wait(self._new_approval(key, call, context, reason, "approval", now))
        if approval is not None:
            if approvals.effective_status(approval, now) == "pending":
                return self._wait(approval)
            refusal = approvals.refusal_text(approval, now)
            if refusal is not None:
                return await self._answer(key, ToolOutput(refusal, is_error=True))
        if not tool.repeatable and self.started_unfinished(key) and not tool.accepts_idempotency_key:
            uncertain = self.approval(key, "uncertain")
            if uncertain is None:
                reason = approvals.UNCERTAIN_REASON.format(tool=tool.name)
                return self._wait(self._new_approval(key, call, context, reason, "uncertain", now))
            if approvals.effective_status(uncertain, now) == "pending":
                return self._wait(uncertain)
            if approvals.refusal_text(uncertain, now) is not None:
                return await self._answer(key, ToolOutput(NOT_REPEATED, is_error=True))
        self.checkpoint()
        if not tool.repeatable:
            await self.record("tool_started", {"key": key, "tool": tool.name})
        output, keep = await run()
        if keep:
            await self._answer(key, output)
        return output

    async def _answer(self, key: str, output: ToolOutput) -> ToolOutput:
        await self.record("tool", {"key": key, "content": output.content, "is_error": output.is_error,
                                   "structured": _jsonable(output.structured)})
        return output

    def _new_approval(self, key: str, call: ToolCall, context: ToolContext, reason: str, kind: approvals.ApprovalKind,
                      now: float) -> dict[str, Any]:
        return approvals.new_approval(key=key, call_id=call.id, agent=context.agent_name, tool=call.name,
                                      arguments=call.arguments, reason=reason, kind=kind, now=now,
                                      timeout_seconds=approval_timeout_seconds())

    def _wait(self, approval: dict[str, Any]) -> AwaitingApproval:
        self.waiting.append(approval)
        return AwaitingApproval(approval)

    # Writing ----------------------------------------------------------------------------------------------
    async def record(self, step_type: StepType, body: dict[str, Any]) -> None:
        """Write the next step. ``TurnInProgressError`` when another worker wrote it (that worker owns the turn
        now: this one must stop)."""
        seq = self._next_seq
        self._next_seq += 1
        if self.lost:
            raise self._taken_over()
        try:
            step = await self.journal.add_step(self.partition, self.turn_id, seq, step_type, body)
        except DocumentConflictError:
            self.lost = True
            raise self._taken_over() from None
        except ValueError as exc:  # the store cannot keep it (a Cosmos DB item holds 2 MB at most)
            logger.warning("step %s of turn %s could not be kept: %s", seq, self.turn_id, exc)
            raise InvalidRequestError(
                f"a step of turn {self.turn_id} (a model answer or tool result) is larger than the state store can "
                "keep; send smaller messages or tool results", code="message_too_large", status=413) from None
        if step.key is not None and step_type in ("model", "tool"):
            self._results[step.key] = step
        elif step.key is not None and step_type == "tool_started":
            self._started.add(step.key)

    async def note(self, step_type: StepType, body: dict[str, Any]) -> None:
        """Write a step that is a record, not a result the turn replays (a decision): a seq taken meanwhile by
        another writer moves it to the next one; a failure is logged, never the turn's."""
        for _ in range(4):
            seq = self._next_seq
            self._next_seq += 1
            try:
                await self.journal.add_step(self.partition, self.turn_id, seq, step_type, body)
                return
            except DocumentConflictError:
                continue
            except Exception:
                break
        logger.warning("a %s step of turn %s could not be written", step_type, self.turn_id)

    def _taken_over(self) -> TurnInProgressError:
        return TurnInProgressError(f"Turn {self.turn_id} is being run by another worker now.")

    async def update_head(self, change: Any) -> TurnHead:
        """Apply ``change(head)`` and write the head over the version this worker holds."""
        async with self._lock:
            change(self.head)
            try:
                self.head = await self.journal.replace(self.head)
            except DocumentConflictError:
                self.lost = True
                raise self._taken_over() from None
            return self.head

    # The lease ----------------------------------------------------------------------------------------------
    def start_heartbeat(self) -> None:
        """Renew the lease every third of it while the turn runs."""
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().create_task(self._renew_forever())

    async def stop_heartbeat(self) -> None:
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _renew(self) -> bool:
        """Extend the lease while this worker runs the turn; ``False`` once it finished, paused or failed it."""
        async with self._lock:
            if self.head.status != "running" or self.head.lease_owner != self.owner:
                return False
            self.journal.claim(self.head, self.owner)
            try:
                self.head = await self.journal.replace(self.head)
            except DocumentConflictError:
                self.lost = True
                raise self._taken_over() from None
            return True

    async def _renew_forever(self) -> None:
        interval = max(0.05, self.journal.lease_seconds / 3)
        while not self.lost:
            await asyncio.sleep(interval)
            try:
                if not await self._renew():
                    return
            except TurnInProgressError:
                logger.warning("turn %s was taken over by another worker; this one stops at its next step",
                               self.turn_id)
                return
            except Exception:  # a store hiccup: the next beat tries again; the lease outlives two of them
                logger.warning("renewing the lease of turn %s failed", self.turn_id, exc_info=True)


def new_owner() -> str:
    """A worker's name for the leases it takes (one per turn run)."""
    return uuid.uuid4().hex
