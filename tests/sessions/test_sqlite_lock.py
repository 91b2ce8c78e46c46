"""The SQLite store waits for another process's lock instead of failing a turn, within its time budget."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.servers.network_guard.plugin import guarded_env

from azurefunctions.agents.messages import Message
from azurefunctions.agents.sessions import Session
from azurefunctions.agents.sessions.sqlite import SqliteSessionStore, _is_lock_error, _wait_for_lock

HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the file's exclusive lock for ``seconds`` (started once it holds it)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE,
                              text=True, env=guarded_env())
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


async def test_a_turn_waits_for_another_processes_lock(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    store = SqliteSessionStore(path, busy_timeout_seconds=30)
    try:
        saved = await store.save(Session(id="s-1", user_id="alice"))
        holder = hold_lock(path, 1.0)
        started = time.monotonic()
        saved.messages.append(Message(role="user", content="hello"))
        await store.save(saved)
        waited = time.monotonic() - started
        assert holder.wait(timeout=30) == 0
    finally:
        await store.aclose()
    assert waited >= 0.5  # it waited for the holder instead of failing at once
    reopened = SqliteSessionStore(path)
    try:
        loaded = await reopened.load("s-1")
    finally:
        await reopened.aclose()
    assert loaded is not None and [m.content for m in loaded.messages] == ["hello"]


async def test_a_fresh_file_opened_while_locked_waits(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    sqlite3.connect(path).close()  # an empty file another process locks before the store has set it up
    holder = hold_lock(path, 1.0)
    store = SqliteSessionStore(path, busy_timeout_seconds=30)
    try:
        await store.save(Session(id="s-1", user_id="alice"))
        assert await store.load("s-1") is not None
    finally:
        await store.aclose()
        holder.wait(timeout=30)


async def test_a_lock_held_past_the_budget_fails_with_sqlites_error(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    store = SqliteSessionStore(path, busy_timeout_seconds=0.3)
    holder = None
    try:
        await store.save(Session(id="s-1", user_id="alice"))
        holder = hold_lock(path, 3.0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await store.save(Session(id="s-2", user_id="bob"))
    finally:
        await store.aclose()
        if holder is not None:
            holder.wait(timeout=30)


async def test_lock_errors_that_skip_the_busy_handler_are_retried_with_backoff() -> None:
    # SQLite returns SQLITE_BUSY at once where waiting could deadlock; the store retries those itself.
    attempts = []

    async def flaky() -> str:
        attempts.append(time.monotonic())
        if len(attempts) < 4:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    assert await _wait_for_lock(flaky, 5) == "done"
    assert len(attempts) == 4
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert all(gap > 0 for gap in gaps)

    async def broken() -> None:
        raise sqlite3.OperationalError("no such table: items")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await _wait_for_lock(broken, 5)
    assert _is_lock_error(sqlite3.OperationalError("database is locked"))
    assert not _is_lock_error(sqlite3.OperationalError("disk I/O error"))
