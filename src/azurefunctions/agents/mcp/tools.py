"""An MCP server's tool as an agent ``Tool``, and the rule that names tools from several servers.

The tool keeps the server's JSON schema as it is (nested objects, arrays, enums, ``$defs``); only a missing
top-level ``type: object`` is added, because model APIs require an object schema for arguments.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..tools.base import Tool, ToolContext, ToolOutput

if TYPE_CHECKING:
    from .config import MCPServer

logger = logging.getLogger("azurefunctions.agents.mcp")

_MODEL_NAME = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64


def model_tool_name(name: str) -> str:
    """A name every model API accepts (``^[A-Za-z0-9_-]{1,64}$``)."""
    cleaned = _MODEL_NAME.sub("_", name)[:_MAX_NAME]
    return cleaned or "tool"


def object_schema(schema: Any) -> dict[str, Any]:
    """The server's input schema, deep-copied, with ``type: object`` and ``properties`` guaranteed."""
    result: dict[str, Any] = copy.deepcopy(schema) if isinstance(schema, dict) else {}
    result.setdefault("type", "object")
    if result.get("type") == "object":
        result.setdefault("properties", {})
    return result


class MCPTool(Tool):
    """Calls ``remote_name`` on ``server``; ``name`` is what the model sees (see ``gather_mcp_tools``)."""

    def __init__(self, server: MCPServer, remote_name: str, description: str | None,
                 input_schema: Any, *, title: str | None = None, annotations: Any = None) -> None:
        self.server = server
        self.remote_name = remote_name
        self.name = model_tool_name(remote_name)
        self.description = description or title or f"Tool {remote_name} of MCP server {server.name}"
        self.title = title
        self.annotations = annotations
        self._parameters = object_schema(input_schema)
        self.needs_approval, self.approval_reason, self.repeatable = server.declared(remote_name)

    @property
    def parameters(self) -> dict[str, Any]:
        return self._parameters

    def renamed(self, name: str) -> MCPTool:
        clone = copy.copy(self)
        clone.name = name
        return clone

    async def invoke(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutput:
        return await self.server.call_tool(self.remote_name, arguments)

    def __repr__(self) -> str:
        return f"MCPTool(name={self.name!r}, server={self.server.name!r}, remote_name={self.remote_name!r})"


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    for n in range(2, 1000):
        suffix = f"_{n}"
        candidate = base[: _MAX_NAME - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    raise ValueError(f"too many tools named {base!r}")


def resolve_names(tools_per_server: Sequence[tuple[MCPServer, Sequence[Tool]]],
                  reserved: Iterable[str] = ()) -> list[Tool]:
    """Give every tool a distinct name, predictably.

    Names in ``reserved`` (the agent's own tools) win. Servers are taken in order; a tool keeps its name
    unless an earlier tool has it, in which case it becomes ``<server>_<tool>`` (and ``_2``, ``_3``... if
    even that is taken). Only the colliding tool is renamed; the MCP server is still called with its
    original name.
    """
    taken = set(reserved)
    result: list[Tool] = []
    for server, tools in tools_per_server:
        for tool in tools:
            name = tool.name
            if name in taken:
                prefixed = model_tool_name(f"{server.name}_{tool.name}")
                name = _unique(prefixed, taken)
                logger.info("MCP tool %r of server %r is named %r for the model (name taken)",
                            tool.name, server.name, name)
                if isinstance(tool, MCPTool):
                    tool = tool.renamed(name)
                else:
                    continue
            taken.add(name)
            result.append(tool)
    return result


async def gather_mcp_tools(servers: Sequence[MCPServer], reserved: Iterable[str] = ()) -> list[Tool]:
    """List the tools of several servers concurrently (a slow server does not delay the others) and give
    them distinct names (``resolve_names``). Never raises for an unreachable server."""
    listed = await asyncio.gather(*(server.list_tools() for server in servers))
    return resolve_names(list(zip(servers, listed, strict=True)), reserved)


def describe_mcp_tools(servers: Sequence[MCPServer], reserved: Iterable[str] = ()
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the info route shows, without connecting: each known tool (named as the model sees it, with its
    server) and each server with whether its tools are known yet (they are listed at the agent's first turn)."""
    known = [(server, server.known_tools()) for server in servers]
    listed = resolve_names([(server, tools) for server, tools in known if tools is not None], reserved)
    tools = [{"name": tool.name, "description": tool.description, "parameters": tool.parameters,
              "server": tool.server.name if isinstance(tool, MCPTool) else None} for tool in listed]
    described = []
    for server, server_tools in known:
        entry: dict[str, Any] = {"name": server.name, "tools_known": server_tools is not None}
        if server_tools is None:
            entry["note"] = "The tools are listed when the agent first needs them (its first turn)."
        else:
            entry["tool_count"] = len(server_tools)
        described.append(entry)
    return tools, described
