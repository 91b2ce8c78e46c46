"""Deployment modes of an ``AgentFunctionApp``."""

from __future__ import annotations

from enum import StrEnum


class AgentMode(StrEnum):
    """AZURE_FUNCTION_AGENT: the standard chat/info/list routes. A2A: the Agent-to-Agent protocol as well."""

    AZURE_FUNCTION_AGENT = "azure_function_agent"
    A2A = "a2a"
