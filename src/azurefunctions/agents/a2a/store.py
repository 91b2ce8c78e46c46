"""A2A tasks and push-notification configs kept with the app's session store.

State lives outside the process so that any instance (or a second local process) answers ``GetTask`` and
``ListTasks`` for a task another one ran. The session store is the app's one store (Cosmos DB in Azure,
SQLite locally); tasks are documents of its document store (``SessionStore.documents``, DESIGN.md "Store
layout"):

* a task document: partition key = the task id, id ``a2a:task``. It holds the task as ProtoJSON, its agent,
  its owner, its *version* (a counter of writes), the task's most recent events each with the version it
  produced (what ``SubscribeToTask`` on another instance replays and follows, see ``stream.py``), and its
  push-notification configs (so a config lives in its task's partition and goes with it);
* an index entry per task, partition key ``a2a:tasks:<agent>``, id ``task:<task id>``: its context id, state,
  status time and owner, which is what ``ListTasks`` filters and sorts on before reading the page's tasks.
  Entries are documents of their own, so no item grows with the number of tasks and none falls out.

Earlier versions kept a task as a session item (its ``metadata["a2a"]``) and an agent's index as one session
item ``a2a:tasks:<agent>`` capped at ``MAX_INDEXED_TASKS`` entries: those are still read (a task moves to
its document at its first write; the old index's entries count until a newer entry replaces them). A custom
session store that offers no document store keeps that layout.

Writes are optimistic (the store's etags): a writer that loses a race reloads and re-applies only its own
part (the task, a config, an index entry), so task updates and config changes never undo each other. On top
of that a task write names the version it was derived from (the SDK's ``VersionedTaskStore``): a write from a
stale version fails, except a write to ``canceled``, which is how ``CancelTask`` on one instance stops a task
running on another (its next write fails, and its runner sees the task canceled).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from a2a.server.cluster.task_store import ConcurrentTaskModificationError, StoredTask, VersionedTaskStore
from a2a.server.cluster.version import TaskVersion
from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event
from a2a.server.owner_resolver import OwnerResolver, resolve_user_scope
from a2a.server.tasks.push_notification_config_store import (
    PushNotificationConfigStore,
    normalize_push_notification_config,
)
from a2a.types.a2a_pb2 import (
    ListTasksRequest,
    ListTasksResponse,
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskPushNotificationConfig,
    TaskState,
    TaskStatusUpdateEvent,
)
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE
from a2a.utils.errors import InvalidParamsError
from a2a.utils.proto_utils import to_stream_response
from a2a.utils.task import ListTasksCursor, decode_list_tasks_cursor, encode_list_tasks_cursor
from google.protobuf.json_format import MessageToDict, ParseDict

from .. import settings
from ..errors import InvalidRequestError, SessionBusyError
from ..sessions.base import Session, SessionStore
from ..sessions.ids import check_session_id
from ..storage import NEW, DocumentConflictError, DocumentStore

logger = logging.getLogger("azurefunctions.agents.a2a")

#: Key of the A2A part of an item's ``metadata``.
KEY = "a2a"
#: Most tasks an agent's index keeps on a custom session store without documents (the oldest fall out of
#: ``ListTasks``; ``GetTask`` still finds them). The bundled stores keep an index entry per task, uncapped.
MAX_INDEXED_TASKS = 1000
#: Most events a task item keeps for subscribers on other instances (a subscriber that falls further behind
#: gets the task itself instead of the events it missed).
MAX_KEPT_EVENTS = 200
_WRITE_ATTEMPTS = 8
TERMINAL = frozenset({TaskState.TASK_STATE_COMPLETED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED,
                      TaskState.TASK_STATE_REJECTED})
INTERRUPTED = frozenset({TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED})
#: States in which a task is being run by some process (which renews its lease).
LEASED = frozenset({TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING})


def index_id(agent: str) -> str:
    return f"a2a:tasks:{agent}"


def _task(data: dict[str, Any]) -> Task:
    task: Task = ParseDict(data["task"], Task(), ignore_unknown_fields=True)
    return task


def _state(data: dict[str, Any]) -> int | None:
    """The stored task's state, or ``None`` when the item holds no task (yet)."""
    body = data.get("task")
    if not isinstance(body, dict):
        return None
    return int(TaskState.Value(body["status"]["state"])) if body.get("status", {}).get("state") else 0


