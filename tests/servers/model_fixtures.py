"""The scripted-model fixtures that test folders share: import them into a folder's conftest.py
(``from tests.servers.model_fixtures import model, script``).

``model`` is one scripted OpenAI-compatible server per test module; ``script`` is its queue of replies and log of
requests, emptied for each test. A folder whose fixtures need the server for longer (a local host started once
for the package) or with a key of its own makes its ``model`` with ``scripted_model(scope=..., api_key=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest

from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Script

Scope = Literal["session", "package", "module", "class", "function"]


def scripted_model(*, scope: Scope = "module", api_key: str = "test-openai-key") -> Callable[..., Any]:
    """A ``model`` fixture: a scripted OpenAI-compatible server on 127.0.0.1 that lives for ``scope``."""

    @pytest.fixture(scope=scope, name="model")
    def model() -> Iterator[OpenAIServer]:
        with OpenAIServer(api_key=api_key) as server:
            yield server

    return model


model = scripted_model()


@pytest.fixture
def script(model: OpenAIServer) -> Script:
    """The model's script, emptied of the replies and requests an earlier test left."""
    model.script.clear()
    return model.script
