"""The in-memory document store forgets expired documents nobody reads again (a process running many journaled
turns on the memory store does not keep them all)."""

from __future__ import annotations

from azurefunctions.agents.storage import MemoryDocumentStore
from azurefunctions.agents.storage.memory import _SWEEP_EVERY


async def test_expired_documents_that_are_never_read_again_are_dropped() -> None:
    now = [1000.0]
    store = MemoryDocumentStore(clock=lambda: now[0])
    for n in range(_SWEEP_EVERY - 2):
        await store.put(f"p{n}", "d", {"n": n}, kind="note", ttl_seconds=10)
    await store.put("kept", "d", {"n": -1}, kind="note")
    assert len(store._items) == _SWEEP_EVERY - 1
    now[0] += 11
    await store.put("new", "d", {}, kind="note", ttl_seconds=10)  # the write that sweeps
    assert sorted(store._items) == ["kept", "new"]
    assert (await store.get("kept", "d")) is not None
