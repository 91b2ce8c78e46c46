"""Where turn records live: the app's session store, in the session's own partition.

A turn record is one more item of its session (``pk`` = session id, ``id`` = ``turn:<turn id>``), beside the
session item and its stream events (DESIGN.md "Store layout"), so deleting a session deletes its turns and a
turn's reads and writes stay in one logical partition. Each backend gets a small adapter that reuses the
session store's own connection (SQLite file, Cosmos DB container); a custom ``SessionStore`` falls back to
keeping each record as an item of its own through the public session interface.

Every write is a compare-and-swap on the record's etag: that is what lets two deliveries of one queue message,
on one instance or two, agree on which of them runs the turn.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from .. import settings
from ..errors import AgentFrameworkError, SessionBusyError
from ..sessions.base import Session, SessionStore
from .records import TurnRecord, turn_item_id

#: Attempts of a read-modify-write before giving up on a record that keeps changing.
_UPDATE_ATTEMPTS = 8


class TurnConflictError(AgentFrameworkError):
    """The record was created or changed by someone else since it was read."""

    status = 409
    code = "turn_busy"


class TurnStore(ABC):
    """Turn records with optimistic concurrency (etags)."""

    def __init__(self, ttl_seconds: float | None = None) -> None:
        ttl = ttl_seconds if ttl_seconds is not None else float(settings.get_int(settings.TURN_TTL_SECONDS))
        self.ttl_seconds = ttl if ttl > 0 else None

    @abstractmethod
    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        """The record, or ``None`` when there is none (or it expired)."""

    @abstractmethod
    async def create(self, record: TurnRecord) -> TurnRecord:
        """Store a new record; ``TurnConflictError`` when one with its id exists."""

    @abstractmethod
    async def replace(self, record: TurnRecord) -> TurnRecord:
        """Replace the record if it is still at ``record.etag``; ``TurnConflictError`` otherwise."""

    async def update(self, session_id: str, turn_id: str,
                     change: Callable[[TurnRecord], bool]) -> TurnRecord | None:
        """Read, apply ``change`` (which returns ``False`` when there is nothing to write), write; retried on
        conflicts. Returns the record as stored afterwards, or ``None`` when there is no record."""
        for attempt in range(_UPDATE_ATTEMPTS):
            record = await self.get(session_id, turn_id)
            if record is None:
                return None
            if not change(record):
                return record
            record.updated_at = time.time()
            try:
                return await self.replace(record)
            except TurnConflictError:
                await asyncio.sleep(0.01 * (attempt + 1))
        raise TurnConflictError(f"turn {turn_id} of session {session_id} kept changing; try again")

    def _expires_at(self, now: float) -> float | None:
        return None if self.ttl_seconds is None else now + self.ttl_seconds


class MemoryTurnStore(TurnStore):
    """Records in this process (tests, and apps on the in-memory session store)."""

    def __init__(self, ttl_seconds: float | None = None) -> None:
        super().__init__(ttl_seconds)
        self._items: dict[tuple[str, str], tuple[dict[str, Any], str, float | None]] = {}
        self._lock = asyncio.Lock()

    def _current(self, key: tuple[str, str]) -> tuple[dict[str, Any], str, float | None] | None:
        item = self._items.get(key)
        if item is not None and item[2] is not None and item[2] <= time.time():
            del self._items[key]
            return None
        return item

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        item = self._current((session_id, turn_id))
        return None if item is None else TurnRecord.from_record(copy.deepcopy(item[0]), item[1])

    async def create(self, record: TurnRecord) -> TurnRecord:
        key = (record.session_id, record.turn_id)
        async with self._lock:
            if self._current(key) is not None:
                raise TurnConflictError(f"turn {record.turn_id} exists")
            return self._put(key, record)

    async def replace(self, record: TurnRecord) -> TurnRecord:
        key = (record.session_id, record.turn_id)
        async with self._lock:
            current = self._current(key)
            if current is None or current[1] != record.etag:
                raise TurnConflictError(f"turn {record.turn_id} was changed by another worker")
            return self._put(key, record)

    def _put(self, key: tuple[str, str], record: TurnRecord) -> TurnRecord:
        etag = uuid.uuid4().hex
        self._items[key] = (copy.deepcopy(record.to_record()), etag, self._expires_at(time.time()))
        return TurnRecord.from_record(copy.deepcopy(record.to_record()), etag)


_INSERT = """
INSERT INTO items (pk, id, kind, etag, body, updated_at, expires_at)
VALUES (:pk, :id, 'turn', :etag, :body, :now, :expires_at)
ON CONFLICT (pk, id) DO UPDATE SET
    etag = excluded.etag, body = excluded.body, updated_at = excluded.updated_at, expires_at = excluded.expires_at
