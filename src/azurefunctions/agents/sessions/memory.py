"""In-process session store, for tests and single-process runs."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid

from ..errors import SessionBusyError
from .base import Session, SessionStore


class MemorySessionStore(SessionStore):
    def __init__(self, ttl_seconds: float | None = None) -> None:
        self._items: dict[str, Session] = {}
        self._lock = asyncio.Lock()
        self._ttl = ttl_seconds

    def _expired(self, session: Session) -> bool:
        return self._ttl is not None and session.updated_at + self._ttl < time.time()

    async def load(self, session_id: str) -> Session | None:
        stored = self._items.get(session_id)
        if stored is None or self._expired(stored):
            return None
        return copy.deepcopy(stored)

    async def save(self, session: Session) -> Session:
        async with self._lock:
            current = self._items.get(session_id := session.id)
            if current is not None and self._expired(current):
                current = None
            if session.etag is None and current is not None:
                raise SessionBusyError(f"session {session_id} was created by another request")
            if session.etag is not None and (current is None or current.etag != session.etag):
                raise SessionBusyError(f"session {session_id} was changed by another request; retry the turn")
            saved = copy.deepcopy(session)
            saved.updated_at = time.time()
            saved.etag = uuid.uuid4().hex
            self._items[session_id] = saved
            return copy.deepcopy(saved)

    async def delete(self, session_id: str) -> bool:
        async with self._lock:
            return self._items.pop(session_id, None) is not None
