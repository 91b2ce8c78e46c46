"""The session store interface every backend implements (memory, SQLite, Cosmos DB).

A session is one conversation of an app (not of an agent): its owner, its history in the runtime's message
model, and the agent that answers next. Writes are optimistic: ``save`` and ``append`` succeed only if the
session is still at the ``etag`` it was loaded with, so two turns on one session, on one instance or on two,
never lose an update; the loser gets ``SessionBusyError``.

A turn's cost must not grow with the conversation: it loads the latest messages only (``load_recent``, the
window its models see) and stores what it added (``append``), never the whole history again. The full history
stays readable page by page (``read_history``). The defaults here are correct for any backend that implements
the abstract methods (they load and save the whole session); the bundled backends override them with reads and
writes whose size depends on the window and on what was added, not on the history's length.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import SessionBusyError
from ..messages import Message, history_window
from .events import DEFAULT_EVENTS_TTL_SECONDS, StreamEvent, TurnLog

if TYPE_CHECKING:
    from ..storage import DocumentStore
    from .event_log import EventLog


@dataclass
class Session:
    id: str
    user_id: str | None = None
    active_agent: str | None = None
    messages: list[Message] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    #: Version token of the stored copy; ``None`` for a session never saved.
    etag: str | None = None
    #: Position of ``messages[0]`` in the whole stored history. Non-zero for a session read with
    #: ``SessionStore.load_recent``: ``messages`` then holds only the latest part of the conversation.
    history_start: int = 0

    @property
    def history_length(self) -> int:
        """Messages in the whole conversation as this copy knows it (those before ``messages`` included)."""
        return self.history_start + len(self.messages)

    def to_dict(self) -> dict[str, Any]:
        """The session as the HTTP API shows it to its owner."""
        return {
            "session_id": self.id,
            "user_id": self.user_id,
            "active_agent": self.active_agent,
            "messages": [m.to_dict() for m in self.messages],
            "metadata": self.metadata,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def recent(self, limit: int | None) -> list[Message]:
        """The last ``limit`` messages, the window of history a model sees (all of them when ``None``).

        The window starts at a user message (see ``history_window``), so it may come out a little shorter.
        """
        return history_window(self.messages, limit)


@dataclass
class HistoryPage:
    """A page of a conversation's history, with the session it belongs to (its ``messages`` may be empty
    or partial: read the history from ``messages``)."""

    session: Session
    messages: list[Message]
    offset: int
    total: int

    @property
    def next_offset(self) -> int | None:
        """Where the next page starts; ``None`` after the last one."""
        end = self.offset + len(self.messages)
        return end if end < self.total else None


def check_whole(session: Session) -> None:
    """``save`` replaces the whole history: refuse a copy that holds only its latest part."""
    if session.history_start:
        raise ValueError(
            f"session {session.id} holds messages from {session.history_start} on only (read with "
            "load_recent); store what a turn added with append, not save"
        )


def check_page(offset: int, limit: int | None) -> None:
    """``ValueError`` naming the argument for a negative offset or limit."""
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be an integer of 0 or more, got {offset!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be an integer of 0 or more, got {limit!r}")


class SessionStore(ABC):
    """Async storage of sessions with optimistic concurrency."""

    @abstractmethod
    async def load(self, session_id: str) -> Session | None:
        """The session, or ``None`` when it does not exist or has expired."""

    @abstractmethod
    async def save(self, session: Session) -> Session:
        """Create (``etag is None``) or replace (``If-Match`` its ``etag``) the session.

        Returns the session with its new ``etag``. Raises ``SessionBusyError`` when the session was created or
        changed by someone else since it was loaded, ``ValueError`` for a session read with ``load_recent``
        that holds part of its history (``history_start`` > 0: write it with ``append``).
        """

    @abstractmethod
    async def delete(self, session_id: str) -> bool:
        """Delete the session and everything kept with it; ``False`` when there was nothing to delete."""

    # The event log of streamed turns (see ``sessions/events.py`` and ``sessions/event_log.py``) ------------
    async def append_events(self, session_id: str, turn: str, batch: int, events: Sequence[StreamEvent], *,
                            owner: str | None, final: bool) -> None:
        """Keep batch number ``batch`` of turn ``turn`` (its events' ids are ``<turn>-<n>``) with the session.

        Writing the same batch again replaces it. ``owner`` is the user the turn ran for; ``final`` marks the
        turn's last batch. Event batches expire on their own (``events_ttl_seconds``), whatever the session's
        TTL. They are kept in ``documents()``; a store without a document store overrides this and
        ``read_events``.
        """
        await self._event_log().append(session_id, turn, batch, events, owner=owner, final=final)

    async def read_events(self, session_id: str, after: str | None = None) -> list[TurnLog]:
        """The kept turns a stream resumes from, oldest first (see ``events.turns_from_batches``).

        ``after`` None: the latest turn, whole. An event id: the rest of its turn, then every later turn.
        """
        return await self._event_log().read(session_id, after)

    def _event_log(self) -> EventLog:
        from .event_log import StoreEventLog, event_log_for  # it reads session ids as this module's records do

        log = event_log_for(self)
        if isinstance(log, StoreEventLog):  # this store has no document store, and no event methods of its own
            raise NotImplementedError(
                f"{type(self).__name__} keeps no stream events: offer documents() or override append_events "
                "and read_events")
        return log

    @property
    def events_ttl_seconds(self) -> float | None:
        """How long stream event batches are kept (``None``: as long as the session, ``idle_ttl_seconds``)."""
        return DEFAULT_EVENTS_TTL_SECONDS

    # Turn-sized access (see the module doc) ----------------------------------------------------------------
    async def load_recent(self, session_id: str, limit: int | None) -> Session | None:
        """The session with only its last ``limit`` messages (all when ``None``); ``history_start`` says
        where they begin. Write it back with ``append``; ``save`` refuses a partial history."""
        session = await self.load(session_id)
        if session is None or limit is None or len(session.messages) <= limit:
            return session
        cut = len(session.messages) - max(0, limit)
        session.history_start += cut
        session.messages = session.messages[cut:]
        return session

    async def append(self, session: Session, added: Sequence[Message]) -> Session:
        """Store ``added`` after the history ``session`` was loaded with, and its other fields (owner,
        active agent, metadata), if the stored session is still at ``session.etag`` (``None``: create it).

        Returns the session with its new ``etag`` and ``messages`` + ``added``. Raises ``SessionBusyError``
        when someone else created or changed the session since it was loaded.
        """
        if session.etag is None:
            if session.history_start:
                raise ValueError("a session that was never saved cannot start after message 0")
            saved = await self.save(replace(session, messages=[*session.messages, *added]))
            return saved
        current = await self.load(session.id)
        if current is None or current.etag != session.etag:
            raise SessionBusyError(f"session {session.id} was changed by another request; retry the turn")
        whole = replace(session, messages=[*current.messages, *added], history_start=0)
        saved = await self.save(whole)
        saved.messages = [*session.messages, *added]
        saved.history_start = session.history_start
        return saved

    async def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage | None:
        """Messages ``offset`` to ``offset + limit`` of the whole conversation (to its end when ``limit`` is
        ``None``) and how many there are; ``None`` when the session does not exist or has expired."""
        check_page(offset, limit)
        session = await self.load(session_id)
        if session is None:
            return None
        end = None if limit is None else offset + limit
        return HistoryPage(session=session, messages=session.messages[offset:end], offset=offset,
                           total=len(session.messages))

    @property
    def idle_ttl_seconds(self) -> float | None:
        """How long an idle session lives (``None``: for ever, or unknown): records kept with sessions,
        such as A2A tasks, expire alike."""
        return None

    def documents(self) -> DocumentStore | None:
        """The document store that keeps other records with this store's sessions (same partitions, same
        file or container), or ``None`` for a store that has none (records then fall back to session items)."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
