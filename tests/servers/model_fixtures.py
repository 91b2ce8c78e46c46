"""The scripted-model fixtures that test folders share: import them into a folder's conftest.py
(``from tests.servers.model_fixtures import model, script``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.openai_server import OpenAIServer


@pytest.fixture(scope="module")
def model() -> Iterator[OpenAIServer]:
    """One scripted OpenAI-compatible model per test module."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def script(model: OpenAIServer) -> OpenAIServer:
    """The module's model with an empty script."""
    model.script.clear()
    return model