def _with_exchange(task: Task) -> Task:
    """The task with its current status message in its history (each message once): the history then holds
    the whole exchange, the agent's messages (its answer, its questions) as well as the user's."""
    seen: set[str] = set()
    kept = []
    messages = list(task.history)
    if task.status.HasField("message") and task.status.message.message_id:
        messages.append(task.status.message)
    for message in messages:
        if message.message_id and message.message_id in seen:
            continue
        seen.add(message.message_id)
        kept.append(message)
    if [m.message_id for m in kept] == [m.message_id for m in task.history]:
        return task
    result = Task()
    result.CopyFrom(task)
    del result.history[:]
    result.history.extend(kept)
    return result


def _lease_seconds() -> float:
    return float(settings.get_int(settings.A2A_TASK_LEASE_SECONDS))


def _lease_expired(data: dict[str, Any]) -> bool:
    lease = data.get("lease")
    if not isinstance(lease, dict) or _state(data) not in LEASED:
        return False
    return float(lease.get("until") or 0) < time.time()


def _version_value(version: TaskVersion) -> int:
    value = version._value
    if not isinstance(value, int):
        raise TypeError(f"task versions of this store are integers, got {type(value).__name__}")
    return value


def _status_time_ns(task: Task) -> int:
    if task.HasField("status") and task.status.HasField("timestamp"):
        return int(task.status.timestamp.ToNanoseconds())
    return 0


#: Id of a task's document in its partition (``pk`` = task id), and its kind.
TASK_DOCUMENT = "a2a:task"
#: Id prefix of an agent's index entries in its index partition (``pk`` = ``a2a:tasks:<agent>``).
ENTRY_PREFIX = "task:"


class _Items:
    """Read-modify-write of one item's A2A data with retries on etag conflicts.

    On a store with documents (``SessionStore.documents``: every bundled backend) an item is the document
    ``a2a:task`` of its own partition; an item an earlier version kept as a session item's metadata is read
    from there until its first write moves it. On any other store the item is a session item (metadata
    ``a2a``), written through the session interface.
    """

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self.documents: DocumentStore | None = store.documents()
        # Last copy this process wrote or read, with its version (a session or an etag; NEW: none stored).
        self._known: dict[str, tuple[dict[str, Any], Any]] = {}

    async def _load(self, item_id: str) -> tuple[dict[str, Any] | None, Any]:
        """The item's A2A data (``None``: no item) and the version a write must match."""
        try:
            item_id = check_session_id(item_id)
        except InvalidRequestError:
            raise InvalidParamsError(message="Not a valid task id: 1-128 letters, digits, '-', '_', "
                                             "'.', '@' or ':'.") from None
        if self.documents is not None:
            document = await self.documents.get(item_id, TASK_DOCUMENT)
            if document is not None:
                return document.body, document.etag
            session = await self.store.load(item_id)  # kept by an earlier version
            data = session.metadata.get(KEY) if session is not None else None
            return (dict(data) if isinstance(data, dict) else None), NEW
        session = await self.store.load(item_id)
        data = session.metadata.get(KEY) if session is not None else None
        return (dict(data) if isinstance(data, dict) else None), session or Session(id=item_id)

    async def _store(self, item_id: str, data: dict[str, Any], version: Any) -> Any:
        """Write the item if it is still at ``version``; its new version. ``SessionBusyError`` otherwise."""
        if self.documents is not None:
            try:
                stored = await self.documents.put(item_id, TASK_DOCUMENT, data, kind="a2a_task", if_match=version,
                                                  ttl_seconds=self.store.idle_ttl_seconds)
            except DocumentConflictError:
                raise SessionBusyError(f"A2A item {item_id} was changed by another request") from None
            return stored.etag
        session: Session = version
        session.metadata = {**session.metadata, KEY: data}
        return await self.store.save(session)

    async def read(self, item_id: str) -> dict[str, Any] | None:
        try:
            data, version = await self._load(item_id)
        except InvalidParamsError:
            return None  # not a valid item id, so there is no such task
        if data is None:
            self._known.pop(item_id, None)
            return None
        self._known[item_id] = (data, version)
        return copy.deepcopy(data)

    async def update(self, item_id: str, change: Callable[[dict[str, Any]], bool], *, fresh: bool = False) -> None:
        """Apply ``change`` to the item's A2A data (``{}`` for a new item) and save; ``change`` returns
        ``False`` when there is nothing to write. ``fresh`` reads the item first instead of trusting the copy
        this process last saw (for changes that decide on what is stored, not only write over it)."""
        for attempt in range(_WRITE_ATTEMPTS):
            known = self._known.get(item_id)
            if known is None or attempt > 0 or fresh:
                stored, version = await self._load(item_id)
                known = (stored or {}, version)
            data = copy.deepcopy(known[0])
            if not change(data):
                self._known[item_id] = known
                return
            try:
                self._known[item_id] = (data, await self._store(item_id, data, known[1]))
                return
            except SessionBusyError:
                self._known.pop(item_id, None)
                await asyncio.sleep(0.005 * (attempt + 1))
        raise SessionBusyError(f"A2A item {item_id} kept changing; try again.")

    async def delete(self, item_id: str) -> None:
        """Delete the item and everything kept in its partition."""
        await self.store.delete(item_id)
        if self.documents is not None:
            await self.documents.delete(item_id, TASK_DOCUMENT)  # a store that keeps documents apart
        self.forget(item_id)

    def forget(self, item_id: str) -> None:
        self._known.pop(item_id, None)


