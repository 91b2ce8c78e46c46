"""A2A tasks and push-notification configs kept in the app's session store.

State lives outside the process so that any instance (or a second local process) answers ``GetTask`` and
``ListTasks`` for a task another one ran. The session store is the app's one store (Cosmos DB in Azure,
SQLite locally), so tasks use its items:

* a task item: id (and partition key) = the task id; it holds the task as ProtoJSON, its agent, its owner and
  its push-notification configs (so a config lives in its task's partition and goes with it);
* one index item per agent, id ``a2a:tasks:<agent>``: for each task its context id, state, status time and
  owner, which is what ``ListTasks`` filters and sorts on before reading the page's tasks.

Writes are optimistic (the store's etags): a writer that loses a race reloads and re-applies only its own
part (the task, a config, an index entry), so task updates and config changes never undo each other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.owner_resolver import OwnerResolver, resolve_user_scope
from a2a.server.tasks.push_notification_config_store import (
    PushNotificationConfigStore,
    normalize_push_notification_config,
)
from a2a.server.tasks.task_store import TaskStore
from a2a.types.a2a_pb2 import ListTasksRequest, ListTasksResponse, Task, TaskPushNotificationConfig, TaskState
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE
from a2a.utils.errors import InvalidParamsError
from a2a.utils.task import ListTasksCursor, decode_list_tasks_cursor, encode_list_tasks_cursor
from google.protobuf.json_format import MessageToDict, ParseDict

from .. import settings
from ..errors import SessionBusyError
from ..sessions.base import Session, SessionStore

logger = logging.getLogger("azurefunctions.agents.a2a")

#: Key of the A2A part of an item's ``metadata``.
KEY = "a2a"
#: Most tasks an agent's index keeps (the oldest fall out of ``ListTasks``; ``GetTask`` still finds them).
MAX_INDEXED_TASKS = 1000
_WRITE_ATTEMPTS = 8
_TERMINAL = frozenset({TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED,
                       TaskState.TASK_STATE_REJECTED})


def index_id(agent: str) -> str:
    return f"a2a:tasks:{agent}"


def _status_time_ns(task: Task) -> int:
    if task.HasField("status") and task.status.HasField("timestamp"):
        return int(task.status.timestamp.ToNanoseconds())
    return 0


class _Items:
    """Read-modify-write of one item's A2A metadata with retries on etag conflicts."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._known: dict[str, Session] = {}  # last copy this process wrote or read, with its etag

    async def read(self, item_id: str) -> dict[str, Any] | None:
        session = await self.store.load(item_id)
        if session is None:
            self._known.pop(item_id, None)
            return None
        self._known[item_id] = session
        data = session.metadata.get(KEY)
        return data if isinstance(data, dict) else None

    async def update(self, item_id: str, change: Callable[[dict[str, Any]], bool]) -> None:
        """Apply ``change`` to the item's A2A data (``{}`` for a new item) and save; ``change`` returns
        ``False`` when there is nothing to write."""
        for attempt in range(_WRITE_ATTEMPTS):
            session = self._known.get(item_id)
            if session is None or attempt > 0:
                session = await self.store.load(item_id) or Session(id=item_id)
            data = dict(session.metadata.get(KEY) or {})
            if not change(data):
                self._known[item_id] = session
                return
            session.metadata = {**session.metadata, KEY: data}
            try:
                self._known[item_id] = await self.store.save(session)
                return
            except SessionBusyError:
                self._known.pop(item_id, None)
                await asyncio.sleep(0.005 * (attempt + 1))
        raise SessionBusyError(f"A2A item {item_id} kept changing; try again.")

    def forget(self, item_id: str) -> None:
        self._known.pop(item_id, None)


