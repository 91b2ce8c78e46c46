"""``BackgroundTurns``: an app's asynchronous turns — submit, look up, cancel, and the queue triggers that run
them.

Submitting stores a ``queued`` turn record and sends a work-queue message; a queue-triggered function of the
same app (registered by ``register``) runs it through the same ``Runner`` as the HTTP route. Nothing runs
after an HTTP response is sent, so the platform sees and keeps all the work: a turn outlives the HTTP
timeout, a scale-in, a restart.
"""

from __future__ import annotations

import logging
import time
import uuid
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import settings
from ..errors import AgentFrameworkError, AgentNotFoundError, SessionNotFoundError, TurnInProgressError, owned_by
from ..types import ApprovalDecision, ChatRequest, ChatResponse
from .approvals import APPROVAL, approval_data
from .kinds import CHAT
from .queues import QueueService, poison_queue_name, resolve_connection, send_message
from .records import TurnRecord
from .store import TurnConflictError, TurnStore, turn_store_for
from .worker import TurnMessage, TurnWorker

if TYPE_CHECKING:
    import azure.functions as func

    from ..runner import Runner
    from ..sessions.base import SessionStore
    from .records import TurnStatus

logger = logging.getLogger("azurefunctions.agents.background")

#: Names of the functions ``register`` adds.
WORK_FUNCTION = "agent_turns"
POISON_FUNCTION = "agent_turns_poison"


