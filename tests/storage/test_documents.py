"""The ``DocumentStore`` contract, on every backend: the same calls give the same answers on memory, SQLite and
Cosmos DB, so the records built on it (background turns) behave alike wherever an app keeps its state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from tests.sessions.conftest import Backend, Clock

from azurefunctions.agents.sessions.base import Session
from azurefunctions.agents.storage import NEW, DocumentConflictError, DocumentStore


def documents_of(backend: Backend, **options: Any) -> DocumentStore:
    documents = backend.make(**options).documents()
    assert documents is not None, f"the {backend.name} session store offers no document store"
    return documents


def partition() -> str:
    return f"p-{uuid.uuid4().hex[:12]}"


async def test_a_document_reads_back_with_a_new_etag_on_every_write(backend: Backend) -> None:
    documents, pk = documents_of(backend), partition()
    assert await documents.get(pk, "a") is None
    body = {"n": 1, "nested": {"é": [1, None]}}
    first = await documents.put(pk, "a", body, kind="note", if_match=NEW)
    assert (first.partition, first.id, first.kind, first.body) == (pk, "a", "note", body)
    read = await documents.get(pk, "a")
    assert read == first
    second = await documents.put(pk, "a", {"n": 2}, kind="note", if_match=first.etag)
    assert second.etag and second.etag != first.etag
    assert await documents.get(pk, "a") == second
    third = await documents.put(pk, "a", {"n": 3}, kind="note")  # unconditional
    assert third.etag not in (first.etag, second.etag)
    stored = await documents.get(pk, "a")
    assert stored is not None and stored.body == {"n": 3}


async def test_a_failed_precondition_is_a_conflict_and_writes_nothing(backend: Backend) -> None:
    documents, pk = documents_of(backend), partition()
    with pytest.raises(DocumentConflictError):
        await documents.put(pk, "a", {"n": 0}, kind="note", if_match="no-such-etag")  # nothing to replace
    assert await documents.get(pk, "a") is None
    first = await documents.put(pk, "a", {"n": 1}, kind="note", if_match=NEW)
    with pytest.raises(DocumentConflictError):
        await documents.put(pk, "a", {"n": 9}, kind="note", if_match=NEW)
    second = await documents.put(pk, "a", {"n": 2}, kind="note", if_match=first.etag)
    with pytest.raises(DocumentConflictError):
        await documents.put(pk, "a", {"n": 9}, kind="note", if_match=first.etag)  # stale
    assert await documents.get(pk, "a") == second


async def test_of_racing_creates_exactly_one_wins(backend: Backend) -> None:
    # Two store objects over the same data (two instances of an app), four writers each.
    stores, pk = [documents_of(backend), documents_of(backend)], partition()

    async def create(n: int) -> int | None:
        try:
            await stores[n % 2].put(pk, "claim", {"writer": n}, kind="note", if_match=NEW)
        except DocumentConflictError:
            return None
        return n

    winners = [n for n in await asyncio.gather(*(create(n) for n in range(8))) if n is not None]
    assert len(winners) == 1
    stored = await stores[1].get(pk, "claim")
    assert stored is not None and stored.body == {"writer": winners[0]}


async def test_delete_answers_whether_there_was_a_document_and_honours_its_etag(backend: Backend) -> None:
    documents, pk = documents_of(backend), partition()
    first = await documents.put(pk, "a", {"n": 1}, kind="note")
    second = await documents.put(pk, "a", {"n": 2}, kind="note")
    with pytest.raises(DocumentConflictError):
        await documents.delete(pk, "a", if_match=first.etag)
    assert await documents.get(pk, "a") == second
    assert await documents.delete(pk, "a", if_match=second.etag) is True
    assert await documents.get(pk, "a") is None
    assert await documents.delete(pk, "a") is False
    with pytest.raises(DocumentConflictError):
        await documents.delete(pk, "a", if_match=second.etag)


async def test_list_gives_a_partitions_documents_by_id_prefix_in_id_order(backend: Backend) -> None:
    documents, pk, other = documents_of(backend), partition(), partition()
    for item_id in ("task:b", "task:a", "task:c", "turn:a"):
        await documents.put(pk, item_id, {"id_was": item_id}, kind="note")
    await documents.put(other, "task:z", {}, kind="note")
    listed = await documents.list(pk, "task:")
    assert [d.id for d in listed] == ["task:a", "task:b", "task:c"]
    assert [d.body for d in listed] == [{"id_was": "task:a"}, {"id_was": "task:b"}, {"id_was": "task:c"}]
    assert all(d.etag and d.kind == "note" and d.partition == pk for d in listed)
    assert [d.id for d in await documents.list(pk)] == ["task:a", "task:b", "task:c", "turn:a"]
    assert await documents.list(partition(), "task:") == []


async def test_list_from_an_id_on_skips_the_ids_before_it(backend: Backend) -> None:
    documents, pk = documents_of(backend), partition()
    for item_id in ("s:e:1:000000", "s:e:1:000001", "s:e:2:000000", "s:e:3:000000", "s:f:0"):
        await documents.put(pk, item_id, {}, kind="note")
    assert [d.id for d in await documents.list(pk, "s:e:", start="s:e:2:")] == ["s:e:2:000000", "s:e:3:000000"]
    assert [d.id for d in await documents.list(pk, "s:e:", start="s:e:1:000001")] == [
        "s:e:1:000001", "s:e:2:000000", "s:e:3:000000"]
    assert await documents.list(pk, "s:e:", start="s:e:4:") == []
    assert [d.id for d in await documents.list(pk, start="s:f")] == ["s:f:0"]  # with no prefix too


async def test_a_document_with_a_ttl_reads_as_missing_once_it_has_passed(backend: Backend) -> None:
    clock = Clock()
    documents, pk = documents_of(backend, clock=clock), partition()
    kept = await documents.put(pk, "kept", {}, kind="note")
    gone = await documents.put(pk, "gone", {"n": 1}, kind="note", ttl_seconds=30)
    clock.offset = 20
    assert await documents.get(pk, "gone") == gone
    clock.offset = 31
    assert await documents.get(pk, "gone") is None
    assert [d.id for d in await documents.list(pk)] == ["kept"]
    with pytest.raises(DocumentConflictError):
        await documents.put(pk, "gone", {}, kind="note", if_match=gone.etag)
    # An expired document's id may be created again.
    again = await documents.put(pk, "gone", {"n": 2}, kind="note", if_match=NEW, ttl_seconds=30)
    assert await documents.get(pk, "gone") == again
    assert await documents.get(pk, "kept") == kept


async def test_documents_in_a_sessions_partition_leave_the_session_alone_and_go_with_it(
        backend: Backend, new_id: Callable[[], str]) -> None:
    sessions = backend.make()
    documents = sessions.documents()
    assert documents is not None
    saved = await sessions.save(Session(id=new_id(), user_id="ana"))
    await documents.put(saved.id, "note:1", {"text": "kept with the session"}, kind="note")
    loaded = await sessions.load(saved.id)
    assert loaded is not None and loaded.etag == saved.etag and loaded.messages == []
    assert await sessions.delete(saved.id)
    assert await documents.get(saved.id, "note:1") is None


@pytest.mark.parametrize(("call", "named"), [
    (lambda d: d.get("", "a"), "partition"),
    (lambda d: d.get("p", ""), "id"),
    (lambda d: d.put("p", "a", {"id": "x"}, kind="note"), "'id'"),
    (lambda d: d.put("p", "a", {"_etag": "x"}, kind="note"), "'_etag'"),
    (lambda d: d.put("p", "a", {}, kind="Not A Kind"), "kind"),
    (lambda d: d.put("p", "a", {}, kind="note", ttl_seconds=0), "ttl_seconds"),
    (lambda d: d.put("p", "a", [], kind="note"), "body"),
    (lambda d: d.delete("p", ""), "id"),
    (lambda d: d.list(""), "partition"),
])
async def test_bad_arguments_are_refused_naming_the_argument(backend: Backend, call: Any, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        await call(documents_of(backend))
