"""The embedded session store used locally: one SQLite file, shared safely by several processes.

Every write is a single conditional statement (insert-if-absent, or update-where-etag-matches), so SQLite's
own file locking makes the compare-and-swap atomic across connections and processes; WAL mode lets readers
proceed while a writer commits, and a busy timeout makes a writer wait for the lock instead of failing.
SQLite answers "database is locked" without calling its busy handler where waiting could deadlock (two
connections both upgrading a read lock, e.g. switching a fresh file to WAL at once); those are retried with
backoff within the same time budget (``_wait_for_lock``).

The table mirrors the Cosmos DB container (DESIGN.md "Store layout"): rows are keyed by ``(pk, id)`` and a
session row has ``pk = id = session id``, so anything else kept with a session (under its ``pk``) goes when
the session is deleted. The session row holds the head (owner, agent, metadata, ``count`` of messages); each
message is a row of its own, ``id = <session id>:h:<position, 9 digits>``, so a turn reads the rows of its
window in one range scan of the primary key and inserts the rows it added, in one transaction with the
conditional update of the head. History rows carry no expiry of their own: they go with their session, when
it is deleted or when the sweep finds its head expired.
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
from ..errors import ConfigurationError, SessionBusyError, missing_extra
from ..messages import Message
from ..storage.documents import (
    NEW,
    Document,
    DocumentConflictError,
    DocumentStore,
    IfNew,
    check_document,
    check_key,
)
from ._records import (
    FROM_SETTINGS,
    FromSettings,
    resolve_ttl,
    session_body,
    session_from_records,
)
from .base import HistoryPage, Session, SessionStore, check_page, check_whole
from .events import DEFAULT_EVENTS_TTL_SECONDS
from .ids import check_session_id

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

# A turn's whole write in one statement (one hop to the database thread, atomic without a transaction): the
# history rows it added and then the head, from a JSON array of [id, kind, body]. Nothing is written unless
# the gate holds: the head is still at the version the turn loaded (append), or no live session exists
# (create). The head comes last, so the gate reads the head as it was before the statement whether or not
# SQLite computes the SELECT before inserting. History rows may replace rows at or after the stored count:
# those are left over from a history that was rewritten or expired, and no reader sees them.
_WRITE = """
INSERT INTO items (pk, id, kind, etag, body, updated_at, expires_at)
SELECT :pk, json_extract(value, '$[0]'), json_extract(value, '$[1]'), :etag, json_extract(value, '$[2]'), :now,
       CASE json_extract(value, '$[1]') WHEN 'session' THEN :expires_at END
FROM json_each(:rows)
WHERE {gate}
ON CONFLICT (pk, id) DO UPDATE SET
    kind = excluded.kind, etag = excluded.etag, body = excluded.body, updated_at = excluded.updated_at,
    expires_at = excluded.expires_at
WHERE excluded.kind = 'message' OR ({head})
RETURNING id
"""
_LIVE_HEAD = "SELECT 1 FROM items WHERE pk = :pk AND id = :pk AND (expires_at IS NULL OR expires_at > :now)"
_APPEND = _WRITE.format(gate=f"EXISTS ({_LIVE_HEAD} AND etag = :if_match)", head="items.etag = :if_match")
_CREATE = _WRITE.format(gate=f"NOT EXISTS ({_LIVE_HEAD})",
                        head="items.expires_at IS NOT NULL AND items.expires_at <= :now")

# After a rewrite to a shorter history: its leftover rows, while the head is still the rewrite's.
_TRIM = """
DELETE FROM items WHERE pk = :pk AND kind = 'message' AND id >= :first AND id < :last
AND EXISTS (SELECT 1 FROM items WHERE pk = :pk AND id = :pk AND etag = :etag)
"""

# The head and the messages from position :first on, in one statement (one snapshot, one hop); rows at or
# after the head's count are leftovers (see _WRITE) and are not read.
_HEAD_AND_MESSAGES = """
SELECT h.etag, h.body, h.updated_at, h.expires_at, m.body
FROM items AS h LEFT JOIN items AS m
  ON m.pk = h.pk AND m.kind = 'message' AND m.id >= :first AND m.id < :last
  AND m.id < printf('%s:h:%09d', h.pk, coalesce(json_extract(h.body, '$.count'), 0))