class SessionTaskStore(TaskStore):
    """The SDK's ``TaskStore`` on the session store, scoped to one agent and to the caller (owner)."""

    def __init__(self, store: SessionStore, agent: str, *, owner_resolver: OwnerResolver = resolve_user_scope,
                 max_indexed: int = MAX_INDEXED_TASKS) -> None:
        self.agent = agent
        self.owner_resolver = owner_resolver
        self.max_indexed = max_indexed
        self._items = _Items(store)
        self._indexed: dict[str, list[Any]] = {}  # last index entry this process wrote, per task

    async def save(self, task: Task, context: ServerCallContext) -> None:
        owner = self.owner_resolver(context)
        body = MessageToDict(task)

        def put(data: dict[str, Any]) -> bool:
            if data.get("agent") not in (None, self.agent) or data.get("owner") not in (None, owner):
                raise InvalidParamsError(message=f"Task {task.id} belongs to another agent or caller.")
            data.update(kind="task", agent=self.agent, owner=owner, task=body)
            return True

        await self._items.update(task.id, put)
        entry = [task.context_id, int(task.status.state), _status_time_ns(task), owner]
        if self._indexed.get(task.id) != entry:
            await self._index(task.id, entry)
            self._indexed[task.id] = entry
        if task.status.state in _TERMINAL:
            self._indexed.pop(task.id, None)
            self._items.forget(task.id)

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        data = await self._items.read(task_id)
        if not self._visible(data, context):
            return None
        assert data is not None
        task: Task = ParseDict(data["task"], Task(), ignore_unknown_fields=True)
        return task

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        data = await self._items.read(task_id)
        if not self._visible(data, context):
            return
        await self._items.store.delete(task_id)
        self._items.forget(task_id)
        self._indexed.pop(task_id, None)
        await self._items.update(index_id(self.agent), lambda d: d.get("tasks", {}).pop(task_id, None) is not None)

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        owner = self.owner_resolver(context)
        index = await self._items.read(index_id(self.agent)) or {}
        entries = [(task_id, entry) for task_id, entry in (index.get("tasks") or {}).items() if entry[3] == owner]
        if params.context_id:
            entries = [(i, e) for i, e in entries if e[0] == params.context_id]
        if params.status:
            entries = [(i, e) for i, e in entries if e[1] == int(params.status)]
        if params.HasField("status_timestamp_after"):
            after_ns = params.status_timestamp_after.ToNanoseconds()
            entries = [(i, e) for i, e in entries if e[2] and e[2] >= after_ns]
        entries.sort(key=lambda item: (bool(item[1][2]), item[1][2], item[0]), reverse=True)
        start = 0
        if params.page_token:
            cursor = decode_list_tasks_cursor(params.page_token)
            if cursor is None:
                raise InvalidParamsError(message=f"Invalid page token: {params.page_token}")
            after = cursor.sort_key()
            start = next((n for n, (i, e) in enumerate(entries) if (bool(e[2]), e[2], i) < after), len(entries))
        page_size = params.page_size or DEFAULT_LIST_TASKS_PAGE_SIZE
        page = entries[start:start + page_size]
        next_token = ""
        if start + page_size < len(entries):
            last_id, last = page[-1]
            next_token = encode_list_tasks_cursor(ListTasksCursor(timestamp_ns=last[2] or None, task_id=last_id))
        loaded = await asyncio.gather(*(self.get(task_id, context) for task_id, _ in page))
        tasks = [task for task in loaded if task is not None]
        return ListTasksResponse(tasks=tasks, next_page_token=next_token, page_size=page_size,
                                 total_size=len(entries))

    # Helpers ----------------------------------------------------------------------------------------------
    def _visible(self, data: dict[str, Any] | None, context: ServerCallContext) -> bool:
        return (data is not None and data.get("kind") == "task" and "task" in data
                and data.get("agent") == self.agent and data.get("owner") == self.owner_resolver(context))

    async def _index(self, task_id: str, entry: Sequence[Any]) -> None:
        ttl = settings.get_int(settings.SESSION_TTL_SECONDS)
        horizon_ns = int((time.time() - ttl) * 1e9) if ttl else 0

        def put(data: dict[str, Any]) -> bool:
            tasks: dict[str, Any] = dict(data.get("tasks") or {})
            if tasks.get(task_id) == entry:
                return False
            tasks[task_id] = entry
            if horizon_ns:
                tasks = {i: e for i, e in tasks.items() if not e[2] or e[2] >= horizon_ns or i == task_id}
            if len(tasks) > self.max_indexed:
                newest = sorted(tasks.items(), key=lambda item: (item[1][2], item[0]), reverse=True)
                tasks = dict(newest[: self.max_indexed])
            data.update(kind="task_index", agent=self.agent, tasks=tasks)
            return True

        await self._items.update(index_id(self.agent), put)


class SessionPushConfigStore(PushNotificationConfigStore):
    """Push-notification configs, kept in their task's item (same partition) per owner."""

    def __init__(self, store: SessionStore, agent: str, *,
                 owner_resolver: OwnerResolver = resolve_user_scope) -> None:
        self.agent = agent
        self.owner_resolver = owner_resolver
        self._items = _Items(store)

    async def set_info(self, task_id: str, notification_config: TaskPushNotificationConfig,
                       context: ServerCallContext) -> TaskPushNotificationConfig:
        config = normalize_push_notification_config(task_id, notification_config)
        owner = self.owner_resolver(context)
        body = MessageToDict(config)

        def put(data: dict[str, Any]) -> bool:
            if data.get("agent") not in (None, self.agent):
                raise InvalidParamsError(message=f"Task {task_id} belongs to another agent.")
            configs = dict(data.get("push_configs") or {})
            configs[config.id] = {"owner": owner, "config": body}
            data.update(push_configs=configs)
            data.setdefault("agent", self.agent)
            data.setdefault("kind", "task")
            return True

        await self._items.update(task_id, put)
        return config

    async def get_info(self, task_id: str, context: ServerCallContext) -> list[TaskPushNotificationConfig]:
        return self._configs(await self._items.read(task_id), self.owner_resolver(context))

    async def get_info_for_dispatch(self, task_id: str) -> list[TaskPushNotificationConfig]:
        return self._configs(await self._items.read(task_id), None)

    async def delete_info(self, task_id: str, context: ServerCallContext, config_id: str | None = None) -> None:
        owner = self.owner_resolver(context)

        def drop(data: dict[str, Any]) -> bool:
            configs = dict(data.get("push_configs") or {})
            kept = {cid: c for cid, c in configs.items()
                    if c.get("owner") != owner or (config_id is not None and cid != config_id)}
            if len(kept) == len(configs):
                return False
            data["push_configs"] = kept
            return True

        if await self._items.read(task_id) is not None:
            await self._items.update(task_id, drop)

    def _configs(self, data: dict[str, Any] | None, owner: str | None) -> list[TaskPushNotificationConfig]:
        if data is None or data.get("agent") != self.agent:
            return []
        return [ParseDict(item["config"], TaskPushNotificationConfig(), ignore_unknown_fields=True)
                for item in (data.get("push_configs") or {}).values()
                if owner is None or item.get("owner") == owner]

