"""The session store interface every backend implements (memory, SQLite, Cosmos DB).

A session is one conversation of an app (not of an agent): its owner, its history in the runtime's message
model, and the agent that answers next. Writes are optimistic: ``save`` succeeds only if the session is still
at the ``etag`` it was loaded with, so two turns on one session, on one instance or on two, never lose an
update; the loser gets ``SessionBusyError``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..messages import Message, history_window
from .events import StreamEvent, TurnLog


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


class SessionStore(ABC):
    """Async storage of sessions with optimistic concurrency."""

    @abstractmethod
    async def load(self, session_id: str) -> Session | None:
        """The session, or ``None`` when it does not exist or has expired."""

    @abstractmethod
    async def save(self, session: Session) -> Session:
        """Create (``etag is None``) or replace (``If-Match`` its ``etag``) the session.

        Returns the session with its new ``etag``. Raises ``SessionBusyError`` when the session was created or
        changed by someone else since it was loaded.
        """

    @abstractmethod
    async def delete(self, session_id: str) -> bool:
        """Delete the session and everything kept with it; ``False`` when there was nothing to delete."""

    # The event log of streamed turns (see ``sessions/events.py``) ------------------------------------------
    @abstractmethod
    async def append_events(self, session_id: str, turn: str, batch: int, events: Sequence[StreamEvent], *,
                            owner: str | None, final: bool) -> None:
        """Keep batch number ``batch`` of turn ``turn`` (its events' ids are ``<turn>-<n>``) with the session.

        Writing the same batch again replaces it. ``owner`` is the user the turn ran for; ``final`` marks the
        turn's last batch. Event batches expire on their own (a day by default), whatever the session's TTL.
        """

    @abstractmethod
    async def read_events(self, session_id: str, after: str | None = None) -> list[TurnLog]:
        """The kept turns a stream resumes from, oldest first (see ``events.turns_from_batches``).

        ``after`` None: the latest turn, whole. An event id: the rest of its turn, then every later turn.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