WHERE h.pk = :pk AND h.id = :pk
ORDER BY m.id
"""

# The head and its last :limit messages: the window starts where the head's count says, in the same statement.
_HEAD_AND_RECENT = """
SELECT h.etag, h.body, h.updated_at, h.expires_at, m.body
FROM items AS h LEFT JOIN items AS m
  ON m.pk = h.pk AND m.kind = 'message' AND m.id < :last
  AND m.id < printf('%s:h:%09d', h.pk, coalesce(json_extract(h.body, '$.count'), 0))
  AND m.id >= printf('%s:h:%09d', h.pk, max(0, coalesce(json_extract(h.body, '$.count'), 0) - :limit))
WHERE h.pk = :pk AND h.id = :pk
ORDER BY m.id
"""

# A session row of an earlier version keeps its whole history in ``messages``: rows first, then the head.
_MIGRATE_ROWS = """
INSERT INTO items (pk, id, kind, etag, body, updated_at, expires_at)
SELECT :pk, printf('%s:h:%09d', :pk, key), 'message', '', value, :now, NULL
FROM json_each((SELECT body FROM items WHERE pk = :pk AND id = :pk), '$.messages')
WHERE true
ON CONFLICT (pk, id) DO NOTHING
"""
_MIGRATE_HEAD = """
UPDATE items SET body = json_set(json_remove(body, '$.messages'), '$.count', json_array_length(body, '$.messages'))
WHERE pk = :pk AND id = :pk AND json_type(body, '$.messages') = 'array'
"""

_SWEEP = """
DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at <= :now;
"""

# History rows whose session row is gone (expired and swept, or replaced): the sweep's second step.
_SWEEP_ORPHANS = """
DELETE FROM items WHERE kind = 'message'
AND NOT EXISTS (SELECT 1 FROM items AS h WHERE h.pk = items.pk AND h.id = items.pk)
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


def message_row_id(session_id: str, position: int) -> str:
    """Row id of message ``position`` (from 0) of a session; ids of one session sort by position."""
    return f"{session_id}:h:{position:09d}"


