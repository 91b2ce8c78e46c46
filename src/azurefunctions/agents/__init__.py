"""Azure Functions Agent Framework: AI agents served by an Azure Function App.

Public names resolve on first use (PEP 562), so ``import azurefunctions.agents`` loads no model SDK, no
Azure SDK and not even ``azure.functions``: the Functions worker pays only for what an app uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Agent": ".agent",
    "ReflectionAgent": ".reflection",
    "Runner": ".runner",
    "AgentFunctionApp": ".hosting.app",
    "AgentMode": ".hosting.modes",
    "ApprovalDecision": ".types",
    "ChatRequest": ".types",
    "ChatResponse": ".types",
    "LLMConfig": ".types",
    "LLMProvider": ".types",
    "MCPServer": ".mcp.config",
    "MCPServerMode": ".mcp.config",
    "MCPServerStdioParams": ".mcp.config",
    "MCPServerSseParams": ".mcp.config",
    "MCPServerStreamableHttpParams": ".mcp.config",
    "HandoffConfig": ".handoff.config",
    "HandoffTarget": ".handoff.config",
    "HandoffMode": ".handoff.config",
    "HandoffStrategy": ".handoff.config",
    "ControlReturn": ".handoff.config",
    "FunctionTool": ".tools.function_tool",
    "function_tool": ".tools.function_tool",
    "Message": ".messages",
    "Usage": ".messages",
    "SessionStore": ".sessions.base",
    "Session": ".sessions.base",
    "SecretRef": ".azure",
    "EntraAuth": ".http.auth",
    "RemoteA2AAgent": ".a2a.remote",
    "InputRequired": ".interrupts",
    "ask_user": ".interrupts",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .a2a.remote import RemoteA2AAgent
    from .agent import Agent
    from .azure import SecretRef
    from .handoff.config import ControlReturn, HandoffConfig, HandoffMode, HandoffStrategy, HandoffTarget
    from .hosting.app import AgentFunctionApp
    from .hosting.modes import AgentMode
    from .http.auth import EntraAuth
    from .interrupts import InputRequired, ask_user
    from .mcp.config import (
        MCPServer,
        MCPServerMode,
        MCPServerSseParams,
        MCPServerStdioParams,
        MCPServerStreamableHttpParams,
    )
    from .messages import Message, Usage
    from .reflection import ReflectionAgent
    from .runner import Runner
    from .sessions.base import Session, SessionStore
    from .tools.function_tool import FunctionTool, function_tool
    from .types import ApprovalDecision, ChatRequest, ChatResponse, LLMConfig, LLMProvider


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'azurefunctions.agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
