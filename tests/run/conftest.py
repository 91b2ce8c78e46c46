"""Turn journal and replay tests run on the session stores' backends (memory, SQLite file, Cosmos DB through
``@vercel/cosmosdb-server``) and against the scripted model; the fixtures live with their owners."""

from __future__ import annotations

from tests.servers.model_fixtures import model, script  # noqa: F401 - shared fixtures
from tests.sessions.conftest import backend, cosmos, cosmos_target, new_id  # noqa: F401 - shared fixtures
