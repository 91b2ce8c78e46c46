"""Where the event log of streamed turns lives: the session store's document store, in the session's partition.

Each batch of a turn's events is one document (``pk`` = session id, ``id`` = ``<session id>:e:<turn>:<batch,
6 digits>``, kind ``events``, body ``EventBatch.to_record()``; see ``sessions/events.py``), beside the session,
its history and its turn records (DESIGN.md "Store layout"), so deleting a session deletes its events. The ids
sort by (turn, batch) and turn keys sort by time, so a reader that resumes after an event lists the batches
from that event's turn on (``list(..., start=...)``), never the older turns the log still holds. A reader
without an event id wants the latest turn: the log's head (``<session id>:e``, kind ``events_head``, written
after a turn's first batch) names the latest turn that started, and the reader lists from that turn on. A head
that is missing (expired, or never written) only costs a read of the whole log.

Batches expire on their own (``SessionStore.events_ttl_seconds``, a day by default; as long as the session
when that is ``None``). Writing a batch again replaces it, so a retried write never duplicates events.

A custom ``SessionStore`` without a document store (``documents()`` returns ``None``) keeps its events itself,
through its own ``append_events`` and ``read_events``, as such stores did before.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..storage.documents import DocumentStore
from .events import (
    EventBatch,
    StreamEvent,
    TurnLog,
    batch_item_id,
    check_events,
    parse_event_id,
    turn_prefix,
    turns_from_batches,
)
from .ids import check_session_id

if TYPE_CHECKING:
    from .base import SessionStore


class EventLog(ABC):
    """The kept events of a session's streamed turns, in batches."""

    @abstractmethod
    async def append(self, session_id: str, turn: str, batch: int, events: Sequence[StreamEvent], *,
                     owner: str | None, final: bool) -> None:
        """Keep batch number ``batch`` of turn ``turn`` (see ``SessionStore.append_events``)."""

    @abstractmethod
    async def read(self, session_id: str, after: str | None = None) -> list[TurnLog]:
        """The kept turns a stream resumes from, oldest first (see ``SessionStore.read_events``)."""


class DocumentEventLog(EventLog):
    """Batches as documents of kind ``events`` in their session's partition of a ``DocumentStore``."""

    KIND = "events"
    HEAD_KIND = "events_head"

    def __init__(self, documents: DocumentStore, ttl_seconds: float | None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.documents = documents
        self.ttl_seconds = ttl_seconds if ttl_seconds is not None and ttl_seconds > 0 else None
        self._clock = clock

    async def append(self, session_id: str, turn: str, batch: int, events: Sequence[StreamEvent], *,
                     owner: str | None, final: bool) -> None:
        session_id = check_session_id(session_id)
        check_events(events, turn)
        record = EventBatch(turn=turn, batch=batch, events=list(events), owner=owner, final=final,
                            written_at=self._clock()).to_record()
        await self.documents.put(session_id, batch_item_id(session_id, turn, batch), record, kind=self.KIND,
                                 ttl_seconds=self.ttl_seconds)
        if batch == 0:  # after the batch, so the head never names a turn with nothing kept
            await self.documents.put(session_id, head_item_id(session_id), {"turn": turn}, kind=self.HEAD_KIND,
                                     ttl_seconds=self.ttl_seconds)

    async def read(self, session_id: str, after: str | None = None) -> list[TurnLog]:
        session_id = check_session_id(session_id)
        # The batches of the turn of ``after`` (without it, of the turn the head names) and of later turns.
        if after is not None:
            start = turn_prefix(session_id, parse_event_id(after)[0])
        else:
            head = await self.documents.get(session_id, head_item_id(session_id))
            turn = head.body.get("turn") if head is not None and head.kind == self.HEAD_KIND else None
            start = turn_prefix(session_id, turn) if isinstance(turn, str) else ""
        found = await self.documents.list(session_id, f"{session_id}:e:", start=start)
        return turns_from_batches([EventBatch.from_record(document.body) for document in found
                                   if document.kind == self.KIND], after)


def head_item_id(session_id: str) -> str:
    """Id of the log's head: outside the batches' ``<session id>:e:`` prefix, so listing them never meets it."""
    return f"{session_id}:e"


class StoreEventLog(EventLog):
    """A session store without a document store: its own ``append_events`` and ``read_events``."""

    def __init__(self, sessions: SessionStore) -> None:
        self.sessions = sessions

    async def append(self, session_id: str, turn: str, batch: int, events: Sequence[StreamEvent], *,
                     owner: str | None, final: bool) -> None:
        await self.sessions.append_events(session_id, turn, batch, events, owner=owner, final=final)

    async def read(self, session_id: str, after: str | None = None) -> list[TurnLog]:
        return await self.sessions.read_events(session_id, after)


def event_log_for(sessions: SessionStore) -> EventLog:
    """The event log kept with ``sessions``' data: in its document store, or through the store's own event
    methods for a store that has none."""
    documents = sessions.documents()
    if documents is None:
        return StoreEventLog(sessions)
    ttl = sessions.events_ttl_seconds
    return DocumentEventLog(documents, ttl if ttl is not None else sessions.idle_ttl_seconds)
