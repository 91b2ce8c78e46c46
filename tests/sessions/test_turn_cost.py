"""A turn's store cost does not grow with the conversation: it reads the window its models see and writes
what it added. Counted by each backend, never timed: records written (memory), pages SQLite appends to its
write-ahead log, bytes on the wire to and from the Cosmos DB server (through a counting proxy: the local
server reports a constant request charge). And the whole history stays readable, page by page.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import pytest
from tests.servers.counting_proxy import CountingProxy

from azurefunctions.agents.errors import SessionBusyError
from azurefunctions.agents.messages import Message
from azurefunctions.agents.sessions import MemorySessionStore, Session, SessionStore

from .conftest import Backend, CosmosTarget

WINDOW = 50
SHORT, LONG = 10, 1000  # messages of history before the measured turn
ADDED_CHARS = 1200  # what the measured turn adds: a question and an answer of this size each


def history(count: int) -> list[Message]:
    return [
        Message(role="user", content=f"question {n} " + "q" * 480) if n % 2 == 0
        else Message(role="assistant", content=f"answer {n} " + "a" * 480, agent="helper")
        for n in range(count)
    ]


def added() -> list[Message]:
    return [Message(role="user", content="next " + "u" * ADDED_CHARS),
            Message(role="assistant", content="reply " + "r" * ADDED_CHARS, agent="helper")]


async def take_turn(store: SessionStore, session_id: str) -> Session:
    """What the runner does: load the window, answer, append what the turn added."""
    session = await store.load_recent(session_id, WINDOW)
    assert session is not None
    return await store.append(session, added())


# -- the contract, every backend ---------------------------------------------------------------------------


async def test_a_turn_sees_its_window_and_appends_after_the_whole_history(
    backend: Backend, new_id: Callable[[], str]
) -> None:
    store = backend.make()
    session_id = new_id()
    await store.save(Session(id=session_id, user_id="ana", messages=history(120)))

    window = await store.load_recent(session_id, WINDOW)
    assert window is not None and window.history_start == 70 and window.history_length == 120
    assert [m.content for m in window.messages] == [m.content for m in history(120)[70:]]
    window.active_agent = "helper"
    saved = await store.append(window, added())
    assert saved.history_start == 70 and len(saved.messages) == 52 and saved.etag != window.etag

    whole = await backend.make().load(session_id)
    assert whole is not None and whole.active_agent == "helper" and whole.user_id == "ana"
    assert [m.content for m in whole.messages] == [m.content for m in [*history(120), *added()]]

    again = await store.append(saved, [Message(role="user", content="third")])  # the returned copy appends on
    assert again.history_length == 123
    assert (await store.load_recent(session_id, 1)).messages == [Message(role="user", content="third")]  # type: ignore[union-attr]


async def test_the_whole_history_reads_page_by_page(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    await store.save(Session(id=session_id, messages=history(25)))
    read: list[Message] = []
    offset: int | None = 0
    while offset is not None:
        page = await store.read_history(session_id, offset, 10)
        assert page is not None and page.total == 25 and page.offset == offset
        read.extend(page.messages)
        offset = page.next_offset
    assert read == history(25)
    beyond = await store.read_history(session_id, 40, 10)
    assert beyond is not None and beyond.messages == [] and beyond.next_offset is None
    assert await store.read_history("s-never-written", 0, 10) is None
    with pytest.raises(ValueError, match="offset"):
        await store.read_history(session_id, -1, 10)


async def test_a_turn_on_a_stale_window_is_refused(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    await store.save(Session(id=session_id, messages=history(4)))
    first, second = await store.load_recent(session_id, 2), await store.load_recent(session_id, 2)
    assert first is not None and second is not None
    await store.append(first, [Message(role="user", content="winner")])
    with pytest.raises(SessionBusyError):
        await store.append(second, [Message(role="user", content="loser")])
    whole = await store.load(session_id)
    assert whole is not None and [m.content for m in whole.messages[-1:]] == ["winner"]
    assert len(whole.messages) == 5


async def test_save_refuses_a_partial_history_and_append_creates_a_session(
    backend: Backend, new_id: Callable[[], str]
) -> None:
    store = backend.make()
    session_id = new_id()
    created = await store.append(Session(id=session_id, user_id="ana"), history(3))
    assert created.etag is not None and created.history_length == 3
    window = await store.load_recent(session_id, 1)
    assert window is not None and window.history_start == 2
    with pytest.raises(ValueError, match="append"):
        await store.save(window)
    with pytest.raises(SessionBusyError):
        await store.append(Session(id=session_id), history(1))  # it exists now
    assert (await store.load(session_id)).messages == history(3)  # type: ignore[union-attr]


# -- what a turn costs, counted by the backend -----------------------------------------------------------


async def test_memory_turn_stores_only_the_records_it_added(new_id: Callable[[], str]) -> None:
    store = MemorySessionStore()
    session_id = new_id()
    await store.save(Session(id=session_id, messages=history(LONG)))
    records: list[dict[str, Any]] = store._history[session_id]
    kept = list(records)

    await take_turn(store, session_id)

    after = store._history[session_id]
    assert len(after) == LONG + 2
    assert all(a is b for a, b in zip(after, kept, strict=False))  # earlier records untouched, not copied
    assert [r["content"][:5] for r in after[LONG:]] == ["next ", "reply"]


def _wal_frames(path: str, *, reset: bool) -> int:
    """Pages in SQLite's write-ahead log (its own count); ``reset`` checkpoints and empties the log first."""
    with sqlite3.connect(path) as db:
        busy, frames, _ = db.execute(f"PRAGMA wal_checkpoint({'TRUNCATE' if reset else 'PASSIVE'})").fetchone()
    assert busy == 0
    return int(frames)


