"""A2A tasks on every bundled backend (memory, SQLite file, Cosmos DB through ``@vercel/cosmosdb-server``):
kept as documents, listed without a cap, shared by two instances, readable in the layout of earlier versions."""

from __future__ import annotations

import uuid

from a2a.server.cluster.version import TaskVersion
from a2a.server.context import ServerCallContext
from a2a.types.a2a_pb2 import ListTasksRequest, Task, TaskState
from google.protobuf.json_format import MessageToDict
from tests.a2a.stored_tasks import NamedUser, put, task_at
from tests.sessions.conftest import Backend

from azurefunctions.agents.a2a.store import SessionTaskStore
from azurefunctions.agents.sessions import Session


async def test_tasks_are_listed_without_a_cap_by_any_instance(backend: Backend) -> None:
    agent = f"Agent{uuid.uuid4().hex[:8]}"
    alice = ServerCallContext(user=NamedUser("alice"))
    first = SessionTaskStore(backend.make(), agent, max_indexed=3)
    second = SessionTaskStore(backend.make(), agent, max_indexed=3)  # another instance over the same data
    tasks = [task_at(TaskState.TASK_STATE_COMPLETED, n) for n in range(6)]
    for n, task in enumerate(tasks):
        await put(first if n % 2 else second, task, alice)
    listed = await second.list(ListTasksRequest(), alice)
    assert [t.id for t in listed.tasks] == [t.id for t in reversed(tasks)] and listed.total_size == 6
    page = await first.list(ListTasksRequest(page_size=4), alice)
    rest = await first.list(ListTasksRequest(page_size=4, page_token=page.next_page_token), alice)
    assert [t.id for t in [*page.tasks, *rest.tasks]] == [t.id for t in reversed(tasks)]
    assert (await first.list(ListTasksRequest(), ServerCallContext(user=NamedUser("bob")))).tasks == []
    await second.delete(tasks[0].id, alice)
    assert await first.get(tasks[0].id, alice) is None
    assert (await first.list(ListTasksRequest(), alice)).total_size == 5


async def test_a_task_kept_as_a_session_item_by_an_earlier_version_is_read_and_moved_on_write(
        backend: Backend) -> None:
    agent = f"Agent{uuid.uuid4().hex[:8]}"
    alice = ServerCallContext(user=NamedUser("alice"))
    sessions = backend.make()
    task = task_at(TaskState.TASK_STATE_WORKING, 1)
    await sessions.save(Session(id=task.id, metadata={"a2a": {
        "kind": "task", "agent": agent, "owner": "alice", "task": MessageToDict(task), "version": 2}}))
    entry = [task.context_id, int(task.status.state), task.status.timestamp.ToNanoseconds(), "alice"]
    await sessions.save(Session(id=f"a2a:tasks:{agent}", metadata={"a2a": {
        "kind": "task_index", "agent": agent, "tasks": {task.id: entry}}}))
    store = SessionTaskStore(backend.make(), agent)
    stored = await store.get(task.id, alice)
    assert stored is not None and stored.task == task and stored.version == TaskVersion(2)
    assert [t.id for t in (await store.list(ListTasksRequest(), alice)).tasks] == [task.id]
    done = Task()
    done.CopyFrom(task)
    done.status.state = TaskState.TASK_STATE_COMPLETED
    assert await put(store, done, alice) == TaskVersion(3)
    reread = await SessionTaskStore(backend.make(), agent).get(task.id, alice)
    assert reread is not None and reread.task == done and reread.version == TaskVersion(3)
    assert [t.status.state for t in (await store.list(ListTasksRequest(), alice)).tasks] == [
        TaskState.TASK_STATE_COMPLETED]
