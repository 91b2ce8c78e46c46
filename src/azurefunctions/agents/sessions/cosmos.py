"""Sessions in Azure Cosmos DB (NoSQL API), the store a scaled-out Function App uses.

Authentication is Entra ID only (``DefaultAzureCredential``: the app's managed identity in Azure); keys are
never used. The container, partition key path ``/pk``, is created by the infrastructure; this store creates
nothing unless told to (``create_if_missing=True``, for local test servers).

Item layout (all items of a session share ``pk`` = session id, so a turn's reads and writes stay in one
logical partition; see docs/sessions.md):

* the session item, ``id`` = session id: owner, active agent, metadata, timestamps, the most recent messages
  (``messages``) and the manifest of spilled history (``history``: the ids of the chunk items, oldest first);
* history chunk items, ``id`` = ``<session id>:h:<n>:<digest>``: older messages, in order.

Why chunks: an item may not exceed 2 MB. History is cut into chunks greedily from the first message, each
up to ``spill_threshold_bytes``; when the serialized history outgrows that threshold, every full chunk moves
to its own item and only the last, open chunk stays in the session item. Cutting from the start means
appending messages never changes a full chunk, so a turn writes the session item alone until another chunk
fills up. A chunk's id carries a digest of its content: two racing turns can never overwrite each other's
chunk, and the session item, replaced with ``If-Match``, stays the only commit point. Chunks the new manifest
no longer names are deleted after the commit; those of a turn that lost the race expire by TTL.

Expiry: every item carries a ``ttl`` (the container needs a default TTL, -1, for Cosmos DB to honour it).
Chunks get twice the session TTL and are rewritten once they are older than the TTL, so they outlive their
session item. A session item idle for longer than its ``ttl`` reads as missing even before the service
removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from .. import settings
from ..errors import (
    AgentFrameworkError,
    ConfigurationError,
    InvalidRequestError,
    SessionBusyError,
    missing_extra,
    require_extra,
)
from ._records import (
    FROM_SETTINGS,
    FromSettings,
    check_session_id,
    messages_to_records,
    resolve_ttl,
    session_body,
    session_from_records,
)
from .base import Session, SessionStore
from .events import (
    DEFAULT_EVENTS_TTL_SECONDS,
    EventBatch,
    StreamEvent,
    TurnLog,
    batch_item_id,
    check_events,
    parse_event_id,
    turns_from_batches,
)

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.cosmos.aio import ContainerProxy, CosmosClient

#: Cosmos DB's item size limit.
MAX_ITEM_BYTES = 2 * 1024 * 1024
#: Default size of a history chunk. Any value up to about 1.9 MB keeps items under ``MAX_ITEM_BYTES``; a
#: smaller one bounds what each turn rewrites (request units grow with item size) at the price of one more
#: parallel point read per chunk on load.
DEFAULT_SPILL_THRESHOLD_BYTES = 512 * 1024
# Room kept for the item's own fields and the system properties the service adds.
_ITEM_OVERHEAD_BYTES = 64 * 1024
_MAX_THRESHOLD = MAX_ITEM_BYTES - 2 * _ITEM_OVERHEAD_BYTES
_LOAD_ATTEMPTS = 3
_MANIFEST_CACHE_SIZE = 512


def _size(record: Any) -> int:
    """Bytes the SDK sends for ``record`` (it serializes with ``json.dumps`` defaults, ASCII-escaped)."""
    return len(json.dumps(record))


@dataclass(frozen=True)
class _Chunk:
    id: str
    messages: list[dict[str, Any]]


def plan_history(
    session_id: str, records: list[dict[str, Any]], threshold: int
) -> tuple[list[_Chunk], list[dict[str, Any]]]:
    """Split history records into spilled chunks and the messages kept in the session item.

    Nothing spills while the whole history fits in ``threshold`` bytes. Chunk boundaries depend only on the
    records before them, so a conversation that grows by appending keeps its earlier chunks unchanged.
    """
    sizes = [_size(record) + 1 for record in records]
    if sum(sizes) <= threshold:
        return [], records
    groups: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    current_size = 0
    for record, size in zip(records, sizes, strict=True):
        if current and current_size + size > threshold:
            groups.append(current)
            current, current_size = [], 0
        current.append(record)
        current_size += size
    chunks = []
    for index, group in enumerate(groups):
        digest = hashlib.sha256(json.dumps(group, sort_keys=True).encode()).hexdigest()[:16]
        chunks.append(_Chunk(f"{session_id}:h:{index}:{digest}", group))
    return chunks, current


def _sdk_exceptions() -> Any:
    """``azure.cosmos.exceptions``, or the error naming the extra when the SDK is not installed."""
    try:
        from azure.cosmos import exceptions
    except ImportError as exc:
        raise missing_extra("The Cosmos DB session store", "cosmos", exc) from None
    return exceptions


class CosmosSessionStore(SessionStore):
    """Sessions in one Cosmos DB container with partition key path ``/pk`` (extra ``cosmos``)."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        database: str | None = None,
        container: str | None = None,
        credential: AsyncTokenCredential | None = None,
        ttl_seconds: float | FromSettings | None = FROM_SETTINGS,
        create_if_missing: bool = False,
        enable_endpoint_discovery: bool = True,
        spill_threshold_bytes: int = DEFAULT_SPILL_THRESHOLD_BYTES,
        clock: Callable[[], float] = time.time,
        client_options: dict[str, Any] | None = None,
        events_ttl_seconds: float | None = DEFAULT_EVENTS_TTL_SECONDS,
    ) -> None:
        """
        ``events_ttl_seconds``: how long stream event batches are kept (``None`` or 0: as long as the session).
        ``endpoint``, ``database``, ``container``: default ``COSMOS_ENDPOINT``, ``COSMOS_DATABASE``,
        ``COSMOS_CONTAINER``. ``credential``: an async azure-identity credential (default
        ``DefaultAzureCredential``, closed with the store). ``ttl_seconds``: idle sessions expire after this
        long (default ``AGENTS_SESSION_TTL_SECONDS``; ``None`` or 0: never). ``create_if_missing``: create the
        database and container (local test servers only; in Azure the data plane cannot, and the
        infrastructure does). ``enable_endpoint_discovery``: off for single-endpoint local servers that
        advertise an unreachable address. ``spill_threshold_bytes``: history chunk size (see the module doc).
        ``client_options``: further keyword arguments for ``CosmosClient`` (timeouts, transport).
        """
        require_extra("azure.cosmos", "The Cosmos DB session store", "cosmos")  # every method needs the SDK
        endpoint = endpoint or settings.COSMOS_ENDPOINT.get()
        if not endpoint:
            raise ConfigurationError(
                f"endpoint is required: set {settings.COSMOS_ENDPOINT.name} to the Cosmos DB account URL"
            )
        parsed = urlparse(endpoint)
        if parsed.scheme != "https" or not parsed.hostname:
            raise ConfigurationError(f"endpoint must be an https:// Cosmos DB account URL, got {endpoint!r}")
        if not 1024 <= spill_threshold_bytes <= _MAX_THRESHOLD:
            raise ConfigurationError(
                f"spill_threshold_bytes must be from 1024 to {_MAX_THRESHOLD}, got {spill_threshold_bytes}"
            )
        self.endpoint = endpoint
        self.database_name = database or settings.COSMOS_DATABASE.get() or "agents"
        self.container_name = container or settings.COSMOS_CONTAINER.get() or "state"
        self._credential = credential
        self._owns_credential = credential is None
        self._ttl = resolve_ttl(ttl_seconds)
        self._create_if_missing = create_if_missing
        self._client_options = {
            "enable_endpoint_discovery": enable_endpoint_discovery,
            **(client_options or {}),
        }
        self._threshold = spill_threshold_bytes
        self._clock = clock
        self._events_ttl = events_ttl_seconds if events_ttl_seconds and events_ttl_seconds > 0 else None
        self._client: CosmosClient | None = None
        self._container: ContainerProxy | None = None
        self._open_lock = asyncio.Lock()
        # Manifest of spilled chunks by (session id, etag): lets a save skip re-reading what its load saw.
        self._manifests: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()

    # -- connection ---------------------------------------------------------------------------------------

    async def _get_container(self) -> ContainerProxy:
        if self._container is not None:
            return self._container
        async with self._open_lock:
            if self._container is None:
                try:
                    from azure.cosmos import PartitionKey
                    from azure.cosmos.aio import CosmosClient
                except ImportError as exc:
                    raise missing_extra("The Cosmos DB session store", "cosmos", exc) from None
                if self._credential is None:
                    from azure.identity.aio import DefaultAzureCredential

                    self._credential = DefaultAzureCredential()
                client = CosmosClient(self.endpoint, credential=self._credential, **self._client_options)
                try:
                    if self._create_if_missing:
                        database = await client.create_database_if_not_exists(self.database_name)
                        container = await database.create_container_if_not_exists(
                            self.container_name, partition_key=PartitionKey(path="/pk"), default_ttl=-1
                        )
                    else:
                        container = client.get_database_client(self.database_name).get_container_client(
                            self.container_name
                        )
                        await self._check_exists(container)
                except BaseException:
                    await client.close()
                    raise
                self._client, self._container = client, container
        assert self._container is not None
        return self._container

    async def _check_exists(self, container: ContainerProxy) -> None:
        """Fail on first use, saying what to do, when the container is missing (not with a 404 each turn)."""
        exceptions = _sdk_exceptions()

        try:
            await container.read()
        except exceptions.CosmosResourceNotFoundError:
            raise ConfigurationError(
                f"Cosmos DB container {self.container_name!r} in database {self.database_name!r} does not "
                f"exist at {self.endpoint}: the infrastructure creates it (partition key /pk); check "
                f"{settings.COSMOS_DATABASE.name} and {settings.COSMOS_CONTAINER.name}"
            ) from None

    async def aclose(self) -> None:
        client, self._client, self._container = self._client, None, None
        if client is not None:
            await client.close()
        if self._owns_credential and self._credential is not None:
            credential, self._credential = self._credential, None
            await credential.close()

    # -- helpers ------------------------------------------------------------------------------------------

    def _expired(self, item: dict[str, Any]) -> bool:
        ttl = item.get("ttl")
        if not isinstance(ttl, int | float) or ttl <= 0:
            return False
        # The writer's own clock (``updated_at``) rather than the service's ``_ts``: the same clock the other
        # backends use, and within seconds of ``_ts`` on a real account.
        written = item.get("updated_at", item.get("_ts", 0))
        return float(written) + ttl <= self._clock()

    def _item_ttl(self, factor: int = 1) -> int:
        return -1 if self._ttl is None else max(1, int(self._ttl * factor))

    def _needs_refresh(self, entry: dict[str, Any], now: float) -> bool:
        """A chunk older than the session TTL is rewritten, so it always outlives its session item."""
        return self._ttl is not None and now - float(entry.get("written_at", 0)) > self._ttl

    def _remember(self, session_id: str, etag: str, manifest: list[dict[str, Any]]) -> None:
        self._manifests[(session_id, etag)] = manifest
        self._manifests.move_to_end((session_id, etag))
        while len(self._manifests) > _MANIFEST_CACHE_SIZE:
            self._manifests.popitem(last=False)

    @staticmethod
    def _etag_of(result: Any) -> str:
        headers = result.get_response_headers() if hasattr(result, "get_response_headers") else {}
        etag = headers.get("etag") or headers.get("ETag") or (result.get("_etag") if result else None)
        if not etag:
            raise AgentFrameworkError("Cosmos DB returned no ETag for a session write")
        return str(etag)

    # -- SessionStore ---------------------------------------------------------------------------------------

    async def load(self, session_id: str) -> Session | None:
        exceptions = _sdk_exceptions()

        session_id = check_session_id(session_id)
        container = await self._get_container()
        previous_etag: str | None = None
        for _ in range(_LOAD_ATTEMPTS):
            try:
                item = await container.read_item(session_id, partition_key=session_id)
            except exceptions.CosmosResourceNotFoundError:
                return None
            if self._expired(item):
                return None
            etag = str(item["_etag"])
            manifest: list[dict[str, Any]] = list(item.get("history") or [])
            try:
                chunks = await asyncio.gather(
                    *(container.read_item(entry["id"], partition_key=session_id) for entry in manifest)
                )
            except exceptions.CosmosResourceNotFoundError:
                if etag == previous_etag:
                    raise AgentFrameworkError(
                        f"session {session_id} is missing part of its history in Cosmos DB; delete the "
                        "session to start over"
                    ) from None
                previous_etag = etag
                continue  # a concurrent turn replaced the history after the session item was read
            records: list[dict[str, Any]] = [record for chunk in chunks for record in chunk["messages"]]
            records.extend(item.get("messages") or [])
            self._remember(session_id, etag, manifest)
            return session_from_records(session_id, item, records, etag)
        raise SessionBusyError(
            f"session {session_id} changed during every attempt to read it; retry the request"
        )

    async def _current_manifest(
        self, container: ContainerProxy, session_id: str, etag: str
    ) -> list[dict[str, Any]]:
        """The spilled-history manifest of the stored session at ``etag``; busy if it is not at that etag."""
        exceptions = _sdk_exceptions()

        cached = self._manifests.get((session_id, etag))
        if cached is not None:
            return cached
        try:
            item = await container.read_item(session_id, partition_key=session_id)
        except exceptions.CosmosResourceNotFoundError:
            raise SessionBusyError(f"session {session_id} was deleted by another request") from None
        if item.get("_etag") != etag:
            raise SessionBusyError(f"session {session_id} was changed by another request; retry the turn")
        return list(item.get("history") or [])

    async def save(self, session: Session) -> Session:
        from azure.core import MatchConditions
        exceptions = _sdk_exceptions()

        session_id = check_session_id(session.id)
        container = await self._get_container()
        now = self._clock()
        records = messages_to_records(session.messages)
        chunks, inline = plan_history(session_id, records, self._threshold)

        old_manifest = [] if session.etag is None else await self._current_manifest(
            container, session_id, session.etag
        )
        known = {entry["id"]: entry for entry in old_manifest}
        manifest: list[dict[str, Any]] = []
        writes: list[dict[str, Any]] = []
        for index, chunk in enumerate(chunks):
            entry = known.get(chunk.id)
            if entry is None or self._needs_refresh(entry, now):
                entry = {"id": chunk.id, "count": len(chunk.messages), "written_at": now}
                body = {
                    "id": chunk.id,
                    "pk": session_id,
                    "type": "history",
                    "session_id": session_id,
                    "index": index,
                    "messages": chunk.messages,
                    "ttl": self._item_ttl(2),
                }
                writes.append(body)
            manifest.append(entry)
        saved = Session(
            id=session_id,
            user_id=session.user_id,
            active_agent=session.active_agent,
            messages=list(session.messages),
            metadata=dict(session.metadata),
            created_at=session.created_at,
            updated_at=now,
        )
        item = {
            "id": session_id,
            "pk": session_id,
            "type": "session",
            **session_body(saved),
            "messages": inline,
            "history": manifest,
            "ttl": self._item_ttl(),
        }
        for body in [*writes, item]:  # all checked before anything is written
            if (size := _size(body)) > MAX_ITEM_BYTES - _ITEM_OVERHEAD_BYTES:
                raise _too_large(session_id, size)
        if writes:
            await asyncio.gather(*(container.upsert_item(body, no_response=True) for body in writes))

        replaced: list[dict[str, Any]] = old_manifest
        if session.etag is None:
            try:
                result = await container.create_item(item, no_response=True)
            except exceptions.CosmosResourceExistsError:
                result, replaced = await self._replace_expired(container, item)
        else:
            try:
                result = await container.replace_item(
                    session_id, item, etag=session.etag, match_condition=MatchConditions.IfNotModified,
                    no_response=True,
                )
            except (exceptions.CosmosAccessConditionFailedError, exceptions.CosmosResourceNotFoundError):
                raise SessionBusyError(
                    f"session {session_id} was changed by another request; retry the turn"
                ) from None
        saved.etag = self._etag_of(result)
        self._remember(session_id, saved.etag, manifest)

        kept = {entry["id"] for entry in manifest}
        stale = [entry["id"] for entry in replaced if entry["id"] not in kept]
        if stale:
            await asyncio.gather(*(self._delete_quietly(container, item_id, session_id) for item_id in stale))
        return saved

    async def _replace_expired(
        self, container: ContainerProxy, item: dict[str, Any]
    ) -> tuple[Any, list[dict[str, Any]]]:
        """Create over an item that has outlived its TTL but that the service has not removed yet."""
        from azure.core import MatchConditions
        exceptions = _sdk_exceptions()

        session_id = item["id"]
        busy = SessionBusyError(f"session {session_id} was created by another request")
        try:
            current = await container.read_item(session_id, partition_key=session_id)
        except exceptions.CosmosResourceNotFoundError:
            raise busy from None
        if not self._expired(current):
            raise busy
        try:
            result = await container.replace_item(
                session_id, item, etag=current["_etag"], match_condition=MatchConditions.IfNotModified,
                no_response=True,
            )
        except (exceptions.CosmosAccessConditionFailedError, exceptions.CosmosResourceNotFoundError):
            raise busy from None
        return result, list(current.get("history") or [])

    @staticmethod
    async def _delete_quietly(container: ContainerProxy, item_id: str, session_id: str) -> None:
        exceptions = _sdk_exceptions()

        with contextlib.suppress(exceptions.CosmosResourceNotFoundError):
            await container.delete_item(item_id, partition_key=session_id)

    async def delete(self, session_id: str) -> bool:
        exceptions = _sdk_exceptions()

        session_id = check_session_id(session_id)
        container = await self._get_container()
        try:
            item = await container.read_item(session_id, partition_key=session_id)
            existed = not self._expired(item)
        except exceptions.CosmosResourceNotFoundError:
            existed = False
        ids = [
            row["id"]
            async for row in container.query_items(
                "SELECT c.id FROM c WHERE c.pk = @pk",
                parameters=[{"name": "@pk", "value": session_id}],
                partition_key=session_id,
            )
        ]
        await asyncio.gather(*(self._delete_quietly(container, item_id, session_id) for item_id in ids))
        self._manifests = OrderedDict(
            (key, value) for key, value in self._manifests.items() if key[0] != session_id
        )
        return existed


    # -- event log ------------------------------------------------------------------------------------------

    async def append_events(self, session_id: str, turn: str, batch: int, events: Sequence[StreamEvent], *,
                            owner: str | None, final: bool) -> None:
        session_id = check_session_id(session_id)
        check_events(events, turn)
        container = await self._get_container()
        now = self._clock()
        ttl = max(1, int(self._events_ttl)) if self._events_ttl is not None else self._item_ttl()
        item = {
            "id": batch_item_id(session_id, turn, batch),
            "pk": session_id,
            "type": "events",
            "session_id": session_id,
            **EventBatch(turn=turn, batch=batch, events=list(events), owner=owner, final=final,
                         written_at=now).to_record(),
            "ttl": ttl,
        }
        if (size := _size(item)) > MAX_ITEM_BYTES - _ITEM_OVERHEAD_BYTES:
            raise _too_large(session_id, size)
        await container.upsert_item(item, no_response=True)

    async def read_events(self, session_id: str, after: str | None = None) -> list[TurnLog]:
        session_id = check_session_id(session_id)
        container = await self._get_container()
        if after is not None:
            start_turn = parse_event_id(after)[0]
        else:
            latest = [
                row async for row in container.query_items(
                    "SELECT TOP 1 c.turn FROM c WHERE c.pk = @pk AND c.type = 'events' ORDER BY c.turn DESC",
                    parameters=[{"name": "@pk", "value": session_id}],
                    partition_key=session_id,
                )
            ]
            if not latest:
                return []
            start_turn = str(latest[0]["turn"])
        rows = [
            row async for row in container.query_items(
                "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'events' AND c.turn >= @turn",
                parameters=[{"name": "@pk", "value": session_id}, {"name": "@turn", "value": start_turn}],
                partition_key=session_id,
            )
        ]
        now = self._clock()
        batches = [EventBatch.from_record(row) for row in rows if not self._batch_expired(row, now)]
        return turns_from_batches(batches, after)

    @staticmethod
    def _batch_expired(row: dict[str, Any], now: float) -> bool:
        ttl = row.get("ttl")
        return isinstance(ttl, int | float) and ttl > 0 and float(row.get("written_at") or 0) + ttl <= now


def _too_large(session_id: str, size: int) -> InvalidRequestError:
    return InvalidRequestError(
        f"session {session_id} holds a message of about {size} bytes serialized, more than a Cosmos DB item "
        f"can hold ({MAX_ITEM_BYTES} bytes); send smaller messages or tool results",
        code="message_too_large",
        status=413,
    )


def is_local_endpoint(endpoint: str) -> bool:
    """True for a Cosmos DB endpoint on this machine (an emulator or test server)."""
    return urlparse(endpoint).hostname in ("localhost", "127.0.0.1", "::1")
