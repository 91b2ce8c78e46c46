"""A2A tasks as background work (``kind`` ``a2a`` of a turn record): what the queue-triggered worker runs.

A non-blocking send stores its task as ``submitted`` and queues a turn record of this kind (``endpoint.py``);
the worker claims the record as it claims any turn (lease, retries, poison queue) and calls ``A2ATasks.run``,
which runs the task through the SDK's request handler with the task store, event log and push notifications
of the endpoint, so clients see the same task updates wherever it runs. If the worker gives the turn up, the
task ends ``failed`` with the reason.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..background.records import TurnRecord
    from ..runner import Runner
    from ..sessions.base import SessionStore
    from ..types import ChatResponse

logger = logging.getLogger("azurefunctions.agents.a2a")


class A2ATasks:
    """The ``TurnKind`` of queued A2A tasks."""

    async def run(self, runner: Runner, record: TurnRecord, store: SessionStore,
                  recovered: ChatResponse | None) -> ChatResponse:
        from .cards import build_card
        from .endpoint import A2AEndpoint

        card = build_card(runner.agent, base_url="", auth_level="ANONYMOUS", push_notifications=True)
        endpoint = A2AEndpoint(runner, store, card, max_body_bytes=0, recovered=recovered, lease_tasks=False)
        try:
            return await endpoint.run_queued(record)
        finally:
            await endpoint.aclose()  # the task's push notifications are delivered before the invocation ends

    async def abandoned(self, record: TurnRecord, store: SessionStore, error: dict[str, str]) -> None:
        """The worker gave the task up: it ends ``failed`` with the reason (unless it ended meanwhile)."""
        from a2a.server.cluster.task_store import ConcurrentTaskModificationError
        from a2a.server.context import ServerCallContext
        from a2a.types.a2a_pb2 import Part, Role, Task, TaskState, TaskStatus, TaskStatusUpdateEvent

        from .endpoint import Owner
        from .push import PushSender
        from .store import TERMINAL, SessionPushConfigStore, SessionTaskStore

        data = record.data or {}
        task_id = str(data.get("task_id") or record.turn_id)
        context = ServerCallContext(user=Owner(str(data.get("owner") or "")))
        tasks = SessionTaskStore(store, record.agent)
        for _ in range(3):
            stored = await tasks.get(task_id, context)
            if stored is None or stored.task.status.state in TERMINAL:
                return
            status = TaskStatus(state=TaskState.TASK_STATE_FAILED)
            status.timestamp.FromDatetime(datetime.now(UTC))
            status.message.role = Role.ROLE_AGENT
            status.message.message_id = f"{task_id}-abandoned"
            status.message.parts.append(Part(text=error.get("message", "The task could not be run.")))
            status.message.metadata.update({"code": error.get("code", "turn_failed")})
            failed = Task()
            failed.CopyFrom(stored.task)
            if failed.status.HasField("message"):
                failed.history.append(failed.status.message)
            failed.status.CopyFrom(status)
            event = TaskStatusUpdateEvent(task_id=task_id, context_id=failed.context_id, status=status)
            try:
                await tasks.save(failed, event=event, prev=stored.task, prev_version=stored.version,
                                 context=context)
            except ConcurrentTaskModificationError:
                continue
            push = PushSender(SessionPushConfigStore(store, record.agent), task_reader=tasks.read_unscoped)
            try:
                await push.send_notification(task_id, event)
            finally:
                await push.aclose()
            logger.warning("A2A task %s failed: %s", task_id, error.get("message"))
            return


#: The instance ``background/kinds.py`` names.
A2A_TASKS = A2ATasks()
