"""Fixtures the samples' tests share: one scripted OpenAI-compatible model per test module."""

from __future__ import annotations

from tests.servers.model_fixtures import model, script

__all__ = ["model", "script"]