async def test_sqlite_turn_writes_as_many_pages_on_a_long_history_as_on_a_short_one(
    tmp_path: Any, new_id: Callable[[], str]
) -> None:
    pytest.importorskip("aiosqlite")
    from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

    path = str(tmp_path / "sessions.sqlite3")
    store = SqliteSessionStore(path, ttl_seconds=None)
    try:
        written: dict[int, int] = {}
        for length in (SHORT, LONG):
            session_id = new_id()
            await store.save(Session(id=session_id, messages=history(length)))
            _wal_frames(path, reset=True)
            await take_turn(store, session_id)
            written[length] = _wal_frames(path, reset=False)
        page_size = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
        # A few pages: the head row's page, the new rows' leaf (and at most a split), the expiry index.
        assert written[LONG] <= written[SHORT] + 2, written
        assert written[LONG] * page_size < 8 * (2 * ADDED_CHARS + 4096), written
        whole = await store.load(session_id)
        assert whole is not None and len(whole.messages) == LONG + 2
    finally:
        await store.aclose()


async def test_cosmos_turn_sends_and_receives_as_much_on_a_long_history_as_on_a_short_one(
    cosmos: CosmosTarget, new_id: Callable[[], str]
) -> None:
    if not cosmos.local:
        pytest.skip("the counting proxy sits in front of the local server only")
    from azurefunctions.agents.sessions.cosmos import CosmosSessionStore

    target = urlparse(cosmos.endpoint)
    assert target.hostname is not None and target.port is not None
    async with CountingProxy(target.hostname, target.port) as proxy:
        store = CosmosSessionStore(
            f"https://127.0.0.1:{proxy.port}/", database=cosmos.database, container=cosmos.container,
            ttl_seconds=None, create_if_missing=True, enable_endpoint_discovery=False,
        )
        try:
            read: dict[int, int] = {}
            written: dict[int, int] = {}
            history_bytes: dict[int, int] = {}
            for length in (SHORT, LONG):
                session_id = new_id()
                proxy.reset()
                # Built the way conversations grow: turn by turn, ten messages each.
                session = Session(id=session_id)
                messages = history(length)
                for start in range(0, length, 10):
                    session = await store.append(session, messages[start:start + 10])
                history_bytes[length] = proxy.reset().sent
                loaded = await store.load_recent(session_id, WINDOW)
                assert loaded is not None
                read[length] = proxy.reset().received
                await store.append(loaded, added())
                written[length] = proxy.reset().sent
            assert history_bytes[LONG] > 500_000  # the long history is about half a megabyte
            # Writes: the session item and one page of what the turn added, whatever came before.
            assert written[LONG] <= written[SHORT] + 256, written
            assert written[LONG] < 2 * ADDED_CHARS + 6000, written
            # Reads: the session item and the pages of the window (about 25 KB), not the history.
            window_bytes = sum(len(m.content) for m in history(LONG)[-WINDOW:])
            assert read[LONG] < window_bytes + 16_000, read
            whole = await store.load(session_id)
            assert whole is not None and len(whole.messages) == LONG + 2
        finally:
            await store.aclose()
