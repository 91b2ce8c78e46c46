"""Session stores: where conversations live between turns.

``create_session_store()`` picks the backend from the environment: Cosmos DB when ``COSMOS_ENDPOINT`` is set
(Azure), otherwise the embedded SQLite file (local runs). The backends' SDKs (azure-cosmos, aiosqlite) are
imported only by the backend that is chosen, when it first touches storage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import settings
from .base import HistoryPage, Session, SessionStore
from .memory import MemorySessionStore

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

__all__ = ["HistoryPage", "MemorySessionStore", "Session", "SessionStore", "create_session_store"]


def create_session_store(*, credential: AsyncTokenCredential | None = None) -> SessionStore:
    """The store the settings select: Cosmos DB when ``COSMOS_ENDPOINT`` is set, else SQLite.

    ``credential`` replaces ``DefaultAzureCredential`` for Cosmos DB. An endpoint on this machine (an
    emulator or test server) is used without endpoint discovery, since such servers advertise addresses
    that are not reachable as regional endpoints.
    """
    endpoint = settings.COSMOS_ENDPOINT.get()
    if endpoint:
        from .cosmos import CosmosSessionStore, is_local_endpoint

        return CosmosSessionStore(
            endpoint, credential=credential, enable_endpoint_discovery=not is_local_endpoint(endpoint)
        )
    from .sqlite import SqliteSessionStore

    return SqliteSessionStore()
