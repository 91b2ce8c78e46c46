"""One contract, every backend: memory, SQLite and Cosmos DB (local server, or a real account when
``COSMOS_ENDPOINT`` is set)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from azurefunctions.agents.errors import InvalidRequestError, SessionBusyError
from azurefunctions.agents.messages import Message, ToolCall
from azurefunctions.agents.sessions import Session

from .conftest import Backend, Clock
from .worker import take_turn

WORKER = Path(__file__).with_name("worker.py")


def conversation() -> list[Message]:
    return [
        Message(role="user", content="What's the weather in Paris? ünïcødé ✓"),
        Message(
            role="assistant",
            content="",
            agent="weather",
            tool_calls=[
                ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris", "days": [1, 2]}),
                ToolCall(id="call_2", name="broken", arguments={}, invalid_arguments="{not json"),
            ],
        ),
        Message(
            role="tool", content='{"temp": 21}', tool_call_id="call_1", name="get_weather", agent="weather"
        ),
        Message(role="tool", content="bad arguments", tool_call_id="call_2", name="broken", is_error=True),
        Message(role="assistant", content="It is 21 °C in Paris.", agent="weather"),
    ]


async def test_history_round_trip(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    assert await store.load(session_id) is None

    saved = await store.save(
        Session(
            id=session_id,
            user_id="alice",
            active_agent="weather",
            messages=conversation(),
            metadata={"channel": "web", "n": 1},
        )
    )
    assert saved.etag

    loaded = await store.load(session_id)
    assert loaded is not None
    assert loaded.messages == conversation()
    assert (loaded.user_id, loaded.active_agent, loaded.metadata) == (
        "alice",
        "weather",
        {"channel": "web", "n": 1},
    )
    assert loaded.etag == saved.etag
    assert loaded.updated_at == pytest.approx(saved.updated_at, abs=1.0)


async def test_creating_an_existing_session_conflicts(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    await store.save(
        Session(id=session_id, user_id="alice", messages=[Message(role="user", content="first")])
    )

    with pytest.raises(SessionBusyError):
        await store.save(
            Session(id=session_id, user_id="mallory", messages=[Message(role="user", content="x")])
        )

    loaded = await store.load(session_id)
    assert loaded is not None and loaded.user_id == "alice"
    assert [m.content for m in loaded.messages] == ["first"]


async def test_stale_etag_is_refused(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    await store.save(Session(id=session_id, user_id="alice"))
    first, second = await store.load(session_id), await store.load(session_id)
    assert first is not None and second is not None

    first.messages.append(Message(role="user", content="from first"))
    await store.save(first)
    second.messages.append(Message(role="user", content="from second"))
    with pytest.raises(SessionBusyError) as raised:
        await store.save(second)
    assert raised.value.status == 409 and raised.value.code == "session_busy"

    retried = await store.load(session_id)
    assert retried is not None
    retried.messages.append(Message(role="user", content="from second"))
    await store.save(retried)
    final = await store.load(session_id)
    assert final is not None
    assert [m.content for m in final.messages] == ["from first", "from second"]


async def test_concurrent_turns_lose_no_update(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()

    retries = await asyncio.gather(*(take_turn(store, session_id, f"turn-{n}") for n in range(50)))

    loaded = await store.load(session_id)
    assert loaded is not None
    assert sorted(m.content for m in loaded.messages) == sorted(f"turn-{n}" for n in range(50))
    assert sum(retries) > 0  # the turns really raced


async def test_two_processes_lose_no_update(backend: Backend, new_id: Callable[[], str]) -> None:
    if not backend.persistent:
        pytest.skip("the memory store lives in one process")
    session_id = new_id()
    if backend.name == "cosmos":  # the container exists before the apps start: the infrastructure makes it
        assert await backend.make().load(session_id) is None
    env = backend.subprocess_env()
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), session_id, "15", label],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for label in ("a", "b")
    ]
    for worker in workers:
        _out, err = worker.communicate(timeout=90)
        assert worker.returncode == 0, err[-2000:]

    loaded = await backend.make().load(session_id)
    assert loaded is not None
    contents = [m.content for m in loaded.messages]
    assert sorted(contents) == sorted([f"a-{n}" for n in range(15)] + [f"b-{n}" for n in range(15)])
    # each process's own turns stay in order
    assert [c for c in contents if c.startswith("a-")] == [f"a-{n}" for n in range(15)]


async def test_idle_session_expires(backend: Backend, new_id: Callable[[], str]) -> None:
    clock = Clock()
    store = backend.make(ttl_seconds=30, clock=clock)
    session_id = new_id()
    await store.save(Session(id=session_id, user_id="alice", messages=[Message(role="user", content="hi")]))

    clock.offset = 20
    loaded = await store.load(session_id)
    assert loaded is not None
    loaded.messages.append(Message(role="user", content="still here"))
    await store.save(loaded)  # a turn restarts the idle timer

    clock.offset = 45
    assert await store.load(session_id) is not None

    clock.offset = 20 + 31
    assert await store.load(session_id) is None
    assert await store.delete(session_id) is False

    # an expired session is gone: its id can start a new conversation
    fresh = await store.save(Session(id=session_id, user_id="bob"))
    reloaded = await store.load(session_id)
    assert reloaded is not None and reloaded.user_id == "bob" and reloaded.messages == []
    assert reloaded.etag == fresh.etag


async def test_conversation_beyond_two_megabytes_saves_and_loads(
    backend: Backend, new_id: Callable[[], str]
) -> None:
    store = backend.make()
    session_id = new_id()
    # 2.4 MB of history, each turn a user message, a tool call and a 100 kB tool result
    messages: list[Message] = []
    for n in range(8):
        messages += [
            Message(role="user", content=f"question {n}"),
            Message(role="assistant", tool_calls=[ToolCall(id=f"c{n}", name="fetch", arguments={"page": n})]),
            Message(role="tool", content=f"{n}" * 300_000, tool_call_id=f"c{n}", name="fetch"),
        ]
    session = await store.save(Session(id=session_id, user_id="alice", messages=messages))
    assert sum(len(m.content) for m in messages) > 2 * 1024 * 1024

    session.messages.append(Message(role="assistant", content="done"))
    await store.save(session)

    loaded = await backend.make().load(session_id)
    assert loaded is not None
    assert loaded.messages == [*messages, Message(role="assistant", content="done")]


async def test_session_survives_a_restart(backend: Backend, new_id: Callable[[], str]) -> None:
    if not backend.persistent:
        pytest.skip("the memory store keeps nothing across a restart")
    session_id = new_id()
    first = backend.make()
    await first.save(
        Session(
            id=session_id,
            user_id="alice",
            active_agent="triage",
            messages=[Message(role="user", content="turn one")],
        )
    )
    await first.aclose()

    # another process takes turn two through the store the settings select
    result = subprocess.run(
        [sys.executable, str(WORKER), session_id, "1", "turn-two"],
        env=backend.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]

    loaded = await backend.make().load(session_id)
    assert loaded is not None
    assert [m.content for m in loaded.messages] == ["turn one", "turn-two-0"]
    assert (loaded.user_id, loaded.active_agent) == ("alice", "triage")


async def test_delete(backend: Backend, new_id: Callable[[], str]) -> None:
    store = backend.make()
    session_id = new_id()
    await store.save(Session(id=session_id, user_id="alice", messages=conversation()))

    assert await store.delete(session_id) is True
    assert await store.load(session_id) is None
    assert await store.delete(session_id) is False
    other = backend.make()
    assert await other.load(session_id) is None

    await store.save(Session(id=session_id, user_id="bob"))  # the id is free again
    again = await store.load(session_id)
    assert again is not None and again.user_id == "bob"


@pytest.mark.parametrize("bad", ["", "a/b", "a?b", "x#y", "back\\slash", ".hidden", "x" * 129, "sp ace"])
async def test_invalid_session_ids_are_refused(backend: Backend, bad: str) -> None:
    store = backend.make()
    with pytest.raises(InvalidRequestError, match="session_id"):
        await store.load(bad)
    with pytest.raises(InvalidRequestError, match="session_id"):
        await store.save(Session(id=bad))
    with pytest.raises(InvalidRequestError, match="session_id"):
        await store.delete(bad)
