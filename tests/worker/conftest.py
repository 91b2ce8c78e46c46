"""The real Functions worker's tests share the scripted model."""

from __future__ import annotations

from tests.servers.model_fixtures import model  # noqa: F401 - the shared scripted model
