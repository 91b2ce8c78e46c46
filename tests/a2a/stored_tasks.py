"""What the tests of the A2A task store share: a signed-in caller, a task stamped at a given time, and task
writes and reads made as the a2a-sdk makes them (a write from the version last read)."""

from __future__ import annotations

import uuid

from a2a.auth.user import User
from a2a.server.cluster.version import TaskVersion
from a2a.server.context import ServerCallContext
from a2a.types.a2a_pb2 import Task, TaskStatus
from google.protobuf.timestamp_pb2 import Timestamp

from azurefunctions.agents.a2a.store import SessionTaskStore


class NamedUser(User):
    """A signed-in caller: tasks are kept per user name."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def user_name(self) -> str:
        return self._name


def task_at(state: int, seconds: int, context_id: str = "ctx") -> Task:
    """A new task in ``state``, its status stamped ``seconds`` after a fixed instant (listing order is by time)."""
    stamp = Timestamp()
    stamp.FromSeconds(1_800_000_000 + seconds)
    return Task(id=uuid.uuid4().hex, context_id=context_id, status=TaskStatus(state=state, timestamp=stamp))


async def put(store: SessionTaskStore, task: Task, context: ServerCallContext) -> TaskVersion:
    """A task write as the SDK makes it: from the version last read."""
    stored = await store.get(task.id, context)
    return await store.save(task, event=None, prev=stored.task if stored else None,
                            prev_version=stored.version if stored else TaskVersion.MISSING, context=context)


async def read(store: SessionTaskStore, task_id: str, context: ServerCallContext) -> Task | None:
    stored = await store.get(task_id, context)
    return stored.task if stored is not None else None
