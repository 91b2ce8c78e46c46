"""In-process session store, for tests and single-process runs.

It follows the same contract as the persistent stores (ETags, expiry, id rules), so code tested against it
behaves the same on SQLite and Cosmos DB; it just forgets everything when the process ends.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Callable

from ..errors import SessionBusyError
from ._records import check_session_id
from .base import Session, SessionStore


class MemorySessionStore(SessionStore):
    def __init__(self, ttl_seconds: float | None = None, *, clock: Callable[[], float] = time.time) -> None:
        """``ttl_seconds``: idle sessions expire after this long (``None``: never); ``clock``: wall time."""
        self._items: dict[str, Session] = {}
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
            return self._current(session_id) is not None and self._items.pop(session_id, None) is not None
