"""The turn journal (run/journal.py) on every backend: heads with leases and etags, steps written once and read
back in order, the session's paused-turn pointer, and expiry with the session."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from azurefunctions.agents.run.journal import TurnHead, TurnJournal, idempotency_key, journal_partition
from azurefunctions.agents.storage import DocumentConflictError
from tests.sessions.conftest import Backend, Clock


def journal_of(backend: Backend, **options: object) -> TurnJournal:
    journal = TurnJournal.for_store(backend.make(**options))  # type: ignore[arg-type]
    assert journal is not None, f"the {backend.name} store keeps no journal"
    return journal


def new_head(partition: str, turn_id: str | None = None) -> TurnHead:
    turn_id = turn_id or f"t-{uuid.uuid4().hex[:10]}"
    return TurnHead(turn_id=turn_id, partition=partition, session_id=partition, agent="Refunds", user_id="ana",
                    request={"message": "refund order 7", "turn_id": turn_id}, history_length=4)


async def test_a_head_reads_back_and_is_replaced_only_over_the_version_read(backend: Backend) -> None:
    journal = journal_of(backend)
    head = new_head(f"s-{uuid.uuid4().hex}")
    journal.claim(head, "worker-1")
    created = await journal.create(head)
    read = await journal.get(head.partition, head.turn_id)
    assert read is not None and read.etag == created.etag
    assert (read.agent, read.user_id, read.request["message"], read.history_length, read.lease_owner) == (
        "Refunds", "ana", "refund order 7", 4, "worker-1")
    assert journal.lease_live(read)
    with pytest.raises(DocumentConflictError):  # a retry racing the first request: one head only
        await journal.create(new_head(head.partition, head.turn_id))
    read.status = "awaiting_approval"
    read.approvals = [{"id": "a1", "status": "pending"}]
    replaced = await journal.replace(read)
    assert replaced.etag != created.etag
    created.status = "completed"
    with pytest.raises(DocumentConflictError):  # stale: someone wrote after this copy was read
        await journal.replace(created)
    stored = await journal.get(head.partition, head.turn_id)
    assert stored is not None and stored.status == "awaiting_approval"
    assert stored.approval("a1") == {"id": "a1", "status": "pending"} and stored.approval("zz") is None
    assert not journal.lease_live(stored)  # only a running turn holds a lease


async def test_steps_are_written_once_and_read_in_order_per_turn(backend: Backend) -> None:
    journal, partition = journal_of(backend), f"s-{uuid.uuid4().hex}"
    for seq, (kind, key) in enumerate([("model", "A:m1"), ("tool_started", "A:m1:t:c1"), ("tool", "A:m1:t:c1")]):
        await journal.add_step(partition, "turn:1", seq, kind, {"key": key})  # type: ignore[arg-type]
    await journal.add_step(partition, "turn:1:x", 0, "model", {"key": "B:m1"})  # a turn id extending the first
    with pytest.raises(DocumentConflictError):  # a second worker writing the same step loses
        await journal.add_step(partition, "turn:1", 2, "tool", {"key": "A:m1:t:c1"})
    steps = await journal.steps(partition, "turn:1")
    assert [(s.seq, s.type, s.key) for s in steps] == [
        (0, "model", "A:m1"), (1, "tool_started", "A:m1:t:c1"), (2, "tool", "A:m1:t:c1")]
    assert [s.key for s in await journal.steps(partition, "turn:1:x")] == ["B:m1"]


async def test_of_two_stores_racing_for_one_step_exactly_one_writes_it(backend: Backend) -> None:
    first, second, partition = journal_of(backend), journal_of(backend), f"s-{uuid.uuid4().hex}"

    async def write(journal: TurnJournal, n: int) -> int | None:
        try:
            await journal.add_step(partition, "t", 5, "model", {"key": "A:m1", "writer": n})
        except DocumentConflictError:
            return None
        return n

    winners = [n for n in await asyncio.gather(*(write((first, second)[n % 2], n) for n in range(6)))
               if n is not None]
    assert len(winners) == 1
    assert [s.body["writer"] for s in await second.steps(partition, "t")] == winners


async def test_a_lease_lapses_when_its_worker_stops_renewing_it(backend: Backend) -> None:
    clock = Clock()
    journal = journal_of(backend)
    journal.clock = clock
    head = new_head(f"s-{uuid.uuid4().hex}")
    journal.claim(head, "worker-1")
    head = await journal.create(head)
    assert journal.lease_live(head)
    clock.offset = journal.lease_seconds + 1
    assert not journal.lease_live(head)
    journal.claim(head, "worker-2")  # the take-over
    taken = await journal.replace(head)
    assert journal.lease_live(taken) and taken.lease_owner == "worker-2"


async def test_the_paused_turn_pointer_names_one_turn_and_is_cleared_by_it_only(backend: Backend) -> None:
    journal, session = journal_of(backend), f"s-{uuid.uuid4().hex}"
    assert await journal.paused_turn(session) is None
    await journal.set_paused(session, "t1")
    assert await journal.paused_turn(session) == "t1"
    await journal.clear_paused(session, "t0")  # another turn's clear leaves it
    assert await journal.paused_turn(session) == "t1"
    await journal.clear_paused(session, "t1")
    assert await journal.paused_turn(session) is None


async def test_the_journal_expires_with_the_session_but_not_before_an_approval_can_be_decided(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_APPROVAL_TIMEOUT_SECONDS", "600")
    clock = Clock()
    journal = journal_of(backend, ttl_seconds=60, clock=clock)
    assert journal.ttl_seconds == 600 + 3600  # the session's 60 s would drop a pending approval
    head = new_head(f"s-{uuid.uuid4().hex}")
    await journal.create(head)
    await journal.add_step(head.partition, head.turn_id, 0, "model", {"key": "A:m1"})
    clock.offset = 4000
    assert await journal.get(head.partition, head.turn_id) is not None
    clock.offset = 4300
    assert await journal.get(head.partition, head.turn_id) is None
    assert await journal.steps(head.partition, head.turn_id) == []


def test_idempotency_keys_are_stable_per_call_and_differ_between_calls() -> None:
    key = idempotency_key("s1", "t1", "Refunds", "call_1")
    assert key == idempotency_key("s1", "t1", "Refunds", "call_1") and len(key) == 32
    assert len({key, idempotency_key("s1", "t1", "Refunds", "call_2"), idempotency_key("s1", "t2", "Refunds",
                "call_1"), idempotency_key("s2", "t1", "Refunds", "call_1")}) == 4
    assert journal_partition(None, "t9") == "turn:t9" and journal_partition("s1", "t9") == "s1"


def test_a_store_without_documents_keeps_no_journal() -> None:
    class Plain:
        idle_ttl_seconds = None

        def documents(self) -> None:
            return None

    assert TurnJournal.for_store(Plain()) is None
