"""Where turn records live: the app's session store, in the session's own partition.

A turn record is one more document of its session (``pk`` = session id, ``id`` = ``turn:<turn id>``, kind
``turn``), beside the session and its stream events (DESIGN.md "Store layout"), so deleting a session deletes
its turns and a turn's reads and writes stay in one logical partition. The records are kept through the
document store the session store offers (``SessionStore.documents``: memory, SQLite, Cosmos DB alike); a custom
``SessionStore`` without one falls back to keeping each record as an item of its own through the public
session interface.

Every write is a compare-and-swap on the record's etag: that is what lets two deliveries of one queue message,
on one instance or two, agree on which of them runs the turn.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from .. import settings
from ..errors import AgentFrameworkError, SessionBusyError
from ..sessions.base import Session, SessionStore
from ..storage import NEW, DocumentConflictError, DocumentStore, IfNew, MemoryDocumentStore
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


class DocumentTurnStore(TurnStore):
    """Records as documents of kind ``turn`` in their session's partition of a ``DocumentStore``."""

    KIND = "turn"

    def __init__(self, documents: DocumentStore, ttl_seconds: float | None = None) -> None:
        super().__init__(ttl_seconds)
        self.documents = documents

    async def get(self, session_id: str, turn_id: str) -> TurnRecord | None:
        document = await self.documents.get(session_id, turn_item_id(turn_id))
        if document is None or document.kind != self.KIND:
            return None
        return TurnRecord.from_record(document.body, document.etag)

    async def create(self, record: TurnRecord) -> TurnRecord:
        return await self._put(record, NEW)

    async def replace(self, record: TurnRecord) -> TurnRecord:
        if not record.etag:
            raise TurnConflictError(f"turn {record.turn_id} was never stored")
        return await self._put(record, record.etag)

    async def _put(self, record: TurnRecord, if_match: str | IfNew) -> TurnRecord:
        try:
            stored = await self.documents.put(record.session_id, turn_item_id(record.turn_id), record.to_record(),
                                              kind=self.KIND, if_match=if_match, ttl_seconds=self.ttl_seconds)
        except DocumentConflictError:
            raise TurnConflictError(
                f"turn {record.turn_id} was created or changed by another worker") from None
        return TurnRecord.from_record(stored.body, stored.etag)


class MemoryTurnStore(DocumentTurnStore):
    """Records in this process, apart from any session store (tests)."""

    def __init__(self, ttl_seconds: float | None = None) -> None:
        super().__init__(MemoryDocumentStore(), ttl_seconds)


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


def turn_store_for(sessions: SessionStore, *, ttl_seconds: float | None = None) -> TurnStore:
    """The turn store that keeps records with ``sessions``' data: in its document store, or as session items
    for a store that has none."""
    documents = sessions.documents()
    if documents is None:
        return SessionItemTurnStore(sessions, ttl_seconds)
    return DocumentTurnStore(documents, ttl_seconds)
