"""An Ollama server (``POST /api/chat``) that the real ``ollama`` SDK talks to.

Speaks the wire format the SDK parses: JSON requests with ``messages`` (``tool_calls`` with object
``arguments``, ``tool`` messages with ``tool_name``), ``tools``, ``options`` and ``stream``; a non-streaming
answer is one JSON object, a streaming one is NDJSON, one object a line, the last with ``"done": true``, the
``done_reason`` and the token counts ``prompt_eval_count`` / ``eval_count``. Errors are ``{"error": "..."}``
with the HTTP status (and ``retry-after`` where the scripted reply sets it). ``format`` must be ``"json"`` or a
JSON schema object and ``think`` a boolean or a level, as Ollama checks them. No key is checked: Ollama has
none.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .base import LocalServer
from .scripted import Reply, Script, dumps


def _last_tool_result(messages: list[dict[str, Any]]) -> str | None:
    if messages and messages[-1].get("role") == "tool":
        content = messages[-1].get("content")
        return content if isinstance(content, str) else json.dumps(content)
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class OllamaServer(LocalServer):
    """``OllamaServer().start()``; ``.script`` queues replies; ``.url`` is the SDK's ``host``."""

    def __init__(self) -> None:
        self.script = Script()
        super().__init__(Starlette(routes=[Route("/api/chat", self._chat, methods=["POST"])]))

    @property
    def base_url(self) -> str:
        return self.url

    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.script.record(body, dict(request.headers))
        if not body.get("model"):
            return JSONResponse({"error": "model is required"}, status_code=400)
        fmt = body.get("format")
        if fmt is not None and fmt not in ("", "json") and not isinstance(fmt, dict):
            return JSONResponse({"error": f"invalid format: {fmt!r}; expected \"json\" or a JSON schema"},
                                status_code=400)
        if body.get("think") not in (None, True, False, "low", "medium", "high"):
            return JSONResponse({"error": f"invalid think value: {body['think']!r}"}, status_code=400)
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        reply = self.script.take(tools, _last_tool_result(body.get("messages") or []))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status is not None:
            headers = {"retry-after": f"{reply.retry_after:g}"} if reply.retry_after is not None else {}
            message = "server busy, please try again." if reply.status in (429, 503) else "scripted failure"
            return JSONResponse({"error": message}, status_code=reply.status, headers=headers)
        model = body["model"]
        calls = [{"function": {"name": c.name, "arguments": c.arguments}} for c in reply.tool_calls]
        # Ollama streams by default: only an explicit "stream": false gets one JSON object.
        if body.get("stream", True):
            return StreamingResponse(self._lines(reply, model, calls), media_type="application/x-ndjson")
        if reply.malformed:
            return Response("{not json", media_type="application/json")
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if calls:
            message["tool_calls"] = calls
        return JSONResponse({"model": model, "created_at": _now(), "message": message, **self._final(reply)})

    @staticmethod
    def _final(reply: Reply) -> dict[str, Any]:
        return {"done": True, "done_reason": "stop", "total_duration": 1_000_000, "load_duration": 1000,
                "prompt_eval_count": reply.input_tokens, "prompt_eval_duration": 1000,
                "eval_count": reply.output_tokens, "eval_duration": 1000}

    async def _lines(self, reply: Reply, model: str, calls: list[dict[str, Any]]) -> AsyncIterator[str]:
        if reply.malformed:
            yield "{not json\n"
            return
        for piece in reply.chunks():
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            yield dumps({"model": model, "created_at": _now(),
                         "message": {"role": "assistant", "content": piece}, "done": False}) + "\n"
        if calls:
            yield dumps({"model": model, "created_at": _now(),
                         "message": {"role": "assistant", "content": "", "tool_calls": calls},
                         "done": False}) + "\n"
        yield dumps({"model": model, "created_at": _now(), "message": {"role": "assistant", "content": ""},
                     **self._final(reply)}) + "\n"
