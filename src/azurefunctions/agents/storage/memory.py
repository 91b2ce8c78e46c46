"""Documents in this process: the in-memory backend of ``DocumentStore`` (tests and single-process runs)."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import Callable
from typing import Any

from .documents import NEW, Document, DocumentConflictError, DocumentStore, IfNew, check_document, check_key

#: Every this many writes, expired documents are dropped (a process's memory does not keep what expired).
_SWEEP_EVERY = 512


class MemoryDocumentStore(DocumentStore):
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        # partition -> id -> (kind, body, etag, expires_at)
        self._items: dict[str, dict[str, tuple[str, dict[str, Any], str, float | None]]] = {}
        self._lock = asyncio.Lock()
        self._clock = clock
        self._writes = 0

    def _live(self, partition: str, item_id: str) -> tuple[str, dict[str, Any], str, float | None] | None:
        items = self._items.get(partition, {})
        item = items.get(item_id)
        if item is not None and item[3] is not None and item[3] <= self._clock():
            del items[item_id]
            return None
        return item

    @staticmethod
    def _document(partition: str, item_id: str, item: tuple[str, dict[str, Any], str, float | None]) -> Document:
        return Document(partition=partition, id=item_id, kind=item[0], body=copy.deepcopy(item[1]), etag=item[2])

    async def get(self, partition: str, id: str) -> Document | None:
        check_key(partition, id)
        item = self._live(partition, id)
        return None if item is None else self._document(partition, id, item)

    async def put(self, partition: str, id: str, body: dict[str, Any], *, kind: str,
                  if_match: str | IfNew | None = None, ttl_seconds: float | None = None) -> Document:
        check_key(partition, id)
        check_document(kind, body, ttl_seconds)
        async with self._lock:
            current = self._live(partition, id)
            if if_match is NEW and current is not None:
                raise DocumentConflictError(f"{id} exists in {partition}")
            if isinstance(if_match, str) and (current is None or current[2] != if_match):
                raise DocumentConflictError(f"{id} in {partition} was changed or deleted by someone else")
            now = self._clock()
            self._writes += 1
            if self._writes % _SWEEP_EVERY == 0:
                self._sweep(now)
            item = (kind, copy.deepcopy(body), uuid.uuid4().hex, None if ttl_seconds is None else now + ttl_seconds)
            self._items.setdefault(partition, {})[id] = item
            return self._document(partition, id, item)

    async def delete(self, partition: str, id: str, *, if_match: str | None = None) -> bool:
        check_key(partition, id)
        async with self._lock:
            current = self._live(partition, id)
            if current is None:
                if if_match is not None:
                    raise DocumentConflictError(f"{id} in {partition} was deleted by someone else")
                return False
            if if_match is not None and current[2] != if_match:
                raise DocumentConflictError(f"{id} in {partition} was changed by someone else")
            del self._items[partition][id]
            return True

    async def list(self, partition: str, prefix: str = "") -> list[Document]:
        check_key(partition, prefix or "-")
        ids = sorted(item_id for item_id in self._items.get(partition, {}) if item_id.startswith(prefix))
        found = [(item_id, self._live(partition, item_id)) for item_id in ids]
        return [self._document(partition, item_id, item) for item_id, item in found if item is not None]

    def _sweep(self, now: float) -> None:
        """Forget expired documents nobody reads again (expiry is otherwise noticed on reads only)."""
        for partition in list(self._items):
            items = self._items[partition]
            for item_id in [i for i, item in items.items() if item[3] is not None and item[3] <= now]:
                del items[item_id]
            if not items:
                del self._items[partition]

    def drop_partition(self, partition: str) -> None:
        """Forget every document of ``partition`` (its session was deleted)."""
        self._items.pop(partition, None)
