"""In-process session store, for tests and single-process runs.

It follows the same contract as the persistent stores (ETags, expiry, id rules), so code tested against it
behaves the same on SQLite and Cosmos DB; it just forgets everything when the process ends.

Like them it keeps a session's head (owner, agent, metadata) apart from its history, and the history as
message records (``Message.to_dict``) that callers cannot mutate: a turn copies out its window and appends
the records it added, so its cost does not grow with the conversation.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..errors import SessionBusyError
from ..messages import Message
from ..storage import MemoryDocumentStore
from .base import HistoryPage, Session, SessionStore, check_page, check_whole
from .events import DEFAULT_EVENTS_TTL_SECONDS
from .ids import check_session_id


class MemorySessionStore(SessionStore):
    def __init__(self, ttl_seconds: float | None = None, *, clock: Callable[[], float] = time.time,
                 events_ttl_seconds: float | None = DEFAULT_EVENTS_TTL_SECONDS) -> None:
        """``ttl_seconds``: idle sessions expire after this long (``None``: never); ``clock``: wall time;
        ``events_ttl_seconds``: how long stream event batches are kept (``None``: as long as the session)."""
        # The head of each session (``messages`` always empty) and its history as message records.
        self._items: dict[str, Session] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._events_ttl = events_ttl_seconds if events_ttl_seconds is not None and events_ttl_seconds > 0 else None
        self._lock = asyncio.Lock()
        self._ttl = ttl_seconds if ttl_seconds is not None and ttl_seconds > 0 else None
        self._clock = clock
        self._documents = MemoryDocumentStore(clock=clock)

    @property
    def idle_ttl_seconds(self) -> float | None:
        return self._ttl

    @property
    def events_ttl_seconds(self) -> float | None:
        return self._events_ttl

    def documents(self) -> MemoryDocumentStore:
        """Other records kept with these sessions; a session's partition goes when it is deleted."""
        return self._documents

    def _expired(self, session: Session) -> bool:
        return self._ttl is not None and session.updated_at + self._ttl <= self._clock()

    def _current(self, session_id: str) -> Session | None:
        stored = self._items.get(session_id)
        if stored is not None and self._expired(stored):
            del self._items[session_id]
            self._history.pop(session_id, None)
            return None
        return stored

    def _copy(self, head: Session, start: int) -> Session:
        records = self._history.get(head.id, [])
        start = min(max(0, start), len(records))
        return replace(head, metadata=copy.deepcopy(head.metadata) if head.metadata else {},
                       messages=[Message.from_dict(record) for record in records[start:]], history_start=start)

    async def load(self, session_id: str) -> Session | None:
        stored = self._current(check_session_id(session_id))
        return None if stored is None else self._copy(stored, 0)

    async def load_recent(self, session_id: str, limit: int | None) -> Session | None:
        stored = self._current(check_session_id(session_id))
        if stored is None:
            return None
        return self._copy(stored, 0 if limit is None else len(self._history.get(session_id, [])) - limit)

    async def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage | None:
        check_page(offset, limit)
        stored = self._current(check_session_id(session_id))
        if stored is None:
            return None
        records = self._history.get(session_id, [])
        end = len(records) if limit is None else offset + limit
        return HistoryPage(session=self._copy(stored, len(records)),
                           messages=[Message.from_dict(record) for record in records[offset:end]],
                           offset=offset, total=len(records))

    def _check_version(self, session: Session, session_id: str) -> Session | None:
        current = self._current(session_id)
        if session.etag is None and current is not None:
            raise SessionBusyError(f"session {session_id} was created by another request")
        if session.etag is not None and (current is None or current.etag != session.etag):
            raise SessionBusyError(f"session {session_id} was changed by another request; retry the turn")
        return current

    def _commit(self, session: Session, session_id: str) -> Session:
        """Store the head (a copy without messages); returns a copy the caller may keep."""
        head = Session(id=session_id, user_id=session.user_id, active_agent=session.active_agent,
                       metadata=copy.deepcopy(session.metadata) if session.metadata else {},
                       created_at=session.created_at, updated_at=self._clock(), etag=uuid.uuid4().hex)
        self._items[session_id] = head
        return replace(head, metadata=copy.deepcopy(head.metadata) if head.metadata else {})

    @staticmethod
    def _records(messages: Sequence[Message]) -> list[dict[str, Any]]:
        """Message records the caller cannot change through its own objects."""
        records = [message.to_dict() for message in messages]
        for record in records:
            if "tool_calls" in record:
                record["tool_calls"] = copy.deepcopy(record["tool_calls"])
        return records

    async def save(self, session: Session) -> Session:
        session_id = check_session_id(session.id)
        check_whole(session)
        async with self._lock:
            self._check_version(session, session_id)
            records = self._records(session.messages)
            saved = self._commit(session, session_id)
            self._history[session_id] = records
            saved.messages = list(session.messages)
            return saved

    async def append(self, session: Session, added: Sequence[Message]) -> Session:
        session_id = check_session_id(session.id)
        async with self._lock:
            self._check_version(session, session_id)
            if session.etag is None:
                check_whole(session)
                history = self._records(session.messages)
            else:
                history = self._history.get(session_id, [])
                if len(history) != session.history_length:
                    raise SessionBusyError(
                        f"session {session_id} was changed by another request; retry the turn")
            records = self._records(added)
            saved = self._commit(session, session_id)
            self._history[session_id] = history
            history.extend(records)
            saved.messages = [*session.messages, *added]
            saved.history_start = session.history_start
            return saved

    async def delete(self, session_id: str) -> bool:
        session_id = check_session_id(session_id)
        async with self._lock:
            self._documents.drop_partition(session_id)
            existed = self._current(session_id) is not None
            self._items.pop(session_id, None)
            self._history.pop(session_id, None)
            return existed
