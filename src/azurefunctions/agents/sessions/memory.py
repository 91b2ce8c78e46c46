"""In-process session store, for tests and single-process runs.

It follows the same contract as the persistent stores (ETags, expiry, id rules), so code tested against it
behaves the same on SQLite and Cosmos DB; it just forgets everything when the process ends.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Callable, Sequence

from ..errors import SessionBusyError
from ._records import check_session_id
from .base import Session, SessionStore
from .events import (
    DEFAULT_EVENTS_TTL_SECONDS,
    EventBatch,
    StreamEvent,
    TurnLog,
    check_events,
    parse_event_id,
    turns_from_batches,
)


class MemorySessionStore(SessionStore):
    def __init__(self, ttl_seconds: float | None = None, *, clock: Callable[[], float] = time.time,
                 events_ttl_seconds: float | None = DEFAULT_EVENTS_TTL_SECONDS) -> None:
        """``ttl_seconds``: idle sessions expire after this long (``None``: never); ``clock``: wall time;
        ``events_ttl_seconds``: how long stream event batches are kept (``None``: as long as the process)."""
        self._items: dict[str, Session] = {}
        self._events: dict[str, dict[tuple[str, int], EventBatch]] = {}
        self._events_ttl = events_ttl_seconds if events_ttl_seconds is not None and events_ttl_seconds > 0 else None
        self._lock = asyncio.Lock()
        self._ttl = ttl_seconds if ttl_seconds is not None and ttl_seconds > 0 else None
        self._clock = clock

    def _expired(self, session: Session) -> bool:
        return self._ttl is not None and session.updated_at + self._ttl <= self._clock()

    def _current(self, session_id: str) -> Session | None:
        stored = self._items.get(session_id)
        if stored is not None and self._expired(stored):
            del self._items[session_id]
            return None
        return stored

    async def load(self, session_id: str) -> Session | None:
        stored = self._current(check_session_id(session_id))
        return None if stored is None else copy.deepcopy(stored)

    async def save(self, session: Session) -> Session:
        session_id = check_session_id(session.id)
        async with self._lock:
            current = self._current(session_id)
            if session.etag is None and current is not None:
                raise SessionBusyError(f"session {session_id} was created by another request")
            if session.etag is not None and (current is None or current.etag != session.etag):
                raise SessionBusyError(f"session {session_id} was changed by another request; retry the turn")
            saved = copy.deepcopy(session)
            saved.updated_at = self._clock()
            saved.etag = uuid.uuid4().hex
            self._items[session_id] = saved
            return copy.deepcopy(saved)

    async def delete(self, session_id: str) -> bool:
        session_id = check_session_id(session_id)
        async with self._lock:
            self._events.pop(session_id, None)
            return self._current(session_id) is not None and self._items.pop(session_id, None) is not None

    async def append_events(self, session_id: str, turn: str, batch: int, events: Sequence[StreamEvent], *,
                            owner: str | None, final: bool) -> None:
        session_id = check_session_id(session_id)
        check_events(events, turn)
        record = EventBatch(turn=turn, batch=batch, events=list(events), owner=owner, final=final,
                            written_at=self._clock())
        self._events.setdefault(session_id, {})[(turn, batch)] = record

    async def read_events(self, session_id: str, after: str | None = None) -> list[TurnLog]:
        session_id = check_session_id(session_id)
        if after is not None:
            parse_event_id(after)
        batches = self._events.get(session_id, {})
        if self._events_ttl is not None:
            now = self._clock()
            for key in [k for k, b in batches.items() if b.written_at + self._events_ttl <= now]:
                del batches[key]
        return turns_from_batches(list(batches.values()), after)
