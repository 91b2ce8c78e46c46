"""A session store the runtime has no adapter for: no document store, stream events kept through its own
``append_events`` and ``read_events`` (as a custom store written for earlier versions keeps them)."""

from __future__ import annotations

from collections.abc import Sequence

from azurefunctions.agents.sessions.base import Session, SessionStore
from azurefunctions.agents.sessions.events import StreamEvent, TurnLog
from azurefunctions.agents.sessions.memory import MemorySessionStore


class PlainStore(SessionStore):
    """Sessions (with etags, as every store must) and stream events kept in an inner memory store; ``calls``
    names the event methods called, in order."""

    def __init__(self) -> None:
        self.inner = MemorySessionStore()
        self.calls: list[str] = []

    async def load(self, session_id: str) -> Session | None:
        return await self.inner.load(session_id)

    async def save(self, session: Session) -> Session:
        return await self.inner.save(session)

    async def delete(self, session_id: str) -> bool:
        return await self.inner.delete(session_id)

    async def append_events(self, session_id: str, turn: str, batch: int, events: Sequence[StreamEvent], *,
                            owner: str | None, final: bool) -> None:
        self.calls.append("append_events")
        await self.inner.append_events(session_id, turn, batch, events, owner=owner, final=final)

    async def read_events(self, session_id: str, after: str | None = None) -> list[TurnLog]:
        self.calls.append("read_events")
        return await self.inner.read_events(session_id, after)
