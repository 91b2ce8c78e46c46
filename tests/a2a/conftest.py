"""Local host processes serving the A2A test app, sharing one SQLite store per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers.localhost import LocalHostProcess

APP = Path(__file__).resolve().parent / "app"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("a2a") / "sessions.sqlite3"


@pytest.fixture(scope="module")
def host(store_path: Path) -> Iterator[LocalHostProcess]:
    """The app on the classic Functions types (SSE bodies are sent once complete)."""
    with LocalHostProcess(APP, env={"AGENTS_SESSION_DB": str(store_path)}) as process:
        yield process


@pytest.fixture(scope="module")
def streaming_host(store_path: Path) -> Iterator[LocalHostProcess]:
    """The app on the HTTP-streams types (SSE events sent as they happen), same store."""
    env = {"AGENTS_SESSION_DB": str(store_path), "A2A_TEST_STREAMING": "1", "PYTHON_ENABLE_INIT_INDEXING": "1"}
    with LocalHostProcess(APP, env=env) as process:
        yield process
