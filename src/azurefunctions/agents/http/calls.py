"""Transport-neutral HTTP request and reply, so one set of handlers serves every HTTP adapter.

The classic Functions types, the HTTP-streams (Starlette) types and the local host all convert to and from
these; handlers never see a framework object.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgentFrameworkError, MethodNotAllowedError

JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"


@dataclass
class HttpCall:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    route_params: Mapping[str, str]
    body: bytes = b""
    #: The caller's public base URL (scheme://host), for links and cards.
    base_url: str = ""
    #: W3C trace headers of the platform's request span (``traceparent``/``tracestate``), when known.
    trace_headers: Mapping[str, str] | None = None
    #: The signed-in caller's object id, set by the guard when the app uses Entra ID (never from the request).
    principal_id: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class HttpReply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: A streamed body (SSE); adapters that cannot stream send it once it is complete.
    stream: AsyncIterator[bytes] | None = None
    media_type: str = JSON_TYPE

    async def read_all(self) -> bytes:
        if self.stream is None:
            return self.body
        parts = [chunk async for chunk in self.stream]
        return b"".join(parts)


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpReply:
    body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    return HttpReply(status=status, headers=dict(headers or {}), body=body, media_type=JSON_TYPE)


def error_envelope(exc: AgentFrameworkError, *, agent: str | None = None, session_id: str | None = None,
                   headers: dict[str, str] | None = None) -> HttpReply:
    """The reply for a runtime error: its status, code and client-facing message (``Allow`` for a 405)."""
    headers = dict(headers or {})
    if isinstance(exc, MethodNotAllowedError):
        headers["Allow"] = ", ".join(exc.allow)
    return error_reply(exc.status, exc.code, exc.message, agent=agent, session_id=session_id, headers=headers)


def error_reply(status: int, code: str, message: str, *, agent: str | None = None,
                session_id: str | None = None, headers: dict[str, str] | None = None) -> HttpReply:
    """The one error envelope of every route: ``{"error": {"code", "message"}}`` plus what is known."""
    data: dict[str, Any] = {"error": {"code": code, "message": message}}
    if agent is not None:
        data["agent"] = agent
    if session_id is not None:
        data["session_id"] = session_id
    return json_reply(data, status, headers)
