"""``Agent``: instructions, tools, a model, and the override point ``process_request``.

The agent is configuration: the turn that runs it lives in run/ (run/execute.py, run/loop.py), which imports
this module only for type checking, so the base ``process_request`` can run the turn without an import cycle.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .errors import AgentFrameworkError, ConfigurationError
from .handoff.config import HandoffConfig
from .limits import DEFAULT_MAX_TURNS
from .run.execute import TurnExecutor
from .tools.base import ApprovalPolicy, ApprovalReason, Tool
from .tools.function_tool import FunctionTool, as_tool
from .types import ChatRequest, ChatResponse, LLMConfig

if TYPE_CHECKING:
    from .providers.base import ModelProvider
    from .structured_output import StructuredOutput


class Agent:
    """An AI agent: what it is told, the tools it may call, and the model it talks to.

    The agent is configuration plus the model connection; the loop that runs a turn lives in run/ (the
    ``Runner`` is its public face), which goes through ``process_request`` so that subclasses can pre- and
    post-process every request.
    """

    def __init__(
        self,
        name: str,
        instructions: str = "",
        tools: Iterable[Callable[..., Any] | Tool] | None = None,
        llm_config: LLMConfig | None = None,
        description: str | None = None,
        mcp_servers: Iterable[Any] | None = None,
        handoff_config: HandoffConfig | None = None,
        enable_conversational_agent: bool = True,
        streaming: bool = False,
        expose_instructions: bool = False,
        expose_tools: bool = True,
        max_turns: int = DEFAULT_MAX_TURNS,
        history_window: int = 50,
        version: str = "1.0.0",
        a2a_agents: Iterable[Any] | None = None,
        output_type: Any = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(f"Agent() got unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("Agent name must be a non-empty string")
        if not all(c.isalnum() or c in "_-." for c in name) or len(name) > 64:
            raise ValueError(f"Agent name {name!r} must be 1-64 letters, digits, '_', '-' or '.' (it is a URL path)")
        if not isinstance(instructions, str):
            raise TypeError("instructions must be a string")
        if llm_config is not None and not isinstance(llm_config, LLMConfig):
            raise TypeError("llm_config must be an LLMConfig")
        if handoff_config is not None and not isinstance(handoff_config, HandoffConfig):
            raise TypeError(f"handoff_config must be a HandoffConfig, got {type(handoff_config).__name__}")
        if not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError("max_turns must be a positive integer")
        self.name = name
        self.instructions = instructions
        self.llm_config = llm_config if llm_config is not None else LLMConfig.from_env()
        self.description = description or (instructions.split(".")[0][:200] if instructions else name)
        self.handoff_config = handoff_config
        self.enable_conversational_agent = enable_conversational_agent
        self.streaming = streaming
        self.expose_instructions = expose_instructions
        self.expose_tools = expose_tools
        self.max_turns = max_turns
        self.history_window = history_window
        self.version = version
        self._tools: dict[str, Tool] = {}
        for item in tools or []:
            self.add_tool(item)
        self.mcp_servers: list[Any] = list(mcp_servers or [])
        self.a2a_agents: list[Any] = list(a2a_agents or [])
        #: A type pydantic can validate: the agent answers with an instance of it (``ChatResponse.output``).
        self.output_type = output_type
        self.structured_output: StructuredOutput | None = None
        if output_type is not None:
            from .structured_output import StructuredOutput

            self.structured_output = StructuredOutput(output_type)
        self._providers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ModelProvider] = (
            weakref.WeakKeyDictionary())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, provider={self.llm_config.provider.value!r})"

    # Tools ---------------------------------------------------------------------------------------------------
    @property
    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def add_tool(self, tool: Callable[..., Any] | Tool) -> Tool:
        resolved = as_tool(tool)
        if resolved.name in self._tools:
            raise ValueError(f"agent {self.name!r} already has a tool named {resolved.name!r}")
        self._tools[resolved.name] = resolved
        return resolved

    def tool(self, func: Callable[..., Any] | None = None, *, name: str | None = None,
             description: str | None = None, needs_approval: bool | ApprovalPolicy = False,
             approval_reason: ApprovalReason | None = None, repeatable: bool = True) -> Any:
        """Decorator registering a function as a tool: ``@agent.tool`` or ``@agent.tool(name=...)``.

        ``needs_approval=True`` (or a policy ``(arguments, context) -> bool``) makes calls wait for a person's
        approval; ``repeatable=False`` marks side effects that must not happen twice (see ``Tool``).
        The function itself is returned, so it stays callable as before.
        """
        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.add_tool(FunctionTool(f, name=name, description=description, needs_approval=needs_approval,
                                       approval_reason=approval_reason, repeatable=repeatable))
            return f

        return register(func) if func is not None else register

    def add_mcp_server(self, server: Any) -> None:
        """Add an MCP server whose tools this agent may call; takes effect from the next turn."""
        if not hasattr(server, "list_tools"):
            raise TypeError("add_mcp_server() expects an MCPServer")
        self.mcp_servers.append(server)

    async def list_tools(self) -> list[Tool]:
        """Function tools plus the tools of every MCP server, listed for one turn."""
        tools = list(self._tools.values())
        if self.mcp_servers:
            from .mcp.tools import gather_mcp_tools

            tools.extend(await gather_mcp_tools(self.mcp_servers, reserved=[t.name for t in tools]))
        for remote in self.a2a_agents:
            tools.append(remote.as_tool() if hasattr(remote, "as_tool") else as_tool(remote))
        return tools

    # Model ---------------------------------------------------------------------------------------------------
    @property
    def provider(self) -> ModelProvider:
        """The model provider for the running event loop (SDK clients cannot cross loops)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise ConfigurationError("Agent.provider is only available inside a running event loop") from None
        provider = self._providers.get(loop)
        if provider is None:
            from .providers.factory import create_provider

            provider = create_provider(self.llm_config)
            self._providers[loop] = provider
        return provider

    # Requests ------------------------------------------------------------------------------------------------
    async def process_request(self, request_data: dict[str, Any] | ChatRequest | str) -> ChatResponse:
        """Run one turn. Override to pre- or post-process; call ``super().process_request`` for the turn."""
        return await TurnExecutor.for_agent(self).execute(request_data)

    @classmethod
    def overrides_process_request(cls) -> bool:
        """Whether this class overrides ``process_request``: its override then gets every turn's request as the
        README's ``request_data`` dict, also when a handoff reaches the agent (run/overrides.py)."""
        return cls.process_request is not Agent.process_request

    def derive(self, role: str, *, llm_config: LLMConfig | None = None, instructions: str = "") -> Agent:
        """A plain ``Agent`` named ``<name>-<role>`` that only talks to a model (a routing or evaluating call):
        no tools, no session, ``llm_config`` or this agent's. Built here so that the turn's modules never
        construct an ``Agent`` themselves (they import this module only for type checking)."""
        return Agent(f"{self.name}-{role}", instructions=instructions,
                     llm_config=llm_config if llm_config is not None else self.llm_config,
                     enable_conversational_agent=False)

    async def chat(self, message: str, *, session_id: str | None = None, user_id: str | None = None,
                   context: dict[str, Any] | None = None) -> str:
        """The agent's answer to ``message`` (for tests and scripts); raises if the turn failed."""
        response = await self.process_request(
            {"message": message, "session_id": session_id, "user_id": user_id, "context": context or {}})
        if response.status == "awaiting_approval":
            tools = ", ".join(str(a.get("tool")) for a in response.approvals)
            raise AgentFrameworkError(
                f"The turn {response.turn_id} waits for a person's approval of {tools}; decide with "
                "Runner.resume(session_id, turn_id, decisions).", code="awaiting_approval", status=409)
        if response.status != "success":
            raise AgentFrameworkError(response.error or "the turn failed", code=response.error_code)
        return response.response or ""

    def info(self) -> dict[str, Any]:
        """What ``GET /api/agents/{name}/info`` shows; instructions only when ``expose_instructions``."""
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "type": type(self).__name__,
            "version": self.version,
            "provider": self.llm_config.provider.value,
            "model": self.llm_config.model_name,
            "streaming": self.streaming,
            "conversational": self.enable_conversational_agent,
        }
        if self.structured_output is not None:
            data["output_schema"] = self.structured_output.schema
        if self.expose_instructions:
            data["instructions"] = self.instructions
        if self.expose_tools:
            data["tools"] = [{"name": t.name, "description": t.description, "parameters": t.parameters}
                             for t in self._tools.values()]
            if self.mcp_servers:
                from .mcp.tools import describe_mcp_tools

                tools, servers = describe_mcp_tools(self.mcp_servers, reserved=list(self._tools))
                data["tools"] += tools
                data["mcp_servers"] = servers
        if self.handoff_config is not None:
            data["handoffs"] = self.handoff_config.describe()
        return data

    async def aclose(self) -> None:
        for provider in list(self._providers.values()):
            await provider.aclose()
        self._providers.clear()
        for server in self.mcp_servers:
            if hasattr(server, "aclose"):
                await server.aclose()
