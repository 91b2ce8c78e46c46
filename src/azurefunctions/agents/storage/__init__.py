"""Storage shared by every kind of record: the document-store protocol the backends implement.

Sessions, background turn records and the other repositories keep their data as documents in one logical
layout (DESIGN.md "Store layout"): a partition per session or task, items addressed by id inside it. Each
backend (memory, SQLite, Cosmos DB) implements ``DocumentStore``; code outside a backend uses only this
protocol and never a backend's connection or container.
"""

from .documents import NEW, Document, DocumentConflictError, DocumentStore, IfNew
from .memory import MemoryDocumentStore

__all__ = ["NEW", "Document", "DocumentConflictError", "DocumentStore", "IfNew", "MemoryDocumentStore"]
