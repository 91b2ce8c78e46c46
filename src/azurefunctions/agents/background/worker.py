"""Running a queued turn from its queue message, exactly once, however often the message arrives.

A queue delivers *at least* once: a message comes back when its visibility timeout lapses before it is
deleted, when the function fails, or when the instance running it stops. So the message is only a pointer
(session id, turn id, agent) and the turn record decides:

* a finished record (completed, failed, cancelled): nothing to do, the message is deleted;
* a record claimed by a live worker (its lease not lapsed): that worker is running the turn. This delivery
  leaves it alone and sends a *check-back* message that becomes visible when the lease would lapse, so the
  turn is still looked after if that worker dies later;
* otherwise the delivery *claims* the record (etag compare-and-swap: of two racing deliveries exactly one
  wins), renews its lease while the turn runs, and writes the answer only while it still holds the claim.

A worker that stopped mid-turn leaves a lapsed claim; the next delivery takes it over. If the first worker
had already saved the session, the take-over finds the turn's messages in the history (after the length
recorded at the first claim) and completes the record from them instead of running the turn again, so a
session never holds a turn twice. After ``max_attempts`` starts the turn ends ``failed``.

A failure of the worker itself (the store unreachable, say) releases the claim and raises, so the platform
redelivers the message; after ``maxDequeueCount`` deliveries it moves it to ``<queue>-poison``, whose trigger
marks the turn ``failed`` with a clear error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AGENT_ERROR, AGENT_FAILED_MESSAGE, AgentFrameworkError, AgentNotFoundError
from ..events import AgentEvent, TurnCompleted, TurnFailed
from ..messages import SESSION_ID_PATTERN
from ..types import ChatResponse
from .kinds import CHAT, TurnKind, kind_for
from .records import TurnRecord

if TYPE_CHECKING:
    from ..runner import Runner
    from ..sessions.base import Session, SessionStore
    from .store import TurnStore

logger = logging.getLogger("azurefunctions.agents.background")

#: Seconds before a turn that met another running turn of its session is tried again.
BUSY_RETRY_SECONDS = 2


@dataclass(frozen=True)
class TurnMessage:
    """The body of a work-queue message: which turn to run. The request itself stays in the turn record."""

    session_id: str
    turn_id: str
    agent: str

    def encode(self) -> str:
        return json.dumps({"session_id": self.session_id, "turn_id": self.turn_id, "agent": self.agent},
                          separators=(",", ":"))

    @classmethod
    def decode(cls, body: bytes | str) -> TurnMessage:
        """The message, or ``ValueError`` saying what is wrong with it."""
        try:
            text = body.decode("utf-8") if isinstance(body, bytes) else body
            data = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            raise ValueError("the message is not UTF-8 JSON") from None
        if not isinstance(data, dict):
            raise ValueError("the message is not a JSON object")
        values = [data.get(key) for key in ("session_id", "turn_id", "agent")]
        strings = [v for v in values if isinstance(v, str) and v]
        if len(strings) != 3:
            raise ValueError("the message needs session_id, turn_id and agent strings")
        if not SESSION_ID_PATTERN.match(strings[0]):
            raise ValueError("the message's session_id is not a valid session id")
        return cls(strings[0], strings[1], strings[2])


def error_of(response: ChatResponse) -> dict[str, str]:
    """The ``{"code", "message"}`` the synchronous route would have answered for a failed turn."""
    code = response.error_code or AGENT_ERROR
    message = response.error or "The turn failed."
    if (response.status_code or 500) >= 500 and code == AgentFrameworkError.code:
        message = AGENT_FAILED_MESSAGE
    return {"code": code, "message": message}


class TurnWorker:
    """Handles work-queue and poison-queue messages for an app's runners."""

    def __init__(self, *, runners: Mapping[str, Runner], session_store: SessionStore, turns: TurnStore,
                 lease_seconds: float, max_attempts: int,
                 check_back: Callable[[TurnMessage, int], Awaitable[None]]) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds must be positive, got {lease_seconds}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.runners = runners
        self.session_store = session_store
        self.turns = turns
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self._check_back = check_back

    # The work queue ---------------------------------------------------------------------------------------
    async def handle(self, body: bytes | str, dequeue_count: int | None = None) -> str:
        """Process one delivery; returns what happened (``ran``, ``done``, ``busy``, ...) for logs and tests.

        Raises only for failures worth a redelivery (the store or the queue failing).
        """
        try:
            message = TurnMessage.decode(body)
        except ValueError as exc:
            logger.error("work-queue message dropped: %s", exc)
            return "invalid"
        record = await self.turns.get(message.session_id, message.turn_id)
        if record is None:
            logger.warning("turn %s of session %s has no record (deleted or expired); message dropped",
                           message.turn_id, message.session_id)
            return "missing"
        if record.done:
            return "done"
        kind: TurnKind | None = None
        if record.kind != CHAT:
            kind = kind_for(record.kind)
            if kind is None:
                await self._finish_unless_done(record, "failed", error={
                    "code": "unknown_kind",
                    "message": f"This app does not run background work of kind {record.kind!r}."})
                return "failed"
        runner = self.runners.get(record.agent)
        if runner is None:
            await self._finish_unless_done(record, "failed", error={
                "code": AgentNotFoundError.code,
                "message": f"No agent named {record.agent!r} in this app; the turn cannot run."}, kind=kind)
            return "failed"
        session = await self._session(runner, record)
        claim = uuid.uuid4().hex
        outcome = ""

        def take(current: TurnRecord) -> bool:
            nonlocal outcome
            now = time.time()
            if current.done:
                outcome = "done"
                return False
            if current.lease_active(now):
                outcome = "busy"
                return False
            if current.attempts >= self.max_attempts:
                outcome = "gave_up"
                _end(current, "failed", error={
                    "code": "turn_interrupted",
                    "message": f"The turn was started {current.attempts} times and its worker stopped each "
                               "time before it finished; it will not be started again."})
                return True
            if current.history_length is None:
                current.history_length = session.history_length if session is not None else 0
            current.status = "running"
            current.claim = claim
            current.attempts += 1
            current.lease_until = now + self.lease_seconds
            current.started_at = current.started_at or now
            outcome = "run"
            return True

        claimed = await self.turns.update(record.session_id, record.turn_id, take)
        if claimed is None:
            return "missing"
        if outcome == "busy":
            wait = math.ceil(max(0.0, (claimed.lease_until or 0) - time.time())) + 1
            await self._check_back(message, wait)
            logger.info("turn %s is running elsewhere (delivery %s); checking back in %ss", claimed.turn_id,
                        dequeue_count, wait)
            return "busy"
        if outcome == "gave_up" and kind is not None and claimed.error is not None:
            await kind.abandoned(claimed, self.session_store, claimed.error)
        if outcome != "run":
            return outcome
        logger.info("turn %s of session %s: attempt %d (delivery %s)", claimed.turn_id, claimed.session_id,
                    claimed.attempts, dequeue_count)
        response: ChatResponse | None
        try:
            if claimed.attempts > 1 and session is not None and (claimed.history_length or 0) < session.history_start:
                session = await self._session(runner, claimed)  # an earlier attempt started after our read
            saved = self._saved_answer(claimed, session) if claimed.attempts > 1 else None
            if kind is not None:  # the kind finishes its own way, from the saved answer when there is one
                run = kind.run(runner, claimed, self.session_store, saved)
                response, result = await self._run_holding(run, claimed, claim), \
                    "recovered" if saved is not None else "ran"
            elif saved is not None:
                response, result = saved, "recovered"
            else:
                run = run_turn(runner, claimed, self.session_store)
                response, result = await self._run_holding(run, claimed, claim), "ran"
            if response is None:
                return "stopped"
            if response.error_code == "session_busy":
                # Another turn of the session saved first; nothing of this one was saved. Run it again after.
                await self._release(claimed, claim, started=False)
                await self._check_back(message, BUSY_RETRY_SECONDS)
                logger.info("turn %s met another turn of session %s; retrying in %ss", claimed.turn_id,
                            claimed.session_id, BUSY_RETRY_SECONDS)
                return "deferred"
            await self._complete(claimed, claim, response)
        except BaseException:
            with contextlib.suppress(Exception):
                await self._release(claimed, claim)
            raise
        return result

    async def _session(self, runner: Runner, record: TurnRecord) -> Session | None:
        if not runner.agent.enable_conversational_agent:
            return None
        start = record.history_length
        if start is None:  # a first attempt needs only where the turn's messages will start
            return await self.session_store.load_recent(record.session_id, 0)
        page = await self.session_store.read_history(record.session_id, start)  # what earlier attempts saved
        if page is None:
            return None
        page.session.messages, page.session.history_start = page.messages, start
        return page.session

    @staticmethod
    def _saved_answer(record: TurnRecord, session: Session | None) -> ChatResponse | None:
        """The answer of a turn an earlier worker saved to the session before it stopped, if it did."""
        start = record.history_length
        if session is None or start is None or session.history_length <= start or start < session.history_start:
            return None
        since = session.messages[start - session.history_start:]  # the turn's messages, as far as saved
        asked = since[0]
        if asked.role != "user" or asked.content != record.request.get("message"):
            return None
        answers = [m for m in since[1:] if m.role == "assistant" and not m.tool_calls]
        if not answers:
            return None
        return ChatResponse(status="success", response=answers[-1].content or "", agent=answers[-1].agent
                            or record.agent, session_id=record.session_id,
                            context=dict(record.request.get("context") or {}),
                            metadata={"recovered": True})

    async def _run_holding(self, run: Coroutine[Any, Any, ChatResponse], record: TurnRecord,
                           claim: str) -> ChatResponse | None:
        """Run the turn while renewing the lease; ``None`` when the claim was lost (cancelled, taken over)."""
        task = asyncio.create_task(run)
        lost = False
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.lease_seconds / 3)
                if done:
                    return task.result()

                def renew(current: TurnRecord) -> bool:
                    nonlocal lost
                    if current.status != "running" or current.claim != claim:
                        lost = True
                        return False
                    current.lease_until = time.time() + self.lease_seconds
                    return True

                if await self.turns.update(record.session_id, record.turn_id, renew) is None:
                    lost = True
                if lost:
                    logger.info("turn %s was cancelled or taken over; stopping it", record.turn_id)
                    return None
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            elif lost:
                with contextlib.suppress(BaseException):
                    task.result()

    async def _complete(self, record: TurnRecord, claim: str, response: ChatResponse) -> None:
        ok = response.status == "success"
        paused = response.status == "awaiting_approval"

        def finish(current: TurnRecord) -> bool:
            if current.status != "running" or current.claim != claim:
                return False  # cancelled meanwhile, or another worker holds it now
            status = "awaiting_approval" if paused else "completed" if ok else "failed"
            _end(current, status, response=response.to_dict(), error=None if ok or paused else error_of(response))
            return True

        await self.turns.update(record.session_id, record.turn_id, finish)

    async def _release(self, record: TurnRecord, claim: str, *, started: bool = True) -> None:
        """Give the claim back (a redelivery may start at once) after the worker itself failed, or after the
        turn met another turn of its session (``started=False``: the attempt does not count)."""

        def release(current: TurnRecord) -> bool:
            if current.status != "running" or current.claim != claim:
                return False
            # After a failure ``attempts`` stays: the next start checks the session for what this one saved.
            current.status, current.claim, current.lease_until = "queued", None, None
            if not started:  # and the history it started from is stale: take a new baseline next time
                current.attempts = max(0, current.attempts - 1)
                current.history_length = None
            return True

        await self.turns.update(record.session_id, record.turn_id, release)

    async def _finish_unless_done(self, record: TurnRecord, status: str, *, error: dict[str, str],
                                  kind: TurnKind | None = None) -> None:
        ended = False

        def finish(current: TurnRecord) -> bool:
            nonlocal ended
            if current.done or current.lease_active(time.time()):
                return False
            _end(current, status, error=error)
            ended = True
            return True

        stored = await self.turns.update(record.session_id, record.turn_id, finish)
        if ended and kind is not None and stored is not None:
            await kind.abandoned(stored, self.session_store, error)

    # The poison queue -------------------------------------------------------------------------------------
    async def handle_poison(self, body: bytes | str, queue_name: str) -> str:
        """A message the platform gave up on: its turn ends ``failed`` (unless it finished or still runs)."""
        try:
            message = TurnMessage.decode(body)
        except ValueError as exc:
            logger.error("poison-queue message dropped: %s", exc)
            return "invalid"
        record = await self.turns.get(message.session_id, message.turn_id)
        if record is None:
            return "missing"
        kind = kind_for(record.kind) if record.kind != CHAT else None
        await self._finish_unless_done(record, "failed", error={
            "code": "turn_undeliverable",
            "message": f"The turn's queue message failed every delivery and was moved to {queue_name}; the "
                       "app's log has the cause. Send the message again to retry the turn."}, kind=kind)
        logger.error("turn %s of session %s failed: its message was moved to %s", message.turn_id,
                     message.session_id, queue_name)
        return "failed"