class BackgroundTurns:
    """Asynchronous turns of an app's ``runners``, through the Storage queue ``queue_name``.

    ``connection`` is a Functions connection name (see ``queues.py``); ``queue_name`` defaults to
    ``AGENTS_WORK_QUEUE``; ``lease_seconds`` and ``max_attempts`` to ``AGENTS_TURN_LEASE_SECONDS`` and
    ``AGENTS_TURN_MAX_ATTEMPTS``.
    """

    def __init__(self, *, runners: Mapping[str, Runner], session_store: SessionStore,
                 queue_name: str | None = None, connection: str = "AzureWebJobsStorage",
                 lease_seconds: float | None = None, max_attempts: int | None = None,
                 turn_store: TurnStore | None = None) -> None:
        self.runners = runners
        self.session_store = session_store
        self.queue_name = queue_name or settings.AGENTS_WORK_QUEUE.get() or "agent-turns"
        _check_queue_name(self.queue_name)
        if not connection or not isinstance(connection, str):
            raise ValueError("connection must name a storage connection setting, such as AzureWebJobsStorage")
        self.connection = connection
        self.lease_seconds = float(lease_seconds if lease_seconds is not None
                                   else settings.get_int(settings.TURN_LEASE_SECONDS))
        self.max_attempts = int(max_attempts if max_attempts is not None
                                else settings.get_int(settings.TURN_MAX_ATTEMPTS))
        self._turn_store = turn_store
        self._queues: QueueService | None = None
        self._worker: TurnWorker | None = None
        _BY_STORE[session_store] = self

    @property
    def turns(self) -> TurnStore:
        if self._turn_store is None:
            self._turn_store = turn_store_for(self.session_store)
        return self._turn_store

    @property
    def worker(self) -> TurnWorker:
        if self._worker is None:
            self._worker = TurnWorker(runners=self.runners, session_store=self.session_store, turns=self.turns,
                                      lease_seconds=self.lease_seconds, max_attempts=self.max_attempts,
                                      check_back=self._send)
        return self._worker

    def _queue(self) -> Any:
        if self._queues is None:
            self._queues = QueueService(resolve_connection(self.connection))
        return self._queues.queue(self.queue_name)

    async def _send(self, message: TurnMessage, delay_seconds: int = 0) -> None:
        await send_message(self._queue(), message.encode(), visibility_timeout=delay_seconds or None)

    # Submitting and reading turns -------------------------------------------------------------------------
    async def submit(self, agent: str, request: ChatRequest, *, kind: str = CHAT,
                     data: dict[str, Any] | None = None, turn_id: str | None = None) -> TurnRecord:
        """Store the turn as ``queued`` and enqueue it; returns the record (with its session and turn ids).

        A new conversation gets its session id here, so the client can follow it before the turn runs.
        ``kind`` and ``data`` make it another kind of work (``kinds.py``); ``turn_id`` (default: the request's
        ``turn_id``, from an ``Idempotency-Key``) chooses its id: submitting the same id again returns the turn
        already submitted (to its owner; anyone else gets ``SessionNotFoundError``), nothing is queued twice.
        """
        turn_id = turn_id or request.turn_id
        runner = self.runners.get(agent)
        if runner is None:
            raise AgentNotFoundError.named(agent, self.runners)
        session_id = request.session_id or uuid.uuid4().hex
        if request.session_id is not None and runner.agent.enable_conversational_agent:
            session = await self.session_store.load_recent(session_id, 0)  # the owner only, not the history
            if session is not None and not owned_by(session.user_id, request.user_id):
                raise SessionNotFoundError.for_id(session_id)
        body = request.model_dump(mode="json")
        body["session_id"] = session_id
        body["stream"] = False
        record = TurnRecord(session_id=session_id, agent=agent, request=body, user_id=request.user_id, kind=kind,
                            data=data)
        if turn_id is not None:
            record.turn_id = turn_id
        try:
            record = await self.turns.create(record)
        except TurnConflictError:  # submitted before under this id: a client's retry
            existing = await self.turns.get(session_id, record.turn_id)
            if existing is None or not owned_by(existing.user_id, request.user_id):
                raise SessionNotFoundError.for_id(session_id) from None
            return existing
        await self._enqueue(record)
        return record

    async def resume_approved(self, agent: str, request: ChatRequest, *, turn_id: str,
                              decisions: list[ApprovalDecision]) -> TurnRecord:
        """Queue the paused turn ``turn_id`` to be resumed with ``decisions`` (kind ``approval``), under its own
        id; a record of an earlier decision on the same turn is queued again."""
        data = approval_data(turn_id, decisions)
        session_id = request.session_id or ""
        existing = await self.turns.get(session_id, turn_id)
        if existing is None:
            return await self.submit(agent, request, kind=APPROVAL, data=data, turn_id=turn_id)
        if not existing.done:
            raise TurnInProgressError(f"Turn {turn_id} is being resumed already; follow it at its status URL.")

        def requeue(current: TurnRecord) -> bool:
            if not current.done:
                return False
            current.status, current.kind, current.data = "queued", APPROVAL, data
            current.response = current.error = current.finished_at = None
            current.claim, current.lease_until, current.history_length, current.attempts = None, None, None, 0
            return True

        record = await self.turns.update(session_id, turn_id, requeue)
        if record is None or record.status != "queued":
            raise TurnInProgressError(f"Turn {turn_id} is being resumed already; follow it at its status URL.")
        await self._enqueue(record)
        return record

    async def settle(self, session_id: str, turn_id: str, response: ChatResponse) -> None:
        """A paused background turn that a decision resumed outside the queue (the JSON or SSE reply): its record
        takes the resumed turn's outcome, so its status route does not stay ``awaiting_approval``."""
        status: TurnStatus = ("completed" if response.status == "success" else "awaiting_approval"
                              if response.status == "awaiting_approval" else "failed")

        def settle(current: TurnRecord) -> bool:
            if current.status != "awaiting_approval":
                return False
            current.status, current.response = status, response.to_dict()
            current.finished_at = time.time()
            return True

        await self.turns.update(session_id, turn_id, settle)

    async def _enqueue(self, record: TurnRecord) -> None:
        """Send the turn's work message; a message that cannot be sent fails the turn and answers 503."""
        try:
            await self._send(TurnMessage(record.session_id, record.turn_id, record.agent))
        except Exception as exc:
            logger.exception("could not enqueue turn %s on %s", record.turn_id, self.queue_name)
            await self._fail_unsent(record)
            raise AgentFrameworkError(
                f"The turn could not be queued ({type(exc).__name__}); check the storage connection "
                f"{self.connection!r} and the queue {self.queue_name!r}, then retry.",
                code="queue_unavailable", status=503) from None

    async def _fail_unsent(self, record: TurnRecord) -> None:
        def fail(current: TurnRecord) -> bool:
            current.status = "failed"
            current.finished_at = time.time()
            current.error = {"code": "queue_unavailable", "message": "The turn could not be queued."}
            return True

        try:
            await self.turns.update(record.session_id, record.turn_id, fail)
        except Exception:
            logger.exception("could not mark unsent turn %s failed", record.turn_id)

    async def get(self, session_id: str, turn_id: str, *, user_id: str | None) -> TurnRecord | None:
        """The turn, for its owner only (anyone else gets ``None``, as if it did not exist)."""
        record = await self.turns.get(session_id, turn_id)
        if record is None or not owned_by(record.user_id, user_id):
            return None
        return record

    async def cancel(self, session_id: str, turn_id: str, *, user_id: str | None) -> TurnRecord | None:
        """Cancel a queued or running turn (a running one stops at its worker's next lease renewal).

        A finished turn is returned unchanged; ``None`` when there is no such turn for this caller.
        """
        if await self.get(session_id, turn_id, user_id=user_id) is None:
            return None

        def cancel(current: TurnRecord) -> bool:
            if current.done:
                return False
            current.status = "cancelled"
            current.finished_at = time.time()
            current.claim = None
            current.lease_until = None
            current.error = {"code": "cancelled", "message": "The turn was cancelled."}
            return True

        return await self.turns.update(session_id, turn_id, cancel)

    # Queue triggers ---------------------------------------------------------------------------------------
    async def handle_message(self, body: bytes | str, dequeue_count: int | None = None) -> str:
        return await self.worker.handle(body, dequeue_count)

    async def handle_poison(self, body: bytes | str) -> str:
        return await self.worker.handle_poison(body, poison_queue_name(self.queue_name))

    def register(self, app: func.FunctionApp) -> None:
        """Add the work-queue trigger and the poison-queue trigger to ``app``."""
        import azure.functions as func

        async def agent_turns(msg: func.QueueMessage) -> None:
            await self.handle_message(msg.get_body(), msg.dequeue_count)

        async def agent_turns_poison(msg: func.QueueMessage) -> None:
            await self.handle_poison(msg.get_body())

        for handler, name, queue in ((agent_turns, WORK_FUNCTION, self.queue_name),
                                     (agent_turns_poison, POISON_FUNCTION, poison_queue_name(self.queue_name))):
            # The worker reads the binding's type from the annotation; make it a class, not a string.
            handler.__annotations__ = {"msg": func.QueueMessage, "return": None}
            decorated = app.queue_trigger(arg_name="msg", queue_name=queue, connection=self.connection)(handler)
            app.function_name(name=name)(decorated)

    async def aclose(self) -> None:
        queues, self._queues = self._queues, None
        if queues is not None:
            await queues.aclose()


_BY_STORE: weakref.WeakKeyDictionary[SessionStore, BackgroundTurns] = weakref.WeakKeyDictionary()


def background_of(session_store: SessionStore) -> BackgroundTurns | None:
    """The background work of the app whose session store is ``session_store`` (the last one created), so
    a part of the app built before it (the A2A server) can queue work through it."""
    return _BY_STORE.get(session_store)


def _check_queue_name(name: str) -> None:
    """Storage queue names: 3-63 lower-case letters, digits and single hyphens, not at either end."""
    ok = (3 <= len(name) <= 57 and name[0].isalnum() and name[-1].isalnum() and "--" not in name
          and all(c.islower() or c.isdigit() or c == "-" for c in name))
    if not ok:
        raise ValueError(f"queue name {name!r} must be 3-57 characters of lower-case letters, digits and single "
                         "hyphens, starting and ending with a letter or digit (its poison queue adds '-poison')")
