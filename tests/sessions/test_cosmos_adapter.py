"""The Cosmos DB adapter's own logic, where the local server differs from Cosmos DB: the 2 MB item limit
(history spilling), TTL (the server stores ``ttl`` but never expires), plus identity and configuration."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

pytest.importorskip("azure.cosmos")

from azure.cosmos import exceptions
from azure.cosmos.aio import ContainerProxy, CosmosClient
from azure.identity.aio import ManagedIdentityCredential

from azurefunctions.agents.errors import AgentFrameworkError, ConfigurationError, InvalidRequestError
from azurefunctions.agents.messages import Message, ToolCall
from azurefunctions.agents.sessions import Session
from azurefunctions.agents.sessions.cosmos import MAX_ITEM_BYTES, CosmosSessionStore, plan_history

from .conftest import REAL_ACCOUNT_TTL, Clock, CosmosTarget

THRESHOLD = 4096


@pytest.fixture
async def stores(cosmos: CosmosTarget) -> AsyncIterator[Callable[..., CosmosSessionStore]]:
    made: list[CosmosSessionStore] = []

    def make(**options: Any) -> CosmosSessionStore:
        options.setdefault("ttl_seconds", None if cosmos.local else REAL_ACCOUNT_TTL)
        store = CosmosSessionStore(
            cosmos.endpoint,
            database=cosmos.database,
            container=cosmos.container,
            create_if_missing=cosmos.local,
            enable_endpoint_discovery=not cosmos.local,
            **options,
        )
        made.append(store)
        return store

    yield make
    for store in made:
        await store.aclose()


@pytest.fixture
async def client(
    cosmos: CosmosTarget, stores: Callable[..., CosmosSessionStore]
) -> AsyncIterator[CosmosClient]:
    """A client of its own, to look at the items the stores wrote."""
    await stores().load("warm-up")  # creates the database and container on the local server
    if cosmos.local:
        credential = ManagedIdentityCredential()
    else:
        from azure.identity.aio import DefaultAzureCredential

        credential = DefaultAzureCredential()
    async with (
        credential,
        CosmosClient(cosmos.endpoint, credential, enable_endpoint_discovery=not cosmos.local) as client,
    ):
        yield client


@pytest.fixture
def container(cosmos: CosmosTarget, client: CosmosClient) -> ContainerProxy:
    return client.get_database_client(cosmos.database).get_container_client(cosmos.container)


async def partition(container: ContainerProxy, session_id: str) -> dict[str, dict[str, Any]]:
    items = container.query_items(
        "SELECT * FROM c WHERE c.pk = @pk",
        parameters=[{"name": "@pk", "value": session_id}],
        partition_key=session_id,
    )
    return {item["id"]: item async for item in items}


def user_messages(count: int, size: int = 400, prefix: str = "m") -> list[Message]:
    return [Message(role="user", content=f"{prefix}{n}:" + "x" * size) for n in range(count)]


# -- spilling -------------------------------------------------------------------------------------------


def test_plan_keeps_small_histories_inline() -> None:
    records = [m.to_dict() for m in user_messages(5)]
    chunks, inline = plan_history("s", records, THRESHOLD)
    assert chunks == [] and inline == records


def test_plan_chunks_are_bounded_ordered_and_stable_under_appends() -> None:
    records = [m.to_dict() for m in user_messages(40)]
    chunks, inline = plan_history("s", records, THRESHOLD)
    assert len(chunks) > 2
    assert [r for c in chunks for r in c.messages] + inline == records
    assert all(len(json.dumps(c.messages)) <= THRESHOLD for c in chunks)
    assert len(json.dumps(inline)) <= THRESHOLD
    assert [c.id.split(":")[:3] for c in chunks] == [["s", "h", str(n)] for n in range(len(chunks))]

    longer, _ = plan_history("s", records + [m.to_dict() for m in user_messages(10, prefix="n")], THRESHOLD)
    assert [c.id for c in longer[: len(chunks)]] == [c.id for c in chunks]


async def test_long_history_spills_into_bounded_items(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores(spill_threshold_bytes=THRESHOLD)
    session_id = new_id()
    messages = user_messages(30)
    session = await store.save(Session(id=session_id, user_id="alice", messages=messages))

    items = await partition(container, session_id)
    chunks = {key: item for key, item in items.items() if key != session_id}
    assert len(chunks) >= 2
    assert all(
        key.startswith(f"{session_id}:h:") and item["pk"] == session_id for key, item in chunks.items()
    )
    assert all(len(json.dumps(item)) < THRESHOLD + 1024 for item in items.values())
    assert [entry["id"] for entry in items[session_id]["history"]] == sorted(
        chunks, key=lambda k: int(k.split(":")[2])
    )

    # appending one message rewrites the session item only
    session.messages.append(Message(role="assistant", content="short reply"))
    await store.save(session)
    after = await partition(container, session_id)
    assert {k: v["_etag"] for k, v in after.items() if k != session_id} == {
        k: v["_etag"] for k, v in chunks.items()
    }

    loaded = await stores(spill_threshold_bytes=THRESHOLD).load(session_id)
    assert loaded is not None and loaded.messages == [
        *messages,
        Message(role="assistant", content="short reply"),
    ]


async def test_rewritten_history_removes_chunks_it_no_longer_uses(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores(spill_threshold_bytes=THRESHOLD)
    session_id = new_id()
    await store.save(Session(id=session_id, messages=user_messages(30)))
    # another store object, with no cached manifest, compacts the history to its last two messages
    other = stores(spill_threshold_bytes=THRESHOLD)
    loaded = await other.load(session_id)
    assert loaded is not None
    fresh = stores(spill_threshold_bytes=THRESHOLD)
    loaded.messages = loaded.messages[-2:]
    await fresh.save(loaded)

    assert list(await partition(container, session_id)) == [session_id]
    reloaded = await store.load(session_id)
    assert reloaded is not None and [m.content[:3] for m in reloaded.messages] == ["m28", "m29"]


async def test_no_item_approaches_two_megabytes(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores()  # the default threshold
    session_id = new_id()
    messages = [
        Message(role="tool", content=f"{n}" * 250_000, tool_call_id=f"c{n}", name="fetch") for n in range(12)
    ]
    await store.save(Session(id=session_id, messages=messages))

    sizes = [len(json.dumps(item)) for item in (await partition(container, session_id)).values()]
    assert sum(sizes) > 3 * 1024 * 1024
    assert len(sizes) >= 3 and max(sizes) < 1.6 * 1024 * 1024


async def test_a_single_message_too_large_for_an_item_is_refused(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores()
    session_id = new_id()
    huge = Message(role="tool", content="z" * MAX_ITEM_BYTES, tool_call_id="c", name="dump")
    with pytest.raises(InvalidRequestError) as raised:
        await store.save(Session(id=session_id, messages=[Message(role="user", content="hi"), huge]))
    assert raised.value.status == 413 and "smaller" in raised.value.message
    assert await partition(container, session_id) == {}


async def test_a_turn_that_loses_the_race_leaves_the_winners_history_intact(
    stores: Callable[..., CosmosSessionStore], new_id: Callable[[], str]
) -> None:
    session_id = new_id()
    first, second = stores(spill_threshold_bytes=THRESHOLD), stores(spill_threshold_bytes=THRESHOLD)
    await first.save(Session(id=session_id, messages=user_messages(9)))
    a, b = await first.load(session_id), await second.load(session_id)
    assert a is not None and b is not None
    a.messages += user_messages(12, prefix="a")  # both close new chunks with different content
    b.messages += user_messages(12, prefix="b")
    await first.save(a)
    with pytest.raises(AgentFrameworkError, match="changed by another request"):
        await second.save(b)

    loaded = await stores(spill_threshold_bytes=THRESHOLD).load(session_id)
    assert loaded is not None and loaded.messages == a.messages


async def test_missing_history_chunk_is_reported(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores(spill_threshold_bytes=THRESHOLD)
    session_id = new_id()
    await store.save(Session(id=session_id, messages=user_messages(30)))
    chunk_id = next(key for key in await partition(container, session_id) if key != session_id)
    await container.delete_item(chunk_id, partition_key=session_id)

    with pytest.raises(AgentFrameworkError, match="missing part of its history"):
        await store.load(session_id)
    assert await store.delete(session_id) is True
    assert await partition(container, session_id) == {}


# -- TTL --------------------------------------------------------------------------------------------------


async def test_items_carry_ttl_and_chunks_outlive_their_session(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    clock = Clock()
    store = stores(ttl_seconds=600, clock=clock, spill_threshold_bytes=THRESHOLD)
    session_id = new_id()
    session = await store.save(Session(id=session_id, messages=user_messages(30)))
    items = await partition(container, session_id)
    assert items[session_id]["ttl"] == 600
    chunk_ids = [key for key in items if key != session_id]
    assert chunk_ids and all(items[key]["ttl"] == 1200 for key in chunk_ids)

    # a turn after more than one TTL of activity rewrites the old chunks, restarting their clocks
    clock.offset = 500
    session.messages.append(Message(role="user", content="later"))
    session = await store.save(session)
    clock.offset = 1000
    session.messages.append(Message(role="user", content="much later"))
    await store.save(session)
    after = await partition(container, session_id)
    assert all(after[key]["_etag"] != items[key]["_etag"] for key in chunk_ids)
    manifest = after[session_id]["history"]
    assert all(entry["written_at"] >= clock() - 5 for entry in manifest if entry["id"] in chunk_ids)


async def test_no_ttl_means_items_never_expire(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    session_id = new_id()
    store = stores(ttl_seconds=None)
    await store.save(Session(id=session_id))
    try:
        assert (await partition(container, session_id))[session_id]["ttl"] == -1
    finally:
        await store.delete(session_id)


async def test_an_idle_session_reads_as_missing_before_the_service_removes_it(
    cosmos: CosmosTarget,
    stores: Callable[..., CosmosSessionStore],
    container: ContainerProxy,
    new_id: Callable[[], str],
) -> None:
    if not cosmos.local:
        pytest.skip("a real account removes expired items itself")
    clock = Clock()
    store = stores(ttl_seconds=60, clock=clock)
    session_id = new_id()
    await store.save(Session(id=session_id, user_id="alice"))
    clock.offset = 61
    assert await store.load(session_id) is None
    assert session_id in await partition(container, session_id)  # the server keeps it; the adapter hides it


# -- identity and configuration -------------------------------------------------------------------------


async def test_requests_are_authorised_with_a_managed_identity_token(
    cosmos: CosmosTarget, stores: Callable[..., CosmosSessionStore], new_id: Callable[[], str]
) -> None:
    if not cosmos.local or cosmos.identity is None:
        pytest.skip("needs the local token endpoint")
    before = len(cosmos.identity.requests)
    store = stores()  # no credential given: DefaultAzureCredential, which finds the managed identity
    await store.save(Session(id=new_id()))
    asked = cosmos.identity.requests[before:]
    assert asked and {request.resource for request in asked} <= {
        "https://127.0.0.1",
        "https://cosmos.azure.com",
    }


async def test_a_missing_container_is_a_configuration_error_and_nothing_is_created(
    cosmos: CosmosTarget, client: CosmosClient
) -> None:
    if not cosmos.local:
        pytest.skip("creates nothing on a real account, but probing names there is pointless")
    store = CosmosSessionStore(
        cosmos.endpoint,
        database=cosmos.database,
        container="absent",
        ttl_seconds=None,
        enable_endpoint_discovery=False,
    )
    try:
        with pytest.raises(ConfigurationError, match=r"'absent'.*does not exist"):
            await store.load("s-1")
    finally:
        await store.aclose()
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        await client.get_database_client(cosmos.database).get_container_client("absent").read()
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        await client.get_database_client("never-created").read()
    store = CosmosSessionStore(
        cosmos.endpoint, database="never-created", ttl_seconds=None, enable_endpoint_discovery=False
    )
    try:
        with pytest.raises(ConfigurationError, match="never-created"):
            await store.save(Session(id="s-1"))
    finally:
        await store.aclose()
    with pytest.raises(exceptions.CosmosResourceNotFoundError):
        await client.get_database_client("never-created").read()


def test_configuration_is_checked_when_the_store_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="COSMOS_ENDPOINT"):
        CosmosSessionStore()
    with pytest.raises(ConfigurationError, match="https://"):
        CosmosSessionStore("http://127.0.0.1:8081/")
    with pytest.raises(ConfigurationError, match="spill_threshold_bytes"):
        CosmosSessionStore("https://example.documents.azure.com/", spill_threshold_bytes=3 * 1024 * 1024)
    monkeypatch.setenv("COSMOS_ENDPOINT", "https://example.documents.azure.com:443/")
    monkeypatch.setenv("COSMOS_DATABASE", "db1")
    monkeypatch.setenv("COSMOS_CONTAINER", "c1")
    store = CosmosSessionStore()
    assert (store.endpoint, store.database_name, store.container_name) == (
        "https://example.documents.azure.com:443/",
        "db1",
        "c1",
    )


def test_tool_calls_survive_the_item_shape() -> None:
    records = [
        Message(role="assistant", tool_calls=[ToolCall(id="1", name="f", arguments={"a": [1]})]).to_dict()
    ]
    chunks, inline = plan_history("s", records, THRESHOLD)
    assert chunks == [] and Message.from_dict(inline[0]).tool_calls[0].arguments == {"a": [1]}
