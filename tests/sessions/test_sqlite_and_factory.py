"""SQLite specifics (file location, WAL, expiry sweep), the store factory, and the history window."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from azurefunctions.agents.errors import ConfigurationError
from azurefunctions.agents.messages import Message, ToolCall
from azurefunctions.agents.sessions import Session, create_session_store

from .conftest import Clock

pytest.importorskip("aiosqlite")

from azurefunctions.agents.sessions.sqlite import SqliteSessionStore


def rows(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT pk, id, kind FROM items ORDER BY pk, id").fetchall()


async def test_relative_path_is_under_the_current_directory_and_folders_are_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENTS_SESSION_DB", "state/nested/sessions.db")
    store = create_session_store()
    assert isinstance(store, SqliteSessionStore)
    try:
        await store.save(Session(id="s-1", user_id="alice"))
    finally:
        await store.aclose()
    path = tmp_path / "state" / "nested" / "sessions.db"
    assert rows(path) == [("s-1", "s-1", "session")]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_default_file_is_in_the_app_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTS_SESSION_DB", raising=False)
    store = SqliteSessionStore()
    try:
        await store.save(Session(id="s-1"))
    finally:
        await store.aclose()
    assert (tmp_path / ".agents-data" / "sessions.sqlite3").is_file()


async def test_expired_rows_are_swept(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "s.db"
    store = SqliteSessionStore(path, ttl_seconds=60, clock=clock, sweep_interval_seconds=0)
    try:
        await store.save(Session(id="old"))
        clock.offset = 30
        await store.save(Session(id="newer"))
        assert [r[0] for r in rows(path)] == ["newer", "old"]
        clock.offset = 61
        await store.save(Session(id="latest"))  # a write sweeps what has expired
        assert [r[0] for r in rows(path)] == ["latest", "newer"]
    finally:
        await store.aclose()


async def test_ttl_comes_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_SESSION_TTL_SECONDS", "100")
    clock = Clock()
    store = SqliteSessionStore(tmp_path / "s.db", clock=clock)
    try:
        await store.save(Session(id="s-1"))
        clock.offset = 99
        assert await store.load("s-1") is not None
        clock.offset = 101
        assert await store.load("s-1") is None
    finally:
        await store.aclose()
    monkeypatch.setenv("AGENTS_SESSION_TTL_SECONDS", "a month")
    with pytest.raises(ValueError, match="AGENTS_SESSION_TTL_SECONDS"):
        SqliteSessionStore(tmp_path / "s.db")


def test_memory_paths_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="path"):
        SqliteSessionStore(":memory:")


def test_factory_selects_cosmos_when_an_endpoint_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("azure.cosmos")
    from azurefunctions.agents.sessions.cosmos import CosmosSessionStore

    monkeypatch.setenv("COSMOS_ENDPOINT", "https://acct.documents.azure.com:443/")
    store = create_session_store()
    assert isinstance(store, CosmosSessionStore)
    assert store._client_options["enable_endpoint_discovery"] is True
    monkeypatch.setenv("COSMOS_ENDPOINT", "https://127.0.0.1:8081/")
    local = create_session_store()
    assert isinstance(local, CosmosSessionStore)
    assert local._client_options["enable_endpoint_discovery"] is False


def test_choosing_a_store_imports_no_sdk() -> None:
    code = (
        "import sys\n"
        "from azurefunctions.agents.sessions import create_session_store\n"
        "create_session_store()\n"
        "print(sorted(m for m in sys.modules if m == 'azure' or m.startswith(('azure.', 'aiosqlite'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_recent_window_starts_at_a_user_message() -> None:
    messages = [
        Message(role="user", content="q1"),
        Message(role="assistant", tool_calls=[ToolCall(id="c1", name="f")]),
        Message(role="tool", content="r1", tool_call_id="c1", name="f"),
        Message(role="assistant", content="a1"),
        Message(role="user", content="q2"),
    ]
    session = Session(id="s", messages=messages)
    assert session.recent(None) == messages
    assert session.recent(10) == messages
    assert session.recent(2) == messages[-1:]  # a window never opens on an assistant answer
    assert session.recent(3) == messages[-1:]  # nor on a tool result whose call fell outside it
    assert session.recent(4) == messages[-1:]
    assert session.recent(5) == messages
    assert session.recent(0) == []
    with pytest.raises(ValueError, match="limit"):
        session.recent(-1)


async def test_a_session_written_by_the_earlier_layout_keeps_its_history(tmp_path: Path) -> None:
    """Before history rows, the whole history was kept inside the session row: it is moved out on first read."""
    import json
    import sqlite3

    from azurefunctions.agents.messages import Message
    from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

    path = tmp_path / "old.sqlite3"
    store = SqliteSessionStore(path, ttl_seconds=None)
    await store.load("s-warm")  # creates the table
    old_messages = [Message(role="user", content="first"), Message(role="assistant", content="reply ✓")]
    body = {"user_id": "ana", "active_agent": "helper", "metadata": {}, "created_at": 1.0, "updated_at": 2.0,
            "messages": [m.to_dict() for m in old_messages]}
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO items VALUES ('s-old', 's-old', 'session', 'e1', ?, 2.0, NULL)", (json.dumps(body),))
    try:
        window = await store.load_recent("s-old", 1)
        assert window is not None and window.messages == old_messages[1:] and window.history_start == 1
        assert window.etag == "e1" and window.user_id == "ana"
        await store.append(window, [Message(role="user", content="after")])
        whole = await store.load("s-old")
        assert whole is not None and [m.content for m in whole.messages] == ["first", "reply ✓", "after"]
    finally:
        await store.aclose()


async def test_the_history_rows_of_an_expired_session_are_swept_with_it(tmp_path: Path) -> None:
    from azurefunctions.agents.messages import Message

    clock = Clock()
    path = tmp_path / "s.db"
    store = SqliteSessionStore(path, ttl_seconds=60, clock=clock, sweep_interval_seconds=0)
    try:
        await store.save(Session(id="old", messages=[Message(role="user", content="a"),
                                                     Message(role="user", content="b")]))
        assert [r[1] for r in rows(path)] == ["old", "old:h:000000000", "old:h:000000001"]
        clock.offset = 61
        await store.save(Session(id="latest"))  # a write sweeps the expired session and then its history rows
        assert [r[1] for r in rows(path)] == ["latest"]
    finally:
        await store.aclose()