def _end(record: TurnRecord, status: Any, *, response: dict[str, Any] | None = None,
         error: dict[str, str] | None = None) -> None:
    record.status = status
    record.finished_at = time.time()
    record.claim = None
    record.lease_until = None
    if response is not None:
        record.response = response
    record.error = error


async def run_turn(runner: Runner, record: TurnRecord, store: SessionStore) -> ChatResponse:
    """Run the turn through the Runner's event stream, keeping its events with the session like a streamed
    HTTP turn, so ``GET /api/sessions/{id}/stream`` follows a background turn too."""
    from ..streaming.live import StreamedTurn

    final: list[ChatResponse] = []

    async def tap(events: AsyncIterator[AgentEvent]) -> AsyncIterator[AgentEvent]:
        async for event in events:
            if isinstance(event, TurnCompleted):
                final.append(event.response)
            elif isinstance(event, TurnFailed):
                final.append(event.response or ChatResponse(
                    status="error", error=event.message, error_code=event.code, agent=event.agent,
                    session_id=event.session_id, status_code=event.status))
            yield event

    keep = store if runner.agent.enable_conversational_agent else None
    turn = StreamedTurn(tap(runner.run_stream(record.request)), keep, owner=record.user_id).start()
    try:
        async for _ in turn.body():
            pass
        if turn.task is not None:
            await turn.task
    except asyncio.CancelledError:
        if turn.task is not None:
            turn.task.cancel()
        raise
    if final:
        return final[-1]
    return ChatResponse(status="error", agent=record.agent, session_id=record.session_id,
                        error=AGENT_FAILED_MESSAGE, error_code=AgentFrameworkError.code)
