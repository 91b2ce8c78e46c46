"""A session store created on first use, so indexing a Function App opens no database or network client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..messages import Message
from .base import HistoryPage, Session, SessionStore

if TYPE_CHECKING:
    from ..storage import DocumentStore


class LazySessionStore(SessionStore):
    def __init__(self) -> None:
        self._store: SessionStore | None = None

    @property
    def store(self) -> SessionStore:
        if self._store is None:
            from . import create_session_store

            self._store = create_session_store()
        return self._store

    @property
    def idle_ttl_seconds(self) -> float | None:
        return self.store.idle_ttl_seconds

    @property
    def events_ttl_seconds(self) -> float | None:
        return self.store.events_ttl_seconds

    def documents(self) -> DocumentStore | None:
        return self.store.documents()

    async def load(self, session_id: str) -> Session | None:
        return await self.store.load(session_id)

    async def save(self, session: Session) -> Session:
        return await self.store.save(session)

    async def delete(self, session_id: str) -> bool:
        return await self.store.delete(session_id)

    async def load_recent(self, session_id: str, limit: int | None) -> Session | None:
        return await self.store.load_recent(session_id, limit)

    async def append(self, session: Session, added: Sequence[Message]) -> Session:
        return await self.store.append(session, added)

    async def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage | None:
        return await self.store.read_history(session_id, offset, limit)

    async def aclose(self) -> None:
        if self._store is not None:
            await self._store.aclose()
