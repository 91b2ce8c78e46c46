"""Sessions in Azure Cosmos DB (NoSQL API), the store a scaled-out Function App uses.

Authentication is Entra ID only (``DefaultAzureCredential``: the app's managed identity in Azure); keys are
never used. The container, partition key path ``/pk``, is created by the infrastructure; this store creates
nothing unless told to (``create_if_missing=True``, for local test servers).

Item layout (all items of a session share ``pk`` = session id, so a turn's reads and writes stay in one
logical partition; see docs/sessions.md):

* the session item, ``id`` = session id: owner, active agent, metadata, timestamps, the number of messages
  (``count``) and the history's ``generation``;
* history pages, ``id`` = ``<session id>:h:<generation>:<start, 9 digits>``: messages ``start`` to ``stop``
  (exclusive), in order. A turn writes one page (more only when what it added exceeds
  ``spill_threshold_bytes``), so pages never change once written.

A turn commits with one transactional batch: the session item replaced with ``If-Match`` and the new pages
created; Cosmos DB applies all of it or none of it, so the session item's ``count`` never names a page that
is missing, and of two racing turns exactly one commits. A turn loads the session item (a point read) and
the pages of its window (one query on the indexed ``type``, ``generation``, ``start`` and ``stop``), so
neither its reads nor its writes grow with the conversation. ``save`` (rewriting the whole history, which
turns never do) writes a new generation of pages first and then the session item; pages of the previous
generation are deleted after the commit, and a reader that raced with it reads again.

Expiry: every item carries a ``ttl`` (the container needs a default TTL, -1, for Cosmos DB to honour it).
Pages get twice the session TTL; once a TTL has passed since they were last renewed (``renewed_at`` in the
session item), a turn patches their ``ttl`` after its commit, which restarts their clocks, so pages always
outlive their session item. A session item idle for longer than its ``ttl`` reads as missing even before
the service removes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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
from ..messages import Message
from ..storage.documents import (
    NEW,
    Document,
    DocumentConflictError,
    DocumentStore,
    IfNew,
    check_document,
    check_key,
)
from ._records import (
    FROM_SETTINGS,
    FromSettings,
    messages_to_records,
    resolve_ttl,
    session_body,
    session_from_records,
)
from .base import HistoryPage, Session, SessionStore, check_page, check_whole
from .events import DEFAULT_EVENTS_TTL_SECONDS
from .ids import check_session_id

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.cosmos.aio import ContainerProxy, CosmosClient

logger = logging.getLogger(__name__)

#: Cosmos DB's item size limit (a transactional batch's request is limited to the same size).
MAX_ITEM_BYTES = 2 * 1024 * 1024
#: Default size of a history page. A turn writes what it added, split into pages of at most this size; any
#: value up to about 1.9 MB keeps items under ``MAX_ITEM_BYTES``.
DEFAULT_SPILL_THRESHOLD_BYTES = 512 * 1024
# Room kept for the item's own fields and the system properties the service adds.
_ITEM_OVERHEAD_BYTES = 64 * 1024
_MAX_THRESHOLD = MAX_ITEM_BYTES - 2 * _ITEM_OVERHEAD_BYTES
#: What one turn may add: a transactional batch holds at most 100 operations and 2 MB.
MAX_TURN_BYTES = MAX_ITEM_BYTES - _ITEM_OVERHEAD_BYTES
_MAX_BATCH_OPERATIONS = 100
_LOAD_ATTEMPTS = 3
_HEAD_CACHE_SIZE = 512

#: The item properties this store's queries filter or sort on; the container indexes these and nothing else
#: (the infrastructure's indexing policy, compared by a test), so message bodies cost no index writes.
INDEXED_PATHS = ("/pk/?", "/type/?", "/turn/?", "/generation/?", "/start/?", "/stop/?")

_PAGES_QUERY = (
    "SELECT * FROM c WHERE c.pk = @pk AND c.type = 'history' AND c.generation = @generation "
    "AND c.stop > @first AND c.start < @last"
)


def _size(record: Any) -> int:
    """Bytes the SDK sends for ``record`` (it serializes with ``json.dumps`` defaults, ASCII-escaped)."""
    return len(json.dumps(record))


def page_item_id(session_id: str, generation: str, start: int) -> str:
    """Id of the history page whose first message is at position ``start`` (from 0)."""
    return f"{session_id}:h:{generation}:{start:09d}"


def plan_pages(records: list[dict[str, Any]], start: int, threshold: int) -> list[tuple[int, list[dict[str, Any]]]]:
    """Cut the records that follow position ``start`` into pages of at most ``threshold`` bytes (a record
    larger than that gets a page of its own): ``(first position, records)`` in order."""
    pages: list[tuple[int, list[dict[str, Any]]]] = []
    current: list[dict[str, Any]] = []
    current_size = 0
    position = start
    for record in records:
        size = _size(record) + 1
        if current and current_size + size > threshold:
            pages.append((position - len(current), current))
            current, current_size = [], 0
        current.append(record)
        current_size += size
        position += 1
    if current:
        pages.append((position - len(current), current))
    return pages


@dataclass(frozen=True)
class _Head:
    """What a write needs to know of the session item it loaded, by (session id, etag)."""

    generation: str
    renewed_at: float


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
        # What a turn's write needs of the session item its load saw, by (session id, etag): no second read.
        self._heads: OrderedDict[tuple[str, str], _Head] = OrderedDict()
        self._documents: CosmosDocumentStore | None = None

    @property
    def idle_ttl_seconds(self) -> float | None:
        return self._ttl

    @property
    def events_ttl_seconds(self) -> float | None:
        return self._events_ttl

    def documents(self) -> CosmosDocumentStore:
        """Other records as items of this container, in their sessions' partitions."""
        if self._documents is None:
            self._documents = CosmosDocumentStore(self)
        return self._documents

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
                from ..azure.sdk_logging import quiet_http_logging

                quiet_http_logging()
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
        from azure.cosmos import exceptions

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

    def _remember(self, session_id: str, etag: str, item: dict[str, Any]) -> _Head:
        head = _Head(str(item.get("generation") or ""), float(item.get("renewed_at") or 0.0))
        self._heads[(session_id, etag)] = head
        self._heads.move_to_end((session_id, etag))
        while len(self._heads) > _HEAD_CACHE_SIZE:
            self._heads.popitem(last=False)
        return head

    @staticmethod
    def _etag_of(result: Any) -> str:
        headers = result.get_response_headers() if hasattr(result, "get_response_headers") else {}
        etag = headers.get("etag") or headers.get("ETag") or (result.get("_etag") if result else None)
        if not etag:
            raise AgentFrameworkError("Cosmos DB returned no ETag for a session write")
        return str(etag)

    # -- reading --------------------------------------------------------------------------------------------

    async def _read(self, session_id: str, window: Callable[[int], tuple[int, int]]) -> tuple[Session, int] | None:
        """The session with the messages ``window(count)`` names (first, last exclusive) and its count."""
        from azure.cosmos import exceptions

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
            if "count" not in item and ("messages" in item or "history" in item):
                await self._migrate(container, item)
                continue
            etag = str(item["_etag"])
            count = int(item.get("count") or 0)
            first, last = window(count)
            first, last = max(0, min(first, count)), max(0, min(last, count))
            generation = self._remember(session_id, etag, item).generation
            records = await self._page_records(container, session_id, generation, first, last)
            if records is None:
                if etag == previous_etag:
                    raise AgentFrameworkError(
                        f"session {session_id} is missing part of its history in Cosmos DB; delete the "
                        "session to start over"
                    )
                previous_etag = etag
                continue  # a concurrent save replaced the history after the session item was read
            session = session_from_records(session_id, item, records, etag)
            session.history_start = first
            return session, count
        raise SessionBusyError(
            f"session {session_id} changed during every attempt to read it; retry the request"
        )

    async def _migrate(self, container: ContainerProxy, item: dict[str, Any]) -> None:
        """Rewrite a session item of the earlier layout (recent messages inline, older ones in chunk items
        named by its ``history`` manifest) as pages; its chunks are deleted once the new pages are committed."""
        from azure.cosmos import exceptions

        session_id = str(item["id"])
        manifest = [str(entry["id"]) for entry in item.get("history") or []]
        try:
            chunks = await asyncio.gather(
                *(container.read_item(chunk_id, partition_key=session_id) for chunk_id in manifest))
        except exceptions.CosmosResourceNotFoundError:
            return  # changed meanwhile: read again
        records = [record for chunk in chunks for record in chunk.get("messages") or []]
        records.extend(item.get("messages") or [])
        etag = str(item["_etag"])
        self._remember(session_id, etag, item)
        try:
            await self._save(session_from_records(session_id, item, records, etag))
        except SessionBusyError:
            return  # another request migrated or changed it first
        await asyncio.gather(*(self._delete_quietly(container, chunk_id, session_id) for chunk_id in manifest))

    async def _page_records(self, container: ContainerProxy, session_id: str, generation: str, first: int,
                            last: int) -> list[dict[str, Any]] | None:
        """Messages ``first`` to ``last`` from the pages that hold them; ``None`` when some are missing."""
        if first >= last:
            return []
        pages = sorted(
            [page async for page in container.query_items(
                _PAGES_QUERY,
                parameters=[{"name": "@pk", "value": session_id}, {"name": "@generation", "value": generation},
                            {"name": "@first", "value": first},
                            {"name": "@last", "value": last}],
                partition_key=session_id,
            )],
            key=lambda page: int(page["start"]),
        )
        records: list[dict[str, Any]] = []
        position = first
        for page in pages:
            start, messages = int(page["start"]), list(page.get("messages") or [])
            if start > position or start + len(messages) <= position:
                return None
            records.extend(messages[position - start:last - start])
            position = start + len(messages)
            if position >= last:
                return records
        return None

    async def load(self, session_id: str) -> Session | None:
        found = await self._read(session_id, lambda count: (0, count))
        return None if found is None else found[0]

    async def load_recent(self, session_id: str, limit: int | None) -> Session | None:
        found = await self._read(
            session_id, lambda count: (0 if limit is None else count - max(0, limit), count)
        )
        return None if found is None else found[0]

    async def read_history(self, session_id: str, offset: int = 0, limit: int | None = None) -> HistoryPage | None:
        check_page(offset, limit)
        found = await self._read(
            session_id, lambda count: (offset, count if limit is None else offset + limit)
        )
        if found is None:
            return None
        session, total = found
        messages, session.messages = session.messages, []
        session.history_start = 0
        return HistoryPage(session=session, messages=messages, offset=offset, total=total)

    # -- writing --------------------------------------------------------------------------------------------

    def _head_item(self, session: Session, now: float, count: int, head: _Head) -> dict[str, Any]:
        saved = Session(id=session.id, user_id=session.user_id, active_agent=session.active_agent,
                        metadata=dict(session.metadata), created_at=session.created_at, updated_at=now)
        return {
            "id": session.id,
            "pk": session.id,
            "type": "session",
            **session_body(saved),
            "count": count,
            "generation": head.generation,
            "renewed_at": head.renewed_at,
            "ttl": self._item_ttl(),
        }

    def _page_items(self, session_id: str, generation: str, records: list[dict[str, Any]],
                    start: int) -> list[dict[str, Any]]:
        items = []
        for first, messages in plan_pages(records, start, self._threshold):
            item = {
                "id": page_item_id(session_id, generation, first),
                "pk": session_id,
                "type": "history",
                "generation": generation,
                "start": first,
                "stop": first + len(messages),
                "messages": messages,
                "ttl": self._item_ttl(2),
            }
            if (size := _size(item)) > MAX_ITEM_BYTES - _ITEM_OVERHEAD_BYTES:
                raise _too_large(session_id, size)
            items.append(item)
        return items

    async def _known_head(self, container: ContainerProxy, session_id: str, etag: str) -> _Head:
        """The generation and renewal time of the session item at ``etag``; busy if it is not at that etag."""
        from azure.cosmos import exceptions

        cached = self._heads.get((session_id, etag))
        if cached is not None:
            return cached
        try:
            item = await container.read_item(session_id, partition_key=session_id)
        except exceptions.CosmosResourceNotFoundError:
            raise SessionBusyError(f"session {session_id} was deleted by another request") from None
        if item.get("_etag") != etag:
            raise SessionBusyError(f"session {session_id} was changed by another request; retry the turn")
        return self._remember(session_id, etag, item)

    async def append(self, session: Session, added: Sequence[Message]) -> Session:
        if session.etag is None:
            check_whole(session)
            return await self._save(replace(session, messages=[*session.messages, *added]))
        from azure.cosmos import exceptions

        session_id = check_session_id(session.id)
        container = await self._get_container()
        now = self._clock()
        known = await self._known_head(container, session_id, session.etag)
        renew = self._ttl is not None and now - known.renewed_at > self._ttl
        head = _Head(known.generation, now if renew else known.renewed_at)
        start = session.history_length
        pages = self._page_items(session_id, head.generation, messages_to_records(list(added)), start)
        item = self._head_item(session, now, start + len(added), head)
        if sum(_size(body) for body in [item, *pages]) > MAX_TURN_BYTES or len(pages) >= _MAX_BATCH_OPERATIONS:
            raise InvalidRequestError(
                f"the turn added more to session {session_id} than one Cosmos DB transaction can store "
                f"({MAX_TURN_BYTES} bytes); send smaller messages or tool results",
                code="message_too_large", status=413,
            )
        operations: list[Any] = [
            ("replace", (session_id, item), {"if_match_etag": session.etag}),
            *(("create", (page,)) for page in pages),
        ]
        try:
            results = await container.execute_item_batch(operations, partition_key=session_id)
        except exceptions.CosmosBatchOperationError as error:
            if error.error_index == 0 and error.status_code in (404, 412):
                raise SessionBusyError(
                    f"session {session_id} was changed by another request; retry the turn"
                ) from None
            raise
        etag = str(results[0].get("eTag") or "")
        if not etag:
            raise AgentFrameworkError("Cosmos DB returned no ETag for a session write")
        self._heads[(session_id, etag)] = head
        if renew:
            await self._renew_pages(container, session_id, head.generation, start)
        saved = replace(session, messages=[*session.messages, *added], updated_at=now, etag=etag)
        return saved

    async def _renew_pages(self, container: ContainerProxy, session_id: str, generation: str,
                           before: int) -> None:
        """Restart the TTL clocks of the pages written before position ``before`` (see the module doc)."""
        ids = [row["id"] async for row in container.query_items(
            "SELECT c.id FROM c WHERE c.pk = @pk AND c.type = 'history' AND c.generation = @generation "
            "AND c.start < @before",
            parameters=[{"name": "@pk", "value": session_id}, {"name": "@generation", "value": generation},
                        {"name": "@before", "value": before}],
            partition_key=session_id,
        )]
        operations = [{"op": "set", "path": "/ttl", "value": self._item_ttl(2)}]
        results = await asyncio.gather(
            *(container.patch_item(item_id, session_id, operations, no_response=True) for item_id in ids),
            return_exceptions=True,
        )
        failed = sum(isinstance(result, Exception) for result in results)
        if failed:
            logger.warning("could not renew the expiry of %d history pages of a session", failed)

    async def save(self, session: Session) -> Session:
        check_whole(session)
        return await self._save(session)

    async def _save(self, session: Session) -> Session:
        """Write the whole history as a new generation of pages, then commit the session item."""
        from azure.core import MatchConditions
        from azure.cosmos import exceptions

        session_id = check_session_id(session.id)
        container = await self._get_container()
        now = self._clock()
        head = _Head(uuid.uuid4().hex[:12], now)
        pages = self._page_items(session_id, head.generation, messages_to_records(session.messages), 0)
        item = self._head_item(session, now, len(session.messages), head)
        if (size := _size(item)) > MAX_ITEM_BYTES - _ITEM_OVERHEAD_BYTES:
            raise _too_large(session_id, size)
        # The generation this write replaces: its pages are deleted once the new one is committed (only
        # those: a racing save's pages of yet another generation are not ours to delete).
        replaced = None if session.etag is None else (
            await self._known_head(container, session_id, session.etag)).generation
        # Pages of a new generation are invisible until the session item names it.
        await asyncio.gather(*(container.create_item(page, no_response=True) for page in pages))
        try:
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
        except BaseException:
            await asyncio.gather(*(self._delete_quietly(container, page["id"], session_id) for page in pages))
            raise
        etag = self._etag_of(result)
        self._heads[(session_id, etag)] = head
        stale = [] if replaced is None else [row["id"] async for row in container.query_items(
            "SELECT c.id FROM c WHERE c.pk = @pk AND c.type = 'history' AND c.generation = @generation",
            parameters=[{"name": "@pk", "value": session_id}, {"name": "@generation", "value": replaced}],
            partition_key=session_id,
        )]
        await asyncio.gather(*(self._delete_quietly(container, item_id, session_id) for item_id in stale))
        return replace(session, messages=list(session.messages), updated_at=now, etag=etag, history_start=0)

    async def _replace_expired(self, container: ContainerProxy, item: dict[str, Any]) -> tuple[Any, str | None]:
        """Create over an item that has outlived its TTL but that the service has not removed yet."""
        from azure.core import MatchConditions
        from azure.cosmos import exceptions

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
        return result, current.get("generation")

    @staticmethod
    async def _delete_quietly(container: ContainerProxy, item_id: str, session_id: str) -> None:
        from azure.cosmos import exceptions

        with contextlib.suppress(exceptions.CosmosResourceNotFoundError):
            await container.delete_item(item_id, partition_key=session_id)

    async def delete(self, session_id: str) -> bool:
        from azure.cosmos import exceptions

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
        self._heads = OrderedDict((key, value) for key, value in self._heads.items() if key[0] != session_id)
        return existed


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