class SessionTaskStore(VersionedTaskStore):
    """The SDK's ``VersionedTaskStore`` on the session store, scoped to one agent and to the caller (owner)."""

    def __init__(self, store: SessionStore, agent: str, *, owner_resolver: OwnerResolver = resolve_user_scope,
                 max_indexed: int = MAX_INDEXED_TASKS, max_events: int = MAX_KEPT_EVENTS) -> None:
        self.agent = agent
        self.owner_resolver = owner_resolver
        self.max_indexed = max_indexed
        self.max_events = max_events
        self._items = _Items(store)
        self._indexed: dict[str, list[Any]] = {}  # last index entry this process wrote, per task

    async def save(self, task: Task, *, event: Event | None, prev: Task | None, prev_version: TaskVersion,
                   context: ServerCallContext) -> TaskVersion:
        owner = self.owner_resolver(context)
        body = MessageToDict(_with_exchange(task))
        logged = MessageToDict(to_stream_response(event)) if event is not None else None
        written = 0

        def put(data: dict[str, Any]) -> bool:
            nonlocal written
            if data.get("agent") not in (None, self.agent) or data.get("owner") not in (None, owner):
                raise InvalidParamsError(message=f"Task {task.id} belongs to another agent or caller.")
            current = int(data.get("version") or 0)
            stored_state = _state(data)
            if task.status.state == TaskState.TASK_STATE_CANCELED:
                # Cancel overwrites a live task whatever its version (the runner holding it stops), never a
                # finished or missing one.
                if stored_state is None or stored_state in TERMINAL:
                    raise ConcurrentTaskModificationError(task.id)
            elif prev_version.is_missing:
                if stored_state is not None:
                    raise ConcurrentTaskModificationError(task.id)
            elif current != _version_value(prev_version):
                raise ConcurrentTaskModificationError(task.id)
            written = current + 1
            events = list(data.get("events") or [])
            if logged is not None:
                events.append([written, logged])
            if len(events) > self.max_events:
                data["events_dropped"] = int(events[-self.max_events - 1][0])
                events = events[-self.max_events:]
            data.update(kind="task", agent=self.agent, owner=owner, task=body, version=written, events=events)
            lease = data.get("lease")
            if task.status.state not in LEASED:
                data.pop("lease", None)  # finished, or waiting for input: nothing runs it now
            elif isinstance(lease, dict):  # the writer runs it: it is alive
                lease["until"] = max(float(lease.get("until") or 0), time.time() + _lease_seconds())
            return True

        try:
            await self._items.update(task.id, put)
        except ConcurrentTaskModificationError:
            await self._items.update(task.id, put, fresh=True)  # the copy this process knew may be stale
        entry = [task.context_id, int(task.status.state), _status_time_ns(task), owner]
        if self._indexed.get(task.id) != entry:
            await self._index(task.id, entry)
            self._indexed[task.id] = entry
        if task.status.state in TERMINAL:
            self._indexed.pop(task.id, None)
            self._items.forget(task.id)
        return TaskVersion(written)

    async def get(self, task_id: str, context: ServerCallContext) -> StoredTask | None:
        data = await self._items.read(task_id)
        if not self._visible(data, context):
            return None
        assert data is not None
        stored = StoredTask(_task(data), TaskVersion(int(data.get("version") or 0)))
        if _lease_expired(data):
            return await self._expire(stored, context)
        return stored

    async def renew_lease(self, task_id: str, seconds: float, instance: str) -> bool:
        """Mark the task as running in ``instance`` for ``seconds`` more; False when it is not (yet, or
        any more) a live task."""
        renewed = False

        def put(data: dict[str, Any]) -> bool:
            nonlocal renewed
            state = _state(data)
            if data.get("agent") != self.agent or state is None or state in TERMINAL:
                return False
            data["lease"] = {"until": time.time() + seconds, "instance": instance}
            renewed = True
            return True

        await self._items.update(task_id, put, fresh=True)
        return renewed

    async def _expire(self, stored: StoredTask, context: ServerCallContext) -> StoredTask | None:
        """A task whose process stopped renewing it (the instance was recycled or scaled in): it ends
        ``failed`` saying so, instead of staying ``working`` for ever."""
        failed = Task()
        failed.CopyFrom(stored.task)
        failed.status.state = TaskState.TASK_STATE_FAILED
        failed.status.timestamp.GetCurrentTime()
        failed.status.message.CopyFrom(Message(
            message_id=f"{stored.task.id}-stopped", role=Role.ROLE_AGENT, task_id=stored.task.id,
            context_id=stored.task.context_id,
            parts=[Part(text="The instance that ran this task stopped before the task finished; send the "
                             "message again.")]))
        failed.status.message.metadata.update({"code": "instance_stopped"})
        event = TaskStatusUpdateEvent(task_id=failed.id, context_id=failed.context_id, status=failed.status)
        try:
            version = await self.save(failed, event=event, prev=stored.task, prev_version=stored.version,
                                      context=context)
        except ConcurrentTaskModificationError:
            data = await self._items.read(stored.task.id)
            if not self._visible(data, context):
                return None
            assert data is not None
            return StoredTask(_task(data), TaskVersion(int(data.get("version") or 0)))
        logger.warning("A2A task %s: its lease expired; reported failed", failed.id)
        return StoredTask(failed, version)

    async def get_task(self, task_id: str, context: ServerCallContext) -> Task | None:
        stored = await self.get(task_id, context)
        return stored.task if stored is not None else None

    async def read_unscoped(self, task_id: str) -> Task | None:
        """The task as stored, whoever owns it (for push deliveries, which the owner's configs asked for)."""
        data = await self._items.read(task_id)
        if data is None or data.get("agent") != self.agent or "task" not in data:
            return None
        return _task(data)

    async def events_after(self, task_id: str, after: int) -> tuple[list[tuple[int, StreamResponse]], Task | None,
                                                                      int, int]:
        """What a subscriber on any instance needs to follow a task: the kept events newer than version
        ``after`` (oldest first), the task as stored (``None`` when there is no such task), its version, and
        the newest version whose event is no longer kept (0 when all are).

        Not scoped to an owner: the caller checked the subscriber may see the task before following it.
        """
        data = await self._items.read(task_id)
        if data is None or data.get("agent") != self.agent or "task" not in data:
            return [], None, 0, 0
        events: list[tuple[int, StreamResponse]] = []
        for version, body in data.get("events") or []:
            if int(version) > after:
                events.append((int(version), ParseDict(body, StreamResponse(), ignore_unknown_fields=True)))
        return events, _task(data), int(data.get("version") or 0), int(data.get("events_dropped") or 0)

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        data = await self._items.read(task_id)
        if not self._visible(data, context):
            return
        await self._items.delete(task_id)
        self._indexed.pop(task_id, None)
        documents = self._items.documents
        if documents is None:
            await self._items.update(index_id(self.agent),
                                     lambda d: d.get("tasks", {}).pop(task_id, None) is not None)
        else:
            # A tombstone rather than nothing: it also hides the task from an index an earlier version kept.
            await documents.put(index_id(self.agent), ENTRY_PREFIX + task_id, {"entry": None}, kind="a2a_entry",
                                ttl_seconds=self._items.store.idle_ttl_seconds)

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        owner = self.owner_resolver(context)
        entries = [(task_id, entry) for task_id, entry in (await self._entries()).items()
                   if entry is not None and entry[3] == owner]
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
        loaded = await asyncio.gather(*(self.get_task(task_id, context) for task_id, _ in page))
        tasks = [task for task in loaded if task is not None]
        return ListTasksResponse(tasks=tasks, next_page_token=next_token, page_size=page_size,
                                 total_size=len(entries))

    # Helpers ----------------------------------------------------------------------------------------------
    def _visible(self, data: dict[str, Any] | None, context: ServerCallContext) -> bool:
        return (data is not None and data.get("kind") == "task" and "task" in data
                and data.get("agent") == self.agent and data.get("owner") == self.owner_resolver(context))

    async def _entries(self) -> dict[str, Any]:
        """The agent's index: task id -> [context id, state, status time (ns), owner], or ``None`` for a
        task deleted since an earlier version indexed it."""
        if self._items.documents is None:
            index = await self._items.read(index_id(self.agent)) or {}
            return dict(index.get("tasks") or {})
        entries = dict((await self._legacy_index() or {}).get("tasks") or {})
        for document in await self._items.documents.list(index_id(self.agent), ENTRY_PREFIX):
            entries[document.id[len(ENTRY_PREFIX):]] = document.body.get("entry")
        return entries

    async def _legacy_index(self) -> dict[str, Any] | None:
        """The index item an earlier version kept as a session item (read only; its entries are overridden
        by the documents written since)."""
        session = await self._items.store.load(index_id(self.agent))
        data = session.metadata.get(KEY) if session is not None else None
        return data if isinstance(data, dict) else None

    async def _index(self, task_id: str, entry: Sequence[Any]) -> None:
        documents = self._items.documents
        if documents is not None:
            # One document per task: no item grows with the number of tasks, and none falls out of the list.
            await documents.put(index_id(self.agent), ENTRY_PREFIX + task_id, {"entry": list(entry)},
                                kind="a2a_entry", ttl_seconds=self._items.store.idle_ttl_seconds)
            return
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
        # Set through an A2A 0.3 method (their names have slashes: tasks/pushNotificationConfig/set,
        # message/send): its webhook gets 0.3 bodies (``push.py``).
        dialect = "0.3" if "/" in str(context.state.get("method") or "") else "1.0"

        def put(data: dict[str, Any]) -> bool:
            if data.get("agent") not in (None, self.agent):
                raise InvalidParamsError(message=f"Task {task_id} belongs to another agent.")
            configs = dict(data.get("push_configs") or {})
            configs[config.id] = {"owner": owner, "config": body, "dialect": dialect}
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

    async def dispatch_targets(self, task_id: str) -> list[tuple[TaskPushNotificationConfig, str]]:
        """Every config of the task with the A2A version (``"1.0"`` or ``"0.3"``) it was set with."""
        data = await self._items.read(task_id)
        if data is None or data.get("agent") != self.agent:
            return []
        return [(ParseDict(item["config"], TaskPushNotificationConfig(), ignore_unknown_fields=True),
                 str(item.get("dialect") or "1.0")) for item in (data.get("push_configs") or {}).values()]

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

