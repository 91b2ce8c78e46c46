"""The stream event log kept with a session, the same contract on every backend (memory, SQLite, Cosmos DB): its
batches are documents in the session's partition, and a custom store without documents keeps its own."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from azurefunctions.agents.errors import InvalidRequestError
from azurefunctions.agents.sessions import MemorySessionStore, Session
from azurefunctions.agents.sessions.base import SessionStore
from azurefunctions.agents.sessions.event_log import DocumentEventLog, StoreEventLog, event_log_for
from azurefunctions.agents.sessions.events import StreamEvent, new_turn_key, parse_event_id
from azurefunctions.agents.storage import Document, MemoryDocumentStore

from .conftest import Backend, Clock
from .custom_store import PlainStore


def events(turn: str, first: int, count: int, name: str = "text_delta") -> list[StreamEvent]:
    return [StreamEvent(f"{turn}-{n}", name, json.dumps({"type": name, "text": f"part {n} ✓"}))
            for n in range(first, first + count)]


def ids(turns: list) -> list[str]:  # type: ignore[type-arg]
    return [e.id for t in turns for e in t.events]


def two_turns(clock: Clock) -> tuple[str, str]:
    first = new_turn_key(clock)
    clock.offset += 0.01
    second = new_turn_key(clock)
    return first, second


async def test_batches_read_back_in_order_across_turns(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    clock = Clock()
    t1, t2 = two_turns(clock)
    assert t1 < t2
    # Batches written out of order (a slow write) still read back in order.
    await store.append_events(session_id, t1, 1, events(t1, 4, 3), owner="alice", final=True)
    await store.append_events(session_id, t1, 0, events(t1, 1, 3), owner="alice", final=False)
    await store.append_events(session_id, t2, 0, events(t2, 1, 2), owner="alice", final=False)

    latest = await store.read_events(session_id)
    assert [(t.turn, t.owner, t.complete) for t in latest] == [(t2, "alice", False)]
    assert ids(latest) == [f"{t2}-1", f"{t2}-2"]

    after = await store.read_events(session_id, f"{t1}-2")
    assert [(t.turn, t.complete) for t in after] == [(t1, True), (t2, False)]
    assert ids(after) == [f"{t1}-{n}" for n in range(3, 7)] + [f"{t2}-1", f"{t2}-2"]
    assert after[0].events[0].data == json.dumps({"type": "text_delta", "text": "part 3 ✓"})

    # The last event of a finished turn: that turn is listed with nothing left, then the later turn.
    end = await store.read_events(session_id, f"{t1}-6")
    assert [(t.turn, len(t.events)) for t in end] == [(t1, 0), (t2, 2)]

    # Rewriting a batch replaces it (a retried write never duplicates events).
    await store.append_events(session_id, t2, 0, events(t2, 1, 2), owner="alice", final=True)
    again = await store.read_events(session_id, f"{t2}-1")
    assert ids(again) == [f"{t2}-2"] and again[0].complete


async def test_events_live_with_the_session_and_go_with_it(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    turn = new_turn_key()
    assert await store.read_events(session_id) == []
    await store.save(Session(id=session_id, user_id="bob"))
    await store.append_events(session_id, turn, 0, events(turn, 1, 2), owner="bob", final=True)
    loaded = await store.load(session_id)
    assert loaded is not None and loaded.messages == []  # event items are not history
    await store.save(loaded)  # and do not disturb the session's own writes
    other = backend.make()
    assert ids(await other.read_events(session_id)) == [f"{turn}-1", f"{turn}-2"]
    assert await store.delete(session_id) is True
    assert await store.read_events(session_id) == []


async def test_a_big_turn_in_many_batches(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    turn = new_turn_key()
    for batch in range(12):
        await store.append_events(session_id, turn, batch, events(turn, batch * 50 + 1, 50), owner=None,
                                  final=batch == 11)
    whole = await store.read_events(session_id)
    assert ids(whole) == [f"{turn}-{n}" for n in range(1, 601)]
    assert whole[0].owner is None and whole[0].complete
    tail = await store.read_events(session_id, f"{turn}-598")
    assert ids(tail) == [f"{turn}-599", f"{turn}-600"]


async def test_event_batches_expire(backend: Backend, new_id: Callable[[], str]) -> None:
    clock = Clock()
    store = (MemorySessionStore(clock=clock, events_ttl_seconds=60) if backend.name == "memory"
             else backend.make(clock=clock, events_ttl_seconds=60))
    session_id = new_id()
    turn = new_turn_key(clock)
    await store.append_events(session_id, turn, 0, events(turn, 1, 1), owner="a", final=True)
    assert ids(await store.read_events(session_id)) == [f"{turn}-1"]
    clock.offset += 61
    assert await store.read_events(session_id) == []


async def test_bad_input_is_refused(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    turn = new_turn_key()
    with pytest.raises(InvalidRequestError, match="session_id"):
        await store.read_events("a/b")
    with pytest.raises(InvalidRequestError, match="Last-Event-ID"):
        await store.read_events(new_id(), "not-an-id")
    with pytest.raises(ValueError, match="does not belong"):
        await store.append_events(new_id(), turn, 0, events(new_turn_key(), 1, 1), owner=None, final=False)


async def test_batches_are_documents_of_the_sessions_partition(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    turn = new_turn_key()
    await store.append_events(session_id, turn, 0, events(turn, 1, 2), owner="ann", final=False)
    await store.append_events(session_id, turn, 1, events(turn, 3, 1, "done"), owner="ann", final=True)
    documents = store.documents()
    assert documents is not None
    head, *kept = await documents.list(session_id)
    assert (head.id, head.kind, head.body) == (f"{session_id}:e", "events_head", {"turn": turn})
    assert [(d.id, d.kind) for d in kept] == [(f"{session_id}:e:{turn}:000000", "events"),
                                              (f"{session_id}:e:{turn}:000001", "events")]
    assert kept[1].body["final"] is True and kept[1].body["owner"] == "ann" and kept[1].body["last"] == 3
    assert kept[1].body["events"] == [[f"{turn}-3", "done", json.dumps({"type": "done", "text": "part 3 ✓"})]]
    assert isinstance(event_log_for(store), DocumentEventLog)


class CountingDocuments(MemoryDocumentStore):
    """Counts the documents each ``list`` hands back."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: list[int] = []

    async def list(self, partition: str, prefix: str = "", *, start: str = "") -> list[Document]:
        found = await super().list(partition, prefix, start=start)
        self.listed.append(len(found))
        return found


