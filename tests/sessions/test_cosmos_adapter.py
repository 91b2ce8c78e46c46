"""The Cosmos DB adapter's own logic, where the local server differs from Cosmos DB: the 2 MB item limit
(history pages), TTL (the server stores ``ttl`` but never expires), plus identity and configuration."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("azure.cosmos")

from azure.cosmos import exceptions
from azure.cosmos.aio import ContainerProxy, CosmosClient
from azure.identity.aio import ManagedIdentityCredential

from azurefunctions.agents.azure.sdk_logging import HTTP_LOGGERS, quiet_http_logging
from azurefunctions.agents.errors import AgentFrameworkError, ConfigurationError, InvalidRequestError
from azurefunctions.agents.messages import Message, ToolCall
from azurefunctions.agents.sessions import Session
from azurefunctions.agents.sessions.cosmos import MAX_ITEM_BYTES, CosmosSessionStore, page_item_id, plan_pages

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


# -- history pages --------------------------------------------------------------------------------------


def test_pages_are_bounded_ordered_and_start_where_told() -> None:
    records = [m.to_dict() for m in user_messages(30)]
    pages = plan_pages(records, 7, THRESHOLD)
    assert len(pages) >= 3 and pages[0][0] == 7
    assert [r for _, page in pages for r in page] == records
    assert all(len(json.dumps(page)) <= THRESHOLD for _, page in pages)
    assert [start for start, _ in pages] == [7 + sum(len(p) for _, p in pages[:i]) for i in range(len(pages))]
    assert plan_pages([], 3, THRESHOLD) == []


async def test_a_turn_writes_one_page_and_changes_no_earlier_item(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores(spill_threshold_bytes=THRESHOLD)
    session_id = new_id()
    session = await store.save(Session(id=session_id, user_id="alice", messages=user_messages(30)))
    items = await partition(container, session_id)
    head = items[session_id]
    pages = {key: item for key, item in items.items() if key != session_id}
    assert head["count"] == 30 and "messages" not in head and len(pages) >= 2
    assert all(key == page_item_id(session_id, head["generation"], item["start"]) for key, item in pages.items())
    assert all(len(json.dumps(item)) < THRESHOLD + 1024 for item in items.values())

    window = await store.load_recent(session_id, 2)
    assert window is not None and window.history_start == 28
    await store.append(window, [Message(role="assistant", content="short reply")])
    after = await partition(container, session_id)
    assert {k: v["_etag"] for k, v in after.items() if k in pages} == {k: v["_etag"] for k, v in pages.items()}
    new_pages = [item for key, item in after.items() if key != session_id and key not in pages]
    assert [(p["start"], p["stop"]) for p in new_pages] == [(30, 31)] and after[session_id]["count"] == 31

    loaded = await stores(spill_threshold_bytes=THRESHOLD).load(session_id)
    reply = Message(role="assistant", content="short reply")
    assert loaded is not None and loaded.messages == [*session.messages, reply]


async def test_rewritten_history_removes_the_pages_it_replaced(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores(spill_threshold_bytes=THRESHOLD)
    session_id = new_id()
    await store.save(Session(id=session_id, messages=user_messages(30)))
    # another store object, with nothing cached, compacts the history to its last two messages
    loaded = await stores(spill_threshold_bytes=THRESHOLD).load(session_id)
    assert loaded is not None
    loaded.messages = loaded.messages[-2:]
    await stores(spill_threshold_bytes=THRESHOLD).save(loaded)

    items = await partition(container, session_id)
    assert len(items) == 2 and items[session_id]["count"] == 2
    reloaded = await store.load(session_id)
    assert reloaded is not None and [m.content[:3] for m in reloaded.messages] == ["m28", "m29"]


async def test_no_item_approaches_two_megabytes(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores()  # the default page size
    session_id = new_id()
    messages = [
        Message(role="tool", content=f"{n}" * 250_000, tool_call_id=f"c{n}", name="fetch") for n in range(12)
    ]
    await store.save(Session(id=session_id, messages=messages))

    sizes = [len(json.dumps(item)) for item in (await partition(container, session_id)).values()]
    assert sum(sizes) > 3 * 1024 * 1024
    assert len(sizes) >= 3 and max(sizes) < 1.6 * 1024 * 1024
    assert (await store.load(session_id)).messages == messages  # type: ignore[union-attr]


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


async def test_a_turn_adding_more_than_one_transaction_holds_is_refused_and_changes_nothing(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores()
    session_id = new_id()
    session = await store.save(Session(id=session_id, messages=user_messages(2)))
    before = await partition(container, session_id)
    results = [Message(role="tool", content="y" * 700_000, tool_call_id=f"c{n}", name="dump") for n in range(3)]
    with pytest.raises(InvalidRequestError) as raised:
        await store.append(session, results)
    assert raised.value.status == 413 and raised.value.code == "message_too_large"
    assert {k: v["_etag"] for k, v in (await partition(container, session_id)).items()} == {
        k: v["_etag"] for k, v in before.items()
    }


async def test_a_turn_that_loses_the_race_leaves_the_winners_history_intact(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    session_id = new_id()
    first, second = stores(spill_threshold_bytes=THRESHOLD), stores(spill_threshold_bytes=THRESHOLD)
    await first.save(Session(id=session_id, messages=user_messages(9)))
    a, b = await first.load_recent(session_id, 4), await second.load_recent(session_id, 4)
    assert a is not None and b is not None
    await first.append(a, user_messages(12, prefix="a"))
    before = await partition(container, session_id)
    with pytest.raises(AgentFrameworkError, match="changed by another request"):
        await second.append(b, user_messages(12, prefix="b"))

    assert set(await partition(container, session_id)) == set(before)  # nothing of the loser was written
    loaded = await stores(spill_threshold_bytes=THRESHOLD).load(session_id)
    assert loaded is not None and loaded.messages == [*user_messages(9), *user_messages(12, prefix="a")]


async def test_missing_history_page_is_reported(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    store = stores(spill_threshold_bytes=THRESHOLD)
    session_id = new_id()
    await store.save(Session(id=session_id, messages=user_messages(30)))
    page_id = next(key for key in await partition(container, session_id) if key != session_id)
    await container.delete_item(page_id, partition_key=session_id)

    with pytest.raises(AgentFrameworkError, match="missing part of its history"):
        await store.load(session_id)
    assert await store.delete(session_id) is True
    assert await partition(container, session_id) == {}


# -- TTL --------------------------------------------------------------------------------------------------


async def test_items_carry_ttl_and_pages_outlive_their_session(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    clock = Clock()
    store = stores(ttl_seconds=600, clock=clock, spill_threshold_bytes=THRESHOLD)
    session_id = new_id()
    session = await store.save(Session(id=session_id, messages=user_messages(30)))
    items = await partition(container, session_id)
    assert items[session_id]["ttl"] == 600
    page_ids = [key for key in items if key != session_id]
    assert page_ids and all(items[key]["ttl"] == 1200 for key in page_ids)

    # within one TTL of the last renewal a turn touches no earlier page
    clock.offset = 500
    session = await store.append(session, [Message(role="user", content="later")])
    middle = await partition(container, session_id)
    assert all(middle[key]["_etag"] == items[key]["_etag"] for key in page_ids)
    # past it, a turn renews every earlier page (a patch of its ttl restarts its clock)
    clock.offset = 1000
    await store.append(session, [Message(role="user", content="much later")])
    after = await partition(container, session_id)
    assert all(after[key]["_etag"] != items[key]["_etag"] and after[key]["ttl"] == 1200 for key in page_ids)
    assert after[session_id]["renewed_at"] >= clock() - 5


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
    [(start, page)] = plan_pages(records, 0, THRESHOLD)
    assert start == 0 and Message.from_dict(page[0]).tool_calls[0].arguments == {"a": [1]}


# -- logging --------------------------------------------------------------------------------------------


@pytest.fixture
def http_loggers() -> Iterator[list[logging.Logger]]:
    """The Azure SDKs' HTTP logging loggers, back at their unset level before and after the test."""
    loggers = [logging.getLogger(name) for name in HTTP_LOGGERS]
    for logger in loggers:
        logger.setLevel(logging.NOTSET)
    yield loggers
    for logger in loggers:
        logger.setLevel(logging.NOTSET)


