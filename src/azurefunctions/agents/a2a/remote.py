"""Remote A2A agents as tools: ``Agent(..., a2a_agents=[RemoteA2AAgent(url, name=...)])``.

The local agent's model sees one tool per remote agent (``name``, taking a ``message``); calling it sends the
message to the remote agent with the official ``a2a-sdk`` client (A2A 1.0, or 0.3 when that is all the
remote card offers) and returns the remote answer: the text of the task's artifacts, or of its reply
message. Failures come back to the model as tool errors that say what went wrong (the agent could not be
reached, refused the call, or its task failed), so the local agent can tell its user instead of failing.

* The Agent Card is resolved on first use and cached for ``card_ttl_seconds`` (5 minutes, like the cards this
  runtime serves); a failed call drops it so the next call resolves it again.
* ``headers`` go with every request, the card's included: for example ``{"x-functions-key": SecretRef(
  "converter-key")}`` for a Function App's function key. A ``SecretRef`` value is read from Key Vault when
  first used.
* Calls made in one local session continue one remote conversation: the remote ``contextId`` is derived from
  the local session id and the remote URL, so it is the same on every instance.

The SDK is imported when the tool is first called, never when the app is indexed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..azure.secrets import SecretRef
from ..tools.base import (
    ApprovalPolicy,
    ApprovalReason,
    Tool,
    ToolContext,
    ToolOutput,
    check_approval_reason,
    check_needs_approval,
    check_repeatable,
)

if TYPE_CHECKING:
    import httpx
    from a2a.types.a2a_pb2 import AgentCard, Task

logger = logging.getLogger("azurefunctions.agents.a2a")


def _require_sdk() -> None:
    """A missing ``a2a`` extra fails the turn with its name, instead of reaching the model as a tool error."""
    from ..errors import require_extra

    require_extra("a2a", "Remote A2A agents", "a2a")
    require_extra("httpx", "Remote A2A agents", "a2a")

CARD_PATH = "/.well-known/agent-card.json"
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RemoteA2AAgent:
    """Another agent reached over A2A, usable as a tool of a local agent.

    ``url`` is the remote app's base URL (its card is at ``<url>/.well-known/agent-card.json``, or at
    ``card_path`` under the URL's host) or the card's own URL (ending in ``.json``). ``name`` is the tool's
    name as the model sees it; ``description`` what the model is told about it (default: the remote card's
    description once resolved). ``timeout`` bounds each call in seconds. ``needs_approval``,
    ``approval_reason`` and ``repeatable`` are the ``Tool`` declarations for calls of this agent (a remote
    agent never receives an idempotency key).
    """

    def __init__(self, url: str, *, name: str, description: str | None = None,
                 headers: Mapping[str, str | SecretRef] | None = None, card_path: str | None = None,
                 timeout: float = 120.0, card_ttl_seconds: float = 300.0,
                 needs_approval: bool | ApprovalPolicy = False, approval_reason: ApprovalReason | None = None,
                 repeatable: bool = True) -> None:
        parsed = urllib.parse.urlsplit(url if isinstance(url, str) else "")
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"RemoteA2AAgent url must be an http(s) URL, got {url!r}")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise ValueError(f"RemoteA2AAgent name must be 1-64 letters, digits, '_' or '-' (a tool name), "
                             f"got {name!r}")
        if headers is not None and not all(isinstance(k, str) and isinstance(v, str | SecretRef)
                                           for k, v in headers.items()):
            raise ValueError("RemoteA2AAgent headers must map header names to strings or SecretRef(...) values")
        if timeout <= 0 or card_ttl_seconds < 0:
            raise ValueError("RemoteA2AAgent timeout must be positive and card_ttl_seconds not negative")
        origin = f"{parsed.scheme}://{parsed.netloc}"
        if card_path is not None:
            self.base_url, self.card_path = origin, "/" + card_path.lstrip("/")
        elif parsed.path.endswith(".json"):
            self.base_url, self.card_path = origin, parsed.path
        else:
            self.base_url, self.card_path = origin, parsed.path.rstrip("/") + CARD_PATH
        self.url = url
        self.name = name
        self.description = description
        self.headers: dict[str, str | SecretRef] = dict(headers or {})
        self.timeout = float(timeout)
        self.card_ttl_seconds = float(card_ttl_seconds)
        owner = f"RemoteA2AAgent {name!r}:"
        self.needs_approval = check_needs_approval(needs_approval, owner)
        self.approval_reason = check_approval_reason(approval_reason, owner)
        self.repeatable = check_repeatable(repeatable, owner)
        self._card: AgentCard | None = None
        self._card_until = 0.0

    def __repr__(self) -> str:
        return f"RemoteA2AAgent(name={self.name!r}, url={self.url!r})"

    @property
    def card(self) -> AgentCard | None:
        """The remote Agent Card, once resolved and while cached."""
        return self._card if self._card is not None and time.monotonic() < self._card_until else None

    def as_tool(self) -> Tool:
        return RemoteA2ATool(self)

    async def _headers(self) -> dict[str, str]:
        from ..azure.secrets import aget_secret

        values: dict[str, str] = {}
        for key, value in self.headers.items():
            values[key] = value if isinstance(value, str) else str(await aget_secret(value))
        return values

    async def resolve_card(self, http: httpx.AsyncClient | None = None) -> AgentCard:
        """The remote card (cached); ``A2AClientError`` or ``httpx.HTTPError`` when it cannot be had."""
        cached = self.card
        if cached is not None:
            return cached
        _require_sdk()
        import httpx
        from a2a.client import A2ACardResolver

        own = http is None
        client = http or httpx.AsyncClient(timeout=self.timeout, headers=await self._headers())
        try:
            card = await A2ACardResolver(client, self.base_url).get_agent_card(relative_card_path=self.card_path)
        finally:
            if own:
                await client.aclose()
        self._card, self._card_until = card, time.monotonic() + self.card_ttl_seconds
        return card

    def forget_card(self) -> None:
        self._card = None

    def context_id(self, session_id: str | None) -> str | None:
        """The remote conversation of a local session: the same on every instance, different per remote."""
        if not session_id:
            return None
        digest = hashlib.sha256(f"{session_id}\n{self.base_url}{self.card_path}".encode()).hexdigest()
        return f"a2a-{digest[:40]}"

    async def send(self, text: str, *, session_id: str | None = None) -> ToolOutput:
        """Send ``text`` to the remote agent and return its answer (or what went wrong) for the model."""
        _require_sdk()
        import httpx
        from a2a.client import A2AClientError, ClientConfig, ClientFactory
        from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest
        from a2a.utils.errors import A2AError

        message = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=[Part(text=text)])
        context_id = self.context_id(session_id)
        if context_id:
            message.context_id = context_id
        async with httpx.AsyncClient(timeout=self.timeout, headers=await self._headers()) as http:
            try:
                card = await self.resolve_card(http)
            except (A2AClientError, httpx.HTTPError) as exc:
                return self._error(f"its Agent Card at {self.base_url}{self.card_path} could not be read "
                                   f"({_reason(exc)})")
            client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
            try:
                final: Any = None
                async for event in client.send_message(SendMessageRequest(message=message)):
                    final = event
            except (A2AError, httpx.HTTPError) as exc:
                self.forget_card()
                return self._error(f"the call failed ({_reason(exc)})")
            finally:
                await client.close()
        if final is None:
            return self._error("it sent no answer")
        if final.HasField("message"):
            return ToolOutput(content=_text(final.message.parts) or "(the remote agent sent an empty reply)")
        task = final.task if final.HasField("task") else None
        if task is None:
            return self._error("it answered with an update but no task")
        return self._task_output(task)

    def _task_output(self, task: Task) -> ToolOutput:
        from a2a.types.a2a_pb2 import TaskState

        state = task.status.state
        status_text = _text(task.status.message.parts) if task.status.HasField("message") else ""
        if state == TaskState.TASK_STATE_COMPLETED:
            answer = "".join(_text(artifact.parts) for artifact in task.artifacts) or status_text
            return ToolOutput(content=answer or "(the remote agent completed the task without an answer)",
                              structured={"task_id": task.id, "context_id": task.context_id})
        name = TaskState.Name(state).removeprefix("TASK_STATE_").lower().replace("_", "-")
        if state in (TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED):
            return ToolOutput(content=f"The remote agent {self.name} needs more ({name}): {status_text}".strip())
        return self._error(f"its task ended {name}" + (f": {status_text}" if status_text else ""))

    def _error(self, what: str) -> ToolOutput:
        logger.warning("remote A2A agent %s: %s", self.name, what)
        return ToolOutput(content=f"The remote agent {self.name} did not answer: {what.rstrip('.')}.", is_error=True)


class RemoteA2ATool(Tool):
    """The tool of a ``RemoteA2AAgent``: one ``message`` argument, the remote answer as the result."""

    def __init__(self, remote: RemoteA2AAgent) -> None:
        self.remote = remote
        self.name = remote.name
        self.needs_approval = remote.needs_approval
        self.approval_reason = remote.approval_reason
        self.repeatable = remote.repeatable
        card = remote.card
        self.description = remote.description or (
            f"Ask the remote agent {remote.name}: {card.description}" if card is not None and card.description
            else f"Send a message to the remote agent {remote.name} (over the A2A protocol) and get its answer.")

    @property
    def parameters(self) -> dict[str, Any]:
        return {"type": "object", "properties": {"message": {
            "type": "string", "description": "The complete request for the remote agent, in plain language."}},
            "required": ["message"]}

    async def invoke(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutput:
        text = arguments.get("message")
        if not isinstance(text, str) or not text.strip():
            return ToolOutput(content="message must be a non-empty string", is_error=True)
        return await self.remote.send(text, session_id=context.session_id)

    def __repr__(self) -> str:
        return f"RemoteA2ATool(name={self.name!r}, url={self.remote.url!r})"


def _text(parts: Any) -> str:
    return "".join(part.text for part in parts if part.WhichOneof("content") == "text")


def _reason(exc: BaseException) -> str:
    """What went wrong, without request details that may carry credentials."""
    import httpx

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, httpx.HTTPStatusError):
            status = cause.response.status_code
            hint = {401: "; the remote app wants credentials: check the headers (its key)",
                    403: "; the credentials were refused"}.get(status, "")
            return f"HTTP {status}{hint}"
        if isinstance(cause, httpx.TimeoutException):
            return "timed out"
        if isinstance(cause, httpx.ConnectError):
            return "connection refused or host unreachable"
        cause = cause.__cause__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
