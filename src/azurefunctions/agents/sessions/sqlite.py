"""The embedded session store used locally: one SQLite file, shared safely by several processes.

Every write is a single conditional statement (insert-if-absent, or update-where-etag-matches), so SQLite's
own file locking makes the compare-and-swap atomic across connections and processes; WAL mode lets readers
proceed while a writer commits, and a busy timeout makes a writer wait for the lock instead of failing.
SQLite answers "database is locked" without calling its busy handler where waiting could deadlock (two
connections both upgrading a read lock, e.g. switching a fresh file to WAL at once); those are retried with
backoff within the same time budget (``_wait_for_lock``).

The table mirrors the Cosmos DB container (DESIGN.md "Store layout"): rows are keyed by ``(pk, id)`` and a
session row has ``pk = id = session id``, so anything else kept with a session (under its ``pk``) goes when
the session is deleted. SQLite has no item size limit, so the whole history stays in the session row.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .. import settings
from ..errors import ConfigurationError, SessionBusyError
from ._records import (
    FROM_SETTINGS,
    FromSettings,
    check_session_id,
    messages_to_records,
    resolve_ttl,
    session_body,
    session_from_records,
)
from .base import Session, SessionStore
from .events import (
    DEFAULT_EVENTS_TTL_SECONDS,
    EventBatch,
    StreamEvent,
    TurnLog,
    batch_item_id,
    check_events,
    parse_event_id,
    turn_prefix,
    turns_from_batches,
)

if TYPE_CHECKING:
    import aiosqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    etag TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at REAL NOT NULL,
    expires_at REAL,
    PRIMARY KEY (pk, id)
);
CREATE INDEX IF NOT EXISTS items_expires_at ON items (expires_at) WHERE expires_at IS NOT NULL;
"""

_CREATE = """
INSERT INTO items (pk, id, kind, etag, body, updated_at, expires_at)
VALUES (:pk, :id, 'session', :etag, :body, :now, :expires_at)
ON CONFLICT (pk, id) DO UPDATE SET
    kind = excluded.kind, etag = excluded.etag, body = excluded.body,
    updated_at = excluded.updated_at, expires_at = excluded.expires_at
WHERE items.expires_at IS NOT NULL AND items.expires_at <= :now
"""

_REPLACE = """
UPDATE items SET etag = :etag, body = :body, updated_at = :now, expires_at = :expires_at
WHERE pk = :pk AND id = :id AND etag = :if_match AND (expires_at IS NULL OR expires_at > :now)
"""


_PUT_EVENTS = """
INSERT INTO items (pk, id, kind, etag, body, updated_at, expires_at)
VALUES (:pk, :id, 'events', :etag, :body, :now, :expires_at)
ON CONFLICT (pk, id) DO UPDATE SET
    etag = excluded.etag, body = excluded.body, updated_at = excluded.updated_at, expires_at = excluded.expires_at
"""

_LATEST_TURN = """
SELECT id FROM items WHERE pk = ? AND kind = 'events' AND (expires_at IS NULL OR expires_at > ?)
ORDER BY id DESC LIMIT 1
"""

_EVENTS_FROM = """
SELECT body FROM items WHERE pk = ? AND kind = 'events' AND id >= ? AND (expires_at IS NULL OR expires_at > ?)
ORDER BY id
"""

