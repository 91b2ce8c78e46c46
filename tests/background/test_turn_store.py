"""Turn records in every session-store backend: the session's partition, etag compare-and-swap, expiry."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from azurefunctions.agents.background.records import TurnRecord
from azurefunctions.agents.background.store import (
    DocumentTurnStore,
    MemoryTurnStore,
    SessionItemTurnStore,
    TurnConflictError,
    TurnStore,
    turn_store_for,
)
from azurefunctions.agents.sessions.base import Session, SessionStore
from azurefunctions.agents.sessions.lazy import LazySessionStore
from azurefunctions.agents.sessions.memory import MemorySessionStore
from tests.sessions.custom_store import PlainStore


def make_sessions(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> SessionStore:
    if kind == "memory":
        return MemorySessionStore()
    if kind == "custom":
        return PlainStore()
    if kind == "sqlite":
        from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

        return SqliteSessionStore(tmp_path / "s.sqlite3")
    from azurefunctions.agents.sessions.cosmos import CosmosSessionStore

    target = request.getfixturevalue("cosmos")
    return CosmosSessionStore(target.endpoint, database=target.database, container=target.container,
                              create_if_missing=target.local, enable_endpoint_discovery=not target.local)


@pytest.fixture(params=["memory", "custom", "sqlite", "cosmos"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[SessionStore, TurnStore]]:
    sessions = make_sessions(request.param, tmp_path, request)
    try:
        yield sessions, turn_store_for(sessions)
    finally:
        await sessions.aclose()


def record(session_id: str | None = None, **fields: Any) -> TurnRecord:
    return TurnRecord(session_id=session_id or f"s-{uuid.uuid4().hex[:10]}", agent="Helper",
                      request={"message": "Hi", "context": {}}, user_id="ana", **fields)


async def test_records_round_trip_with_a_new_etag_on_every_write(stores: tuple[SessionStore, TurnStore]) -> None:
    _, turns = stores
    created = await turns.create(record())
    assert created.etag
    loaded = await turns.get(created.session_id, created.turn_id)
    assert loaded is not None and loaded.to_record() == created.to_record()
    loaded.status, loaded.attempts = "running", 1
    replaced = await turns.replace(loaded)
    assert replaced.etag != created.etag
    again = await turns.get(created.session_id, created.turn_id)
    assert again is not None and again.status == "running" and again.attempts == 1 and again.etag == replaced.etag
    assert await turns.get(created.session_id, "0" * 32) is None
    assert await turns.get("s-other", created.turn_id) is None


async def test_a_stale_etag_or_a_second_create_is_a_conflict(stores: tuple[SessionStore, TurnStore]) -> None:
    _, turns = stores
    created = await turns.create(record())
    with pytest.raises(TurnConflictError):
        await turns.create(record(created.session_id, turn_id=created.turn_id))
    await turns.replace(created)
    with pytest.raises(TurnConflictError):
        await turns.replace(created)  # still at the first etag


async def test_of_racing_claims_exactly_one_wins(stores: tuple[SessionStore, TurnStore]) -> None:
    _, turns = stores
    created = await turns.create(record())
    winners: list[str] = []

    async def claim(name: str) -> None:
        def take(current: TurnRecord) -> bool:
            if current.status != "queued":
                return False
            current.status, current.claim = "running", name
            return True

        stored = await turns.update(created.session_id, created.turn_id, take)
        if stored is not None and stored.claim == name:
            winners.append(name)

    await asyncio.gather(*(claim(f"worker-{n}") for n in range(6)))
    assert len(winners) == 1
    final = await turns.get(created.session_id, created.turn_id)
    assert final is not None and final.claim == winners[0]


async def test_the_sessions_session_is_untouched_by_its_turns(stores: tuple[SessionStore, TurnStore]) -> None:
    sessions, turns = stores
    saved = await sessions.save(Session(id=f"s-{uuid.uuid4().hex[:10]}", user_id="ana"))
    await turns.create(record(saved.id))
    loaded = await sessions.load(saved.id)
    assert loaded is not None and loaded.etag == saved.etag and loaded.messages == []


async def test_deleting_a_session_deletes_its_turns(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    for kind in ("sqlite", "cosmos"):
        sessions = make_sessions(kind, tmp_path, request)
        try:
            turns = turn_store_for(sessions)
            saved = await sessions.save(Session(id=f"s-{uuid.uuid4().hex[:10]}"))
            created = await turns.create(record(saved.id))
            assert await sessions.delete(saved.id)
            assert await turns.get(saved.id, created.turn_id) is None, kind
        finally:
            await sessions.aclose()


async def test_each_backend_keeps_turns_in_its_own_document_store(tmp_path: Path) -> None:
    from azurefunctions.agents.sessions.cosmos import CosmosSessionStore
    from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

    memory = MemorySessionStore()
    created = await turn_store_for(memory).create(record())
    # Every caller sees the same data: the records live with the session store, not in the turn store.
    assert await turn_store_for(memory).get(created.session_id, created.turn_id) == created
    assert isinstance(turn_store_for(PlainStore()), SessionItemTurnStore)
    for backend in (memory, SqliteSessionStore(tmp_path / "x.sqlite3"), CosmosSessionStore("https://127.0.0.1:1/")):
        turns = turn_store_for(backend)
        assert isinstance(turns, DocumentTurnStore) and turns.documents is backend.documents()
    lazy = LazySessionStore()
    try:
        turns = turn_store_for(lazy)
        assert isinstance(turns, DocumentTurnStore) and turns.documents is lazy.store.documents()
    finally:
        await lazy.aclose()


async def test_records_expire_after_their_ttl(tmp_path: Path) -> None:
    from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

    sqlite = SqliteSessionStore(tmp_path / "ttl.sqlite3")
    try:
        for turns in (MemoryTurnStore(ttl_seconds=0.2), turn_store_for(sqlite, ttl_seconds=0.2)):
            created = await turns.create(record())
            assert await turns.get(created.session_id, created.turn_id) is not None
            await asyncio.sleep(0.3)
            assert await turns.get(created.session_id, created.turn_id) is None
            # An expired record's id may be used again.
            await turns.create(record(created.session_id, turn_id=created.turn_id))
    finally:
        await sqlite.aclose()


def test_the_public_view_hides_the_claim_and_the_request() -> None:
    view = record(status="running", claim="secret-claim", lease_until=1.0, attempts=1).to_public()
    assert view["status"] == "running" and view["attempts"] == 1
    assert not {"claim", "lease_until", "request", "user_id"} & set(view)