async def test_resuming_reads_the_batches_of_one_turn_on_not_the_whole_log(new_id: Callable[[], str]) -> None:
    documents = CountingDocuments()
    log = DocumentEventLog(documents, ttl_seconds=None)
    session_id, clock = new_id(), Clock()
    turns = []
    for _ in range(20):  # an afternoon of turns, each with a few batches
        turns.append(new_turn_key(clock))
        clock.offset += 60
        for batch in range(3):
            await log.append(session_id, turns[-1], batch, events(turns[-1], batch * 2 + 1, 2), owner=None,
                             final=batch == 2)
    resumed = await log.read(session_id, f"{turns[-1]}-2")
    assert ids(resumed) == [f"{turns[-1]}-{n}" for n in range(3, 7)]
    latest = await log.read(session_id)  # no event id: the turn the log's head names
    assert ids(latest) == [f"{turns[-1]}-{n}" for n in range(1, 7)]
    assert documents.listed == [3, 3]  # the last turn's batches, not the 60 the log holds
    # Without its head (expired, or a log written before there was one) the latest turn is still found.
    await documents.delete(session_id, f"{session_id}:e")
    assert ids(await log.read(session_id)) == ids(latest) and documents.listed[-1] == 60


class NoEventsStore(SessionStore):
    async def load(self, session_id: str) -> Session | None:
        return None

    async def save(self, session: Session) -> Session:
        return session

    async def delete(self, session_id: str) -> bool:
        return False


async def test_a_store_without_documents_keeps_events_its_own_way_or_says_what_it_lacks(
        new_id: Callable[[], str]) -> None:
    own = PlainStore()
    log = event_log_for(own)
    assert isinstance(log, StoreEventLog)
    turn, session_id = new_turn_key(), new_id()
    await log.append(session_id, turn, 0, events(turn, 1, 2), owner=None, final=True)
    assert ids(await log.read(session_id)) == [f"{turn}-1", f"{turn}-2"]
    assert own.calls == ["append_events", "read_events"]
    bare = NoEventsStore()
    with pytest.raises(NotImplementedError, match="NoEventsStore keeps no stream events: offer documents"):
        await event_log_for(bare).read(new_id())


def test_turn_keys_sort_by_time_and_ids_parse() -> None:
    clock = Clock()
    keys = []
    for _ in range(5):
        keys.append(new_turn_key(clock))
        clock.offset += 0.002
    assert keys == sorted(keys) and len(set(keys)) == 5
    assert all(len(k) == 12 for k in keys)
    assert parse_event_id(f"{keys[0]}-17") == (keys[0], 17)
    for bad in ("", "1-1", f"{keys[0]}-0", f"{keys[0]}-x", f"{keys[0].upper()}-1", f"{keys[0]}1-1"):
        with pytest.raises(InvalidRequestError):
            parse_event_id(bad)