def _dumps(record: Any) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


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
        self._documents: SqliteDocumentStore | None = None

    @property
    def idle_ttl_seconds(self) -> float | None:
        return self._ttl

    @property
    def events_ttl_seconds(self) -> float | None:
        return self._events_ttl

    def documents(self) -> SqliteDocumentStore:
        """Other records as rows of this file's ``items`` table, in their sessions' partitions."""
        if self._documents is None:
            self._documents = SqliteDocumentStore(self)
        return self._documents

    async def _connection(self) -> aiosqlite.Connection:
        if self._db is not None:
            return self._db
        async with self._open_lock:
            if self._db is None:
                try:
                    import aiosqlite
                except ImportError as exc:
                    raise missing_extra("The SQLite session store", "sqlite", exc) from None
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
        await db.execute(_SWEEP, {"now": now})
        await db.execute(_SWEEP_ORPHANS)

    async def _read(self, session_id: str, first: int | None, last: int | None,
                    limit: int | None = None) -> tuple[Session, int] | None:
        """The session with its messages at positions ``first`` to ``last`` (exclusive; ``None``: to the end),
        or its last ``limit`` when ``first`` is ``None``, and the number of messages stored; ``None`` when it
        is missing or expired."""
        db = await self._connection()
        params: dict[str, Any] = {
            "pk": session_id,
            "last": message_row_id(session_id, last) if last is not None else f"{session_id}:h;",
        }
        if first is None:
            params["limit"] = limit or 0
            statement = _HEAD_AND_RECENT
        else:
            params["first"] = message_row_id(session_id, first)
            statement = _HEAD_AND_MESSAGES
        rows = list(await db.execute_fetchall(statement, params))
        if not rows:
            return None
        etag, body_text, updated_at, expires_at, _ = rows[0]
        if expires_at is not None and expires_at <= self._clock():
            return None
        body: dict[str, Any] = json.loads(body_text)
        if "count" not in body and isinstance(body.get("messages"), list):
            await self._migrate(db, session_id)
            return await self._read(session_id, first, last, limit)
        records = [json.loads(row[4]) for row in rows if row[4] is not None]
        session = session_from_records(session_id, body, records, etag)
        session.updated_at = float(updated_at)
        return session, int(body.get("count") or 0)

    async def _migrate(self, db: aiosqlite.Connection, session_id: str) -> None:
        """Move the history of a session row written by an earlier version (the whole history inside the row)
        into history rows. Two statements, each safe to repeat, so an interrupted migration is finished by
        the next read; the head keeps its version, so a turn that loaded it still commits."""
        await db.execute(_MIGRATE_ROWS, {"pk": session_id, "now": self._clock()})
        await db.execute(_MIGRATE_HEAD, {"pk": session_id})

    async def load(self, session_id: str) -> Session | None:
        found = await self._read(check_session_id(session_id), 0, None)
        return None if found is None else found[0]

    async def load_recent(self, session_id: str, limit: int | None) -> Session | None:
        session_id = check_session_id(session_id)
        if limit is None:
            return await self.load(session_id)
        found = await self._read(session_id, None, None, max(0, limit))
        if found is None:
            return None
        session, stored = found
        session.history_start = stored - len(session.messages)
        return session

    async def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage | None:
        check_page(offset, limit)
        found = await self._read(check_session_id(session_id), offset,
                                 None if limit is None else offset + limit)
        if found is None:
            return None
        session, total = found
        messages, session.messages = session.messages, []
        return HistoryPage(session=session, messages=messages, offset=offset, total=total)

    async def save(self, session: Session) -> Session:
        check_whole(session)
        return await self._write(session, list(session.messages), replace_history=True)

    async def append(self, session: Session, added: Sequence[Message]) -> Session:
        if session.etag is None:
            check_whole(session)
            return await self._write(session, [*session.messages, *added], replace_history=True)
        saved = await self._write(session, list(added), replace_history=False)
        saved.messages = [*session.messages, *added]
        saved.history_start = session.history_start
        return saved

    async def _write(self, session: Session, messages: list[Message], *, replace_history: bool) -> Session:
        """Commit the head and ``messages``: all of the history (``replace_history``) or those after what
        ``session`` was loaded with, in one conditional statement."""
        session_id = check_session_id(session.id)
        db = await self._connection()
        now = self._clock()
        start = 0 if replace_history else session.history_length
        saved = Session(
            id=session_id,
            user_id=session.user_id,
            active_agent=session.active_agent,
            messages=list(messages) if replace_history else [],
            metadata=dict(session.metadata),
            created_at=session.created_at,
            updated_at=now,
            etag=uuid.uuid4().hex,
        )
        body = session_body(saved)
        body["count"] = start + len(messages)
        rows: list[list[str]] = [
            [message_row_id(session_id, start + index), "message", _dumps(message.to_dict())]
            for index, message in enumerate(messages)
        ]
        rows.append([session_id, "session", _dumps(body)])
        params = {"pk": session_id, "etag": saved.etag, "rows": _dumps(rows), "now": now,
                  "expires_at": self._expires_at(now)}
        await self._sweep(db, now)
        if session.etag is None:
            written = list(await db.execute_fetchall(_CREATE, params))
            busy = f"session {session_id} was created by another request"
        else:
            written = list(await db.execute_fetchall(_APPEND, {**params, "if_match": session.etag}))
            busy = f"session {session_id} was changed by another request; retry the turn"
        if len(written) != len(rows):
            raise SessionBusyError(busy)
        if replace_history and session.etag is not None:
            await db.execute(_TRIM, {"pk": session_id, "etag": saved.etag,
                                     "first": message_row_id(session_id, len(messages)), "last": f"{session_id}:h;"})
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

    async def aclose(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await db.close()


# Documents (``DocumentStore``): rows of the same table, beside the sessions. A write replaces an expired row
# as if it were absent; the sweep deletes expired rows now and then.
_DOC_UPSERT = """
INSERT INTO items (pk, id, kind, etag, body, updated_at, expires_at)
VALUES (:pk, :id, :kind, :etag, :body, :now, :expires_at)
ON CONFLICT (pk, id) DO UPDATE SET
    kind = excluded.kind, etag = excluded.etag, body = excluded.body, updated_at = excluded.updated_at,
    expires_at = excluded.expires_at
"""
_DOC_CREATE = _DOC_UPSERT + "WHERE items.expires_at IS NOT NULL AND items.expires_at <= :now\n"
_DOC_REPLACE = """
UPDATE items SET kind = :kind, etag = :etag, body = :body, updated_at = :now, expires_at = :expires_at
WHERE pk = :pk AND id = :id AND etag = :if_match AND (expires_at IS NULL OR expires_at > :now)
"""
_DOC_GET = "SELECT kind, etag, body FROM items WHERE pk = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)"
_DOC_LIST = """
SELECT id, kind, etag, body FROM items
WHERE pk = ? AND substr(id, 1, ?) = ? AND id >= ? AND (expires_at IS NULL OR expires_at > ?)
ORDER BY id
"""


class SqliteDocumentStore(DocumentStore):
    """Documents as rows ``(pk, id, kind, etag, body, updated_at, expires_at)`` of a session store's file."""

    def __init__(self, sessions: SqliteSessionStore) -> None:
        self._sessions = sessions

    async def get(self, partition: str, id: str) -> Document | None:
        check_key(partition, id)
        db = await self._sessions._connection()
        async with db.execute(_DOC_GET, (partition, id, self._sessions._clock())) as cursor:
            row = await cursor.fetchone()
        return None if row is None else Document(partition, id, row[0], json.loads(row[2]), row[1])

    async def put(self, partition: str, id: str, body: dict[str, Any], *, kind: str,
                  if_match: str | IfNew | None = None, ttl_seconds: float | None = None) -> Document:
        check_key(partition, id)
        check_document(kind, body, ttl_seconds)
        db = await self._sessions._connection()
        now = self._sessions._clock()
        etag = uuid.uuid4().hex
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str)
        params: dict[str, Any] = {"pk": partition, "id": id, "kind": kind, "etag": etag, "body": text, "now": now,
                                  "expires_at": None if ttl_seconds is None else now + ttl_seconds}
        if if_match is None:
            statement = _DOC_UPSERT
        elif if_match is NEW:
            statement = _DOC_CREATE
        else:
            statement, params["if_match"] = _DOC_REPLACE, if_match
        cursor = await db.execute(statement, params)
        changed = cursor.rowcount
        await cursor.close()
        if changed != 1:
            raise DocumentConflictError(f"{id} in {partition} was created, changed or deleted by someone else")
        return Document(partition, id, kind, json.loads(text), etag)

    async def delete(self, partition: str, id: str, *, if_match: str | None = None) -> bool:
        check_key(partition, id)
        db = await self._sessions._connection()
        now = self._sessions._clock()
        async with db.execute("DELETE FROM items WHERE pk = ? AND id = ? RETURNING etag, expires_at",
                              (partition, id)) if if_match is None else db.execute(
                "DELETE FROM items WHERE pk = ? AND id = ? AND (etag = ? OR (expires_at IS NOT NULL AND "
                "expires_at <= ?)) RETURNING etag, expires_at", (partition, id, if_match, now)) as cursor:
            rows = await cursor.fetchall()
        live = [etag for etag, expires_at in rows if expires_at is None or expires_at > now]
        if if_match is not None and (not live or live[0] != if_match):
            raise DocumentConflictError(f"{id} in {partition} was changed or deleted by someone else")
        return bool(live)

    async def list(self, partition: str, prefix: str = "", *, start: str = "") -> list[Document]:
        check_key(partition, prefix or "-")
        db = await self._sessions._connection()
        rows = await db.execute_fetchall(_DOC_LIST, (partition, len(prefix), prefix, start,
                                                     self._sessions._clock()))
        return [Document(partition, row[0], row[1], json.loads(row[3]), row[2]) for row in rows]
