"""The document-store contract runs on the session stores' backends (memory, SQLite file, Cosmos DB through
``@vercel/cosmosdb-server``): their fixtures live with the session tests."""

from __future__ import annotations

from tests.sessions.conftest import backend, cosmos, cosmos_target, new_id  # noqa: F401 - shared fixtures