_T = TypeVar("_T")
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _is_lock_error(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


async def _wait_for_lock(operation: Callable[[], Awaitable[_T]], timeout_seconds: float) -> _T:
    """Run ``operation`` (statements that have no effect when they fail), retrying with jittered exponential
    backoff while SQLite reports the file locked, for up to ``timeout_seconds``."""
    deadline = time.monotonic() + timeout_seconds
    delay = 0.005
    while True:
        try:
            return await operation()
        except sqlite3.OperationalError as exc:
            if not _is_lock_error(exc) or time.monotonic() + delay > deadline:
                raise
        await asyncio.sleep(random.uniform(delay / 2, delay))
        delay = min(delay * 2, 0.25)


def default_path() -> Path:
    """The SQLite file from ``AGENTS_SESSION_DB``, relative to the current directory when relative."""
    raw = settings.SESSION_DB_PATH.get() or ".agents-data/sessions.sqlite3"
    return Path(raw).expanduser()


class SqliteSessionStore(SessionStore):
    """Sessions in a local SQLite file (``aiosqlite``, extra ``sqlite``)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        ttl_seconds: float | FromSettings | None = FROM_SETTINGS,
        busy_timeout_seconds: float = 30.0,
        sweep_interval_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
        events_ttl_seconds: float | None = DEFAULT_EVENTS_TTL_SECONDS,
    ) -> None:
        """
        ``events_ttl_seconds``: how long stream event batches are kept (``None`` or 0: as long as the session).
        ``path``: the database file (default ``AGENTS_SESSION_DB``); its folder is created on first use.
        ``ttl_seconds``: idle sessions expire after this long (default ``AGENTS_SESSION_TTL_SECONDS``;
        ``None`` or 0: never); expired rows are swept at most every ``sweep_interval_seconds``.
        ``busy_timeout_seconds``: how long a write waits for another process holding the file lock.
        """
        self.path = Path(path).expanduser() if path is not None else default_path()
        if str(self.path) in ("", ":memory:"):
            raise ConfigurationError("path must name a file: the session store is shared between processes")
        self._ttl = resolve_ttl(ttl_seconds)
        self._busy_timeout_ms = int(busy_timeout_seconds * 1000)
        self._sweep_interval = sweep_interval_seconds
        self._clock = clock
        self._events_ttl = events_ttl_seconds if events_ttl_seconds and events_ttl_seconds > 0 else None
        self._db: aiosqlite.Connection | None = None
        self._open_lock = asyncio.Lock()
        self._last_sweep = float("-inf")

    async def _connection(self) -> aiosqlite.Connection:
        if self._db is not None:
            return self._db
        async with self._open_lock:
            if self._db is None:
                try:
                    import aiosqlite
                except ImportError:
                    raise ConfigurationError(
                        "the SQLite session store needs aiosqlite: "
                        "pip install 'azurefunctions-agent-framework[sqlite]'"
                    ) from None
                path = self.path.absolute()
                path.parent.mkdir(parents=True, exist_ok=True)
                connecting = aiosqlite.connect(path, isolation_level=None)
                # aiosqlite's worker thread is not a daemon: a store nobody closed would keep the process from
                # exiting (a script, a test run, a worker shutting down). Writes are autocommitted, so nothing is
                # lost when the thread ends with the process.
                worker = getattr(connecting, "_thread", None)
                if worker is not None and not worker.is_alive():
                    worker.daemon = True
                db = await connecting

                async def prepare() -> None:
                    # The busy timeout first: switching to WAL itself waits for other processes' locks.
                    await db.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
                    await db.execute("PRAGMA journal_mode = WAL")
                    await db.execute("PRAGMA synchronous = NORMAL")
                    await db.executescript(_SCHEMA)

                try:
                    await _wait_for_lock(prepare, self._busy_timeout_ms / 1000)
                except BaseException:
                    await db.close()
                    raise
                self._db = db
        return self._db

    def _expires_at(self, now: float) -> float | None:
        return None if self._ttl is None else now + self._ttl

    async def _sweep(self, db: aiosqlite.Connection, now: float) -> None:
        """Delete expired rows now and then: the SQLite counterpart of Cosmos DB's TTL."""
        if now - self._last_sweep < self._sweep_interval:
            return
        self._last_sweep = now
        await db.execute("DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))

    async def load(self, session_id: str) -> Session | None:
        session_id = check_session_id(session_id)
        db = await self._connection()
        # One statement, one hop to the database thread (execute_fetchall), on the per-turn path.
        rows = list(await db.execute_fetchall(
            "SELECT etag, body, updated_at, expires_at FROM items WHERE pk = ? AND id = ?",
            (session_id, session_id),
        ))
        if not rows:
            return None
        etag, body_text, updated_at, expires_at = rows[0]
        if expires_at is not None and expires_at <= self._clock():
            return None
        body: dict[str, Any] = json.loads(body_text)
        session = session_from_records(session_id, body, body.get("messages") or [], etag)
        session.updated_at = float(updated_at)
        return session

    async def save(self, session: Session) -> Session:
        session_id = check_session_id(session.id)
        db = await self._connection()
        now = self._clock()
        saved = Session(
            id=session_id,
            user_id=session.user_id,
            active_agent=session.active_agent,
            messages=list(session.messages),
            metadata=dict(session.metadata),
            created_at=session.created_at,
            updated_at=now,
            etag=uuid.uuid4().hex,
        )
        body = session_body(saved)
        body["messages"] = messages_to_records(saved.messages)
        params = {
            "pk": session_id,
            "id": session_id,
            "etag": saved.etag,
            "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            "now": now,
            "expires_at": self._expires_at(now),
            "if_match": session.etag,
        }
        await self._sweep(db, now)
        # RETURNING tells whether the conditional write happened, in the same single hop.
        if session.etag is None:
            del params["if_match"]
            written = list(await db.execute_fetchall(_CREATE + " RETURNING etag", params))
            if len(written) != 1:
                raise SessionBusyError(f"session {session_id} was created by another request")
        else:
            written = list(await db.execute_fetchall(_REPLACE + " RETURNING etag", params))
            if len(written) != 1:
                raise SessionBusyError(f"session {session_id} was changed by another request; retry the turn")
        return saved

    async def delete(self, session_id: str) -> bool:
        session_id = check_session_id(session_id)
        db = await self._connection()
        now = self._clock()
        async with db.execute(
            "DELETE FROM items WHERE pk = ? RETURNING id, expires_at", (session_id,)
        ) as cursor:
            rows = await cursor.fetchall()
        return any(
            row_id == session_id and (expires_at is None or expires_at > now) for row_id, expires_at in rows
        )

    async def append_events(self, session_id: str, turn: str, batch: int, events: Sequence[StreamEvent], *,
                            owner: str | None, final: bool) -> None:
        session_id = check_session_id(session_id)
        check_events(events, turn)
        db = await self._connection()
        now = self._clock()
        record = EventBatch(turn=turn, batch=batch, events=list(events), owner=owner, final=final,
                            written_at=now).to_record()
        expires_at = now + self._events_ttl if self._events_ttl is not None else self._expires_at(now)
        await db.execute(_PUT_EVENTS, {
            "pk": session_id, "id": batch_item_id(session_id, turn, batch), "etag": uuid.uuid4().hex,
            "body": json.dumps(record, separators=(",", ":"), ensure_ascii=False), "now": now,
            "expires_at": expires_at,
        })

    async def read_events(self, session_id: str, after: str | None = None) -> list[TurnLog]:
        session_id = check_session_id(session_id)
        db = await self._connection()
        now = self._clock()
        if after is not None:
            start_turn = parse_event_id(after)[0]
        else:
            async with db.execute(_LATEST_TURN, (session_id, now)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return []
            start_turn = str(row[0])[len(session_id) + 3:].split(":", 1)[0]
        async with db.execute(_EVENTS_FROM, (session_id, turn_prefix(session_id, start_turn), now)) as cursor:
            rows = await cursor.fetchall()
        return turns_from_batches([EventBatch.from_record(json.loads(body)) for (body,) in rows], after)

    async def aclose(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await db.close()