WHERE items.expires_at IS NOT NULL AND items.expires_at <= :now
"""

_UPDATE = """
UPDATE items SET etag = :etag, body = :body, updated_at = :now, expires_at = :expires_at
WHERE pk = :pk AND id = :id AND etag = :if_match AND (expires_at IS NULL OR expires_at > :now)
"""


class SqliteTurnStore(TurnStore):
    """Rows of the SQLite session store's ``items`` table: ``pk`` = session id, ``kind`` = ``turn``."""

    def __init__(self, sessions: Any, ttl_seconds: float | None = None) -> None:
        super().__init__(ttl_seconds)
        self.sessions = sessions  # a SqliteSessionStore: its connection, its file, its sweeps

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        db = await self.sessions._connection()
        async with db.execute("SELECT etag, body, expires_at FROM items WHERE pk = ? AND id = ? AND kind = 'turn'",
                              (session_id, turn_item_id(turn_id))) as cursor:
            row = await cursor.fetchone()
        if row is None or (row[2] is not None and row[2] <= time.time()):
            return None
        return TurnRecord.from_record(json.loads(row[1]), row[0])

    async def create(self, record: TurnRecord) -> TurnRecord:
        return await self._write(_INSERT, record, None)

    async def replace(self, record: TurnRecord) -> TurnRecord:
        return await self._write(_UPDATE, record, record.etag)

    async def _write(self, statement: str, record: TurnRecord, if_match: str | None) -> TurnRecord:
        db = await self.sessions._connection()
        now = time.time()
        etag = uuid.uuid4().hex
        body = record.to_record()
        params: dict[str, Any] = {"pk": record.session_id, "id": turn_item_id(record.turn_id), "etag": etag,
                                  "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str),
                                  "now": now, "expires_at": self._expires_at(now)}
        if if_match is not None:
            params["if_match"] = if_match
        cursor = await db.execute(statement, params)
        changed = cursor.rowcount
        await cursor.close()
        if changed != 1:
            raise TurnConflictError(f"turn {record.turn_id} was created or changed by another worker")
        return TurnRecord.from_record(body, etag)


class CosmosTurnStore(TurnStore):
    """Items of the Cosmos DB session container: ``pk`` = session id, ``type`` = ``turn``, with a ``ttl``."""

    def __init__(self, sessions: Any, ttl_seconds: float | None = None) -> None:
        super().__init__(ttl_seconds)
        self.sessions = sessions  # a CosmosSessionStore: its client, container and credential

    def _item(self, record: TurnRecord) -> dict[str, Any]:
        item: dict[str, Any] = {"id": turn_item_id(record.turn_id), "pk": record.session_id, "type": "turn",
                                **record.to_record()}
        if self.ttl_seconds is not None:
            item["ttl"] = max(1, int(self.ttl_seconds))
        return item

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        from azure.cosmos import exceptions

        container = await self.sessions._get_container()
        try:
            item = await container.read_item(turn_item_id(turn_id), partition_key=session_id)
        except exceptions.CosmosResourceNotFoundError:
            return None
        ttl = item.get("ttl")
        if isinstance(ttl, int | float) and ttl > 0 and float(item.get("updated_at") or 0) + ttl <= time.time():
            return None
        return TurnRecord.from_record(item, item.get("_etag"))

    async def create(self, record: TurnRecord) -> TurnRecord:
        from azure.cosmos import exceptions

        container = await self.sessions._get_container()
        try:
            stored = await container.create_item(self._item(record))
        except exceptions.CosmosResourceExistsError:
            raise TurnConflictError(f"turn {record.turn_id} exists") from None
        return TurnRecord.from_record(stored, stored.get("_etag"))

    async def replace(self, record: TurnRecord) -> TurnRecord:
        from azure.core import MatchConditions
        from azure.cosmos import exceptions

        container = await self.sessions._get_container()
        try:
            stored = await container.replace_item(turn_item_id(record.turn_id), self._item(record),
                                                  etag=record.etag, match_condition=MatchConditions.IfNotModified)
        except (exceptions.CosmosAccessConditionFailedError, exceptions.CosmosResourceNotFoundError):
            raise TurnConflictError(f"turn {record.turn_id} was changed by another worker") from None
        return TurnRecord.from_record(stored, stored.get("_etag"))


class SessionItemTurnStore(TurnStore):
    """Any other ``SessionStore``: each record is an item of its own (id ``turn:<turn id>``), written through
    the session interface, whose etags give the same compare-and-swap."""

    KEY = "background_turn"

    def __init__(self, sessions: SessionStore, ttl_seconds: float | None = None) -> None:
        super().__init__(ttl_seconds)
        self.sessions = sessions

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        item = await self.sessions.load(turn_item_id(turn_id))
        data = item.metadata.get(self.KEY) if item is not None else None
        if item is None or not isinstance(data, dict) or data.get("session_id") != session_id:
            return None
        return TurnRecord.from_record(data, item.etag)

    async def create(self, record: TurnRecord) -> TurnRecord:
        return await self._save(record, None)

    async def replace(self, record: TurnRecord) -> TurnRecord:
        return await self._save(record, record.etag)

    async def _save(self, record: TurnRecord, etag: str | None) -> TurnRecord:
        item = Session(id=turn_item_id(record.turn_id), user_id=record.user_id,
                       metadata={self.KEY: record.to_record()}, etag=etag)
        try:
            saved = await self.sessions.save(item)
        except SessionBusyError:
            raise TurnConflictError(f"turn {record.turn_id} was created or changed by another worker") from None
        return TurnRecord.from_record(record.to_record(), saved.etag)


_MEMORY: weakref.WeakKeyDictionary[SessionStore, MemoryTurnStore] = weakref.WeakKeyDictionary()


def turn_store_for(sessions: SessionStore, *, ttl_seconds: float | None = None) -> TurnStore:
    """The turn store that keeps records with ``sessions``' data (the backend it wraps, for a lazy store)."""
    from ..sessions.cosmos import CosmosSessionStore
    from ..sessions.lazy import LazySessionStore
    from ..sessions.memory import MemorySessionStore
    from ..sessions.sqlite import SqliteSessionStore

    backend = sessions.store if isinstance(sessions, LazySessionStore) else sessions
    if isinstance(backend, SqliteSessionStore):
        return SqliteTurnStore(backend, ttl_seconds)
    if isinstance(backend, CosmosSessionStore):
        return CosmosTurnStore(backend, ttl_seconds)
    if isinstance(backend, MemorySessionStore):
        # One per session store, so every part of a process sees the same records.
        if backend not in _MEMORY:
            _MEMORY[backend] = MemoryTurnStore(ttl_seconds)
        return _MEMORY[backend]
    return SessionItemTurnStore(backend, ttl_seconds)
