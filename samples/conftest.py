"""Fixtures the samples' tests share: one scripted OpenAI-compatible model per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.servers.openai_server import OpenAIServer


@pytest.fixture(scope="module")
def model() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def script(model: OpenAIServer) -> OpenAIServer:
    """The module's model with an empty script."""
    model.script.clear()
    return model
