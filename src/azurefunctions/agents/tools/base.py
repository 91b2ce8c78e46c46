"""What the agent loop needs of a tool: a name, a JSON schema, and an async ``invoke``.

Python functions, MCP server tools, remote A2A agents and handoff targets are all tools of this shape, so the
loop runs them the same way (concurrently, errors returned to the model).
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from ..providers.base import ToolSpec

logger = logging.getLogger("azurefunctions.agents.tools")


@dataclass
class ToolContext:
    """What a tool invocation may know about the turn it runs in."""

    agent_name: str
    session_id: str | None = None
    user_id: str | None = None
    call_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    #: The turn this call belongs to (``ChatResponse.turn_id``).
    turn_id: str | None = None
    #: Stable per call: the same on every replay of the turn. A tool with side effects that must not happen
    #: twice passes it to the system it calls (a payment's idempotency key, say).
    idempotency_key: str | None = None


ApprovalPolicy: TypeAlias = Callable[[dict[str, Any], ToolContext], "bool | Awaitable[bool]"]
"""Decides from a call's arguments and the request's context whether a person must approve it."""

ApprovalReason: TypeAlias = "str | Callable[[dict[str, Any], ToolContext], str]"
"""The text shown to the approver, or a function of the call's arguments and context returning it."""

NeedsApproval: TypeAlias = "bool | ApprovalPolicy"


def check_needs_approval(value: Any, owner: str) -> bool | ApprovalPolicy:
    """``needs_approval`` as given, or ``TypeError`` naming ``owner`` when it is neither a bool nor callable."""
    if isinstance(value, bool) or callable(value):
        return value  # type: ignore[no-any-return]
    raise TypeError(f"{owner} needs_approval must be True, False or a function (arguments, context) -> bool, "
                    f"got {type(value).__name__}")


def check_approval_reason(value: Any, owner: str) -> ApprovalReason | None:
    if value is None or isinstance(value, str) or callable(value):
        return value  # type: ignore[no-any-return]
    raise TypeError(f"{owner} approval_reason must be a string or a function (arguments, context) -> str, "
                    f"got {type(value).__name__}")


def check_repeatable(value: Any, owner: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner} repeatable must be True or False, got {value!r}")
    return value


async def approval_needed(tool: Tool, arguments: dict[str, Any], context: ToolContext) -> bool:
    """Whether this call of ``tool`` waits for a person: its ``needs_approval``, or what its policy says. A policy
    that fails asks for approval (an error never lets a guarded call through)."""
    rule = tool.needs_approval
    if isinstance(rule, bool):
        return rule
    try:
        answer = rule(arguments, context)
        if inspect.isawaitable(answer):
            answer = await answer
    except Exception:
        logger.exception("approval policy of tool %s raised; the call waits for approval", tool.name)
        return True
    return bool(answer)


def approval_text(tool: Tool, arguments: dict[str, Any], context: ToolContext) -> str:
    """What the approver is shown: the tool's ``approval_reason`` (text or function), else a plain default."""
    default = f"{context.agent_name} wants to call {tool.name}"
    reason = tool.approval_reason
    if reason is None:
        return default
    if isinstance(reason, str):
        return reason
    try:
        return str(reason(arguments, context))
    except Exception:
        logger.exception("approval_reason of tool %s raised", tool.name)
        return default


def per_tool(value: Any, owner: str, check: Callable[[Any, str], Any]) -> Any:
    """A setting given once for every tool of a server, or as ``{"tool name": value}``: checked either way."""
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"{owner}: the keys must be tool names")
        return {key: check(item, f"{owner}[{key!r}]") for key, item in value.items()}
    return check(value, owner)


@dataclass
class ToolOutput:
    """A tool's result as the model will read it. ``is_error`` results are shown to the model as errors."""

    content: str
    is_error: bool = False
    structured: Any = None


class ToolError(Exception):
    """Raised by a tool to report a failure to the model with exactly this message."""


class Tool(ABC):
    name: str
    description: str
    #: ``True``: every call waits for a person's approval; a function ``(arguments, context) -> bool`` decides
    #: per call (``lambda args, ctx: args["amount"] > 100``); ``False``: calls run at once.
    needs_approval: bool | ApprovalPolicy = False
    #: What the approver is shown (default: "<agent> wants to call <tool>").
    approval_reason: ApprovalReason | None = None
    #: ``False``: the tool's side effects must not happen twice. A turn resumed after a crash does not run a
    #: call of it again blindly when the call started but its result was not recorded.
    repeatable: bool = True

    @property
    def accepts_idempotency_key(self) -> bool:
        """Whether a call can be repeated safely with the same ``ToolContext.idempotency_key`` (the tool passes
        it on, so the system it calls does the work once)."""
        return False

    @property
    @abstractmethod
    def parameters(self) -> dict[str, Any]:
        """JSON schema of the arguments object."""

    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)

    @abstractmethod
    async def invoke(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutput:
        """Run the tool. Failures the model should see come back as ``ToolOutput(is_error=True)``."""
