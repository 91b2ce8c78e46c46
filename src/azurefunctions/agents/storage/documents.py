"""The document-store protocol: ``get``, ``put`` with a precondition, ``delete`` and ``list`` by id prefix (from
an id on).

A document is a JSON object addressed by ``(partition, id)``; ``kind`` names what it is (the backends index it:
SQLite's ``kind`` column, Cosmos DB's ``type`` field). Every write returns a new ``etag``, and ``put`` can be
made conditional (``if_match=<etag>``: only over that version; ``if_match=NEW``: only when no live document
has the id), which is what lets two workers agree on who changed a record first. A document written with
``ttl_seconds`` reads as missing once that long has passed since its last write.
"""

from __future__ import annotations

import enum
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Final


class IfNew(enum.Enum):
    """The type of ``NEW``."""

    NEW = "new"


#: ``put(..., if_match=NEW)``: create only; a conflict when a live document has the id.
NEW: Final = IfNew.NEW

#: Body keys a backend keeps for itself (Cosmos DB's item fields and system properties).
RESERVED_KEYS: Final = frozenset({"id", "pk", "type", "ttl", "expires_at"})
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class DocumentConflictError(Exception):
    """The precondition of a write failed: the document was created, changed or deleted by someone else."""


@dataclass
class Document:
    partition: str
    id: str
    kind: str
    body: dict[str, Any] = field(default_factory=dict)
    #: Version token of the stored copy.
    etag: str = ""


def check_key(partition: str, item_id: str) -> None:
    """``ValueError`` naming the argument for an empty or non-string partition or id."""
    if not isinstance(partition, str) or not partition:
        raise ValueError(f"partition must be a non-empty string, got {partition!r}")
    if not isinstance(item_id, str) or not item_id:
        raise ValueError(f"id must be a non-empty string, got {item_id!r}")


def check_document(kind: str, body: dict[str, Any], ttl_seconds: float | None) -> None:
    """``ValueError`` naming the argument for a body, kind or TTL no backend could keep."""
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(f"kind must be a lower-case identifier of up to 32 characters, got {kind!r}")
    if not isinstance(body, dict):
        raise ValueError(f"body must be a dict, got {type(body).__name__}")
    reserved = sorted(key for key in body if key in RESERVED_KEYS or key.startswith("_"))
    if reserved:
        raise ValueError(f"body must not use the store's own keys {reserved}")
    if ttl_seconds is not None and (isinstance(ttl_seconds, bool) or not ttl_seconds > 0):
        raise ValueError(f"ttl_seconds must be a number above 0 or None, got {ttl_seconds!r}")


class DocumentStore(ABC):
    """JSON documents by ``(partition, id)`` with optimistic concurrency (etags) and optional expiry."""

    @abstractmethod
    async def get(self, partition: str, id: str) -> Document | None:
        """The document, or ``None`` when there is none (or it expired)."""

    @abstractmethod
    async def put(self, partition: str, id: str, body: dict[str, Any], *, kind: str,
                  if_match: str | IfNew | None = None, ttl_seconds: float | None = None) -> Document:
        """Write the document and return it with its new etag.

        ``if_match``: ``None`` writes whatever is stored; an etag writes only over that version; ``NEW`` writes
        only when no live document has the id. A failed precondition raises ``DocumentConflictError``.
        ``ttl_seconds``: the document expires that long after this write (``None``: it stays).
        """

    @abstractmethod
    async def delete(self, partition: str, id: str, *, if_match: str | None = None) -> bool:
        """Delete the document; ``False`` when there was none. With ``if_match``, only that version
        (``DocumentConflictError`` when another is stored)."""

    @abstractmethod
    async def list(self, partition: str, prefix: str = "", *, start: str = "") -> list[Document]:
        """The live documents of ``partition`` whose id starts with ``prefix``, in id order; with ``start``,
        only those whose id sorts at or after it (so a reader skips the older part of a long run of ids)."""