async def test_cosmos_requests_are_not_logged_at_the_hosts_default_level(
    stores: Callable[..., CosmosSessionStore], new_id: Callable[[], str], caplog: pytest.LogCaptureFixture,
    http_loggers: list[logging.Logger],
) -> None:
    caplog.set_level(logging.INFO)  # the level the Functions host collects from
    store = stores()
    session = await store.append(Session(id=new_id()), [Message(role="user", content="hi")])
    await store.append(session, [Message(role="assistant", content="hello")])
    # (azure-identity's few records about which credential got a token stay: one set per token, not per request)
    assert [r.getMessage() for r in caplog.records if r.name in HTTP_LOGGERS] == []
    assert all(logger.level == logging.WARNING for logger in http_loggers)


async def test_cosmos_request_logging_comes_back_when_asked_for(
    stores: Callable[..., CosmosSessionStore], new_id: Callable[[], str], caplog: pytest.LogCaptureFixture,
    http_loggers: list[logging.Logger], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTS_AZURE_SDK_HTTP_LOG_LEVEL", "info")
    caplog.set_level(logging.INFO)
    await stores().load(new_id())
    assert any(r.name in HTTP_LOGGERS and "Request URL" in r.getMessage() for r in caplog.records)


def test_an_unknown_log_level_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_AZURE_SDK_HTTP_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigurationError, match="AGENTS_AZURE_SDK_HTTP_LOG_LEVEL"):
        quiet_http_logging()


async def test_a_session_written_by_the_earlier_layout_is_moved_to_pages_on_first_read(
    stores: Callable[..., CosmosSessionStore], container: ContainerProxy, new_id: Callable[[], str]
) -> None:
    """The earlier layout: recent messages inline in the session item, older ones in chunks it names."""
    session_id = new_id()
    older = [m.to_dict() for m in user_messages(3, prefix="old")]
    recent = [m.to_dict() for m in user_messages(2, prefix="new")]
    chunk_id = f"{session_id}:h:0:0123456789abcdef"
    await container.create_item({"id": chunk_id, "pk": session_id, "type": "history", "session_id": session_id,
                                 "index": 0, "messages": older, "ttl": -1})
    await container.create_item({"id": session_id, "pk": session_id, "type": "session", "user_id": "ana",
                                 "active_agent": "helper", "metadata": {}, "created_at": 1.0, "updated_at": 2.0,
                                 "messages": recent, "history": [{"id": chunk_id, "count": 3, "written_at": 1.0}],
                                 "ttl": -1})
    store = stores()
    window = await store.load_recent(session_id, 2)
    assert window is not None and window.history_start == 3 and window.user_id == "ana"
    assert [m.content[:4] for m in window.messages] == ["new0", "new1"]
    items = await partition(container, session_id)
    assert chunk_id not in items and items[session_id]["count"] == 5 and "messages" not in items[session_id]
    whole = await stores().load(session_id)
    assert whole is not None and [m.content[:4] for m in whole.messages] == ["old0", "old1", "old2", "new0", "new1"]