class CosmosDocumentStore(DocumentStore):
    """Documents as items ``{"id", "pk", "type": kind, **body}`` of a session store's container.

    A document written with a TTL carries ``ttl`` (whole seconds, rounded up, so the service never removes it
    before it reads as expired) and ``expires_at`` (the writer's clock, like the other backends); an item
    without ``expires_at`` expires ``ttl`` seconds after its ``updated_at`` (or ``_ts``), as items of earlier
    versions were written.
    """

    def __init__(self, sessions: CosmosSessionStore) -> None:
        self._sessions = sessions

    def _live(self, item: dict[str, Any]) -> bool:
        expires_at = item.get("expires_at")
        if isinstance(expires_at, int | float) and not isinstance(expires_at, bool):
            return float(expires_at) > self._sessions._clock()
        return not self._sessions._expired(item)

    @staticmethod
    def _document(partition: str, item: dict[str, Any]) -> Document:
        body = {key: value for key, value in item.items()
                if key not in ("id", "pk", "type", "ttl", "expires_at") and not key.startswith("_")}
        return Document(partition, str(item["id"]), str(item.get("type") or ""), body,
                        str(item.get("_etag") or ""))

    async def get(self, partition: str, id: str) -> Document | None:
        from azure.cosmos import exceptions

        check_key(partition, id)
        container = await self._sessions._get_container()
        try:
            item = await container.read_item(id, partition_key=partition)
        except exceptions.CosmosResourceNotFoundError:
            return None
        return self._document(partition, item) if self._live(item) else None

    async def put(self, partition: str, id: str, body: dict[str, Any], *, kind: str,
                  if_match: str | IfNew | None = None, ttl_seconds: float | None = None) -> Document:
        from azure.core import MatchConditions
        from azure.cosmos import exceptions

        check_key(partition, id)
        check_document(kind, body, ttl_seconds)
        item: dict[str, Any] = {"id": id, "pk": partition, "type": kind, **body}
        if ttl_seconds is not None:
            item["ttl"] = max(1, math.ceil(ttl_seconds))
            item["expires_at"] = self._sessions._clock() + ttl_seconds
        if (size := _size(item)) > MAX_ITEM_BYTES - _ITEM_OVERHEAD_BYTES:
            raise ValueError(f"body of {id} is {size} bytes; a document must stay under "
                             f"{MAX_ITEM_BYTES - _ITEM_OVERHEAD_BYTES} bytes")
        container = await self._sessions._get_container()
        conflict = DocumentConflictError(f"{id} in {partition} was created, changed or deleted by someone else")
        try:
            if if_match is None:
                stored = await container.upsert_item(item)
            elif if_match is NEW:
                try:
                    stored = await container.create_item(item)
                except exceptions.CosmosResourceExistsError:
                    # An expired item the service has not removed yet counts as absent.
                    current = await container.read_item(id, partition_key=partition)
                    if self._live(current):
                        raise conflict from None
                    stored = await container.replace_item(id, item, etag=current.get("_etag"),
                                                          match_condition=MatchConditions.IfNotModified)
            else:
                # An expired item the service has not removed yet is no version to write over.
                current = await container.read_item(id, partition_key=partition)
                if not self._live(current) or current.get("_etag") != if_match:
                    raise conflict
                stored = await container.replace_item(id, item, etag=if_match,
                                                      match_condition=MatchConditions.IfNotModified)
        except (exceptions.CosmosAccessConditionFailedError, exceptions.CosmosResourceNotFoundError):
            raise conflict from None
        return self._document(partition, {**item, "_etag": self._sessions._etag_of(stored)})

    async def delete(self, partition: str, id: str, *, if_match: str | None = None) -> bool:
        from azure.core import MatchConditions
        from azure.cosmos import exceptions

        check_key(partition, id)
        container = await self._sessions._get_container()
        try:
            item = await container.read_item(id, partition_key=partition)
        except exceptions.CosmosResourceNotFoundError:
            item = None
        live = item is not None and self._live(item)
        if if_match is not None and (item is None or not live or item.get("_etag") != if_match):
            raise DocumentConflictError(f"{id} in {partition} was changed or deleted by someone else")
        if item is None:
            return False
        try:
            if if_match is None:
                await container.delete_item(id, partition_key=partition)
            else:
                await container.delete_item(id, partition_key=partition, etag=if_match,
                                            match_condition=MatchConditions.IfNotModified)
        except exceptions.CosmosResourceNotFoundError:
            return False
        except exceptions.CosmosAccessConditionFailedError:
            raise DocumentConflictError(f"{id} in {partition} was changed by someone else") from None
        return live

    async def list(self, partition: str, prefix: str = "", *, start: str = "") -> list[Document]:
        check_key(partition, prefix or "-")
        container = await self._sessions._get_container()
        query = "SELECT * FROM c WHERE c.pk = @pk AND STARTSWITH(c.id, @prefix)"
        parameters: list[dict[str, Any]] = [{"name": "@pk", "value": partition}, {"name": "@prefix", "value": prefix}]
        if start:
            query += " AND c.id >= @start"
            parameters.append({"name": "@start", "value": start})
        items = [item async for item in container.query_items(query, parameters=parameters, partition_key=partition)]
        return sorted((self._document(partition, item) for item in items if self._live(item)),
                      key=lambda document: document.id)
