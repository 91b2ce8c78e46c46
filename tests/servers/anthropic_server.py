"""An Anthropic Messages API server that the real ``anthropic`` SDK talks to.

Speaks ``POST /v1/messages`` as the SDK parses it: the key as ``x-api-key`` or a bearer token (newer SDKs send
the latter), the ``anthropic-version`` header, JSON
messages with ``text`` and ``tool_use`` content blocks, and with ``"stream": true`` the named SSE events
``message_start``, ``content_block_start``, ``ping``, ``content_block_delta`` (``text_delta``,
``input_json_delta``), ``content_block_stop``, ``message_delta`` (stop reason, output usage) and
``message_stop``. Errors use Anthropic's body ``{"type": "error", "error": {"type": ..., "message": ...}}``
with ``retry-after`` on 429 and 529.

``tool_choice`` is checked as the API checks it (``auto``, ``any``, ``none``, or ``tool`` naming an offered
tool) and honoured: under ``{"type": "tool", "name": N}`` the answer is a ``tool_use`` of N, so a scripted
text reply (JSON) becomes that tool's input; under ``any`` the script must name the tool the model calls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .base import LocalServer
from .scripted import Reply, Script, ScriptedToolCall, dumps

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}


def _last_tool_result(messages: list[dict[str, Any]]) -> str | None:
    if not messages or messages[-1].get("role") != "user":
        return None
    content = messages[-1].get("content")
    if not isinstance(content, list):
        return None
    results = [block for block in content if isinstance(block, dict) and block.get("type") == "tool_result"]
    if not results:
        return None
    inner = results[-1].get("content")
    if isinstance(inner, list):
        return "".join(b.get("text", "") for b in inner if isinstance(b, dict))
    return str(inner) if inner is not None else ""


class AnthropicServer(LocalServer):
    """``AnthropicServer().start()``; ``.script`` queues replies; ``.url`` is the SDK's ``base_url``."""

    def __init__(self, *, api_key: str = "test-anthropic-key") -> None:
        self.script = Script()
        self.api_key = api_key
        # When set, a scripted error on a streaming request comes as Anthropic sends errors that happen after
        # the response started: HTTP 200, then an ``event: error`` (e.g. ``overloaded_error``).
        self.errors_in_stream = False
        super().__init__(Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])]))

    @property
    def base_url(self) -> str:
        return self.url

    async def _messages(self, request: Request) -> Response:
        key_ok = request.headers.get("x-api-key") == self.api_key
        bearer_ok = request.headers.get("authorization") == f"Bearer {self.api_key}"
        if not (key_ok or bearer_ok):
            return _error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "anthropic-version: header is required")
        body = await request.json()
        self.script.record(body, dict(request.headers))
        if not isinstance(body.get("max_tokens"), int):
            return _error(400, "max_tokens: Field required")
        tools = [t["name"] for t in body.get("tools") or []]
        choice = body.get("tool_choice")
        if choice is not None:
            kind = choice.get("type") if isinstance(choice, dict) else None
            if kind not in ("auto", "any", "tool", "none"):
                return _error(400, "tool_choice: Input tag does not match any of the expected tags")
            if kind == "tool" and choice.get("name") not in tools:
                return _error(400, f"tool_choice: tool {choice.get('name')!r} is not one of the provided tools")
            if kind in ("any", "tool") and not tools:
                return _error(400, "tool_choice: requires tools")
        reply = self.script.take(tools, _last_tool_result(body.get("messages") or []))
        reply = _forced(reply, choice)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status is not None and self.errors_in_stream and body.get("stream"):
            error = {"type": "error", "error": {"type": _ERROR_TYPES.get(reply.status, "api_error"),
                                                "message": "scripted failure"}}
            return StreamingResponse(iter([f"event: error\ndata: {dumps(error)}\n\n"]),
                                     media_type="text/event-stream")
        if reply.status is not None:
            headers = {"retry-after": f"{reply.retry_after:g}"} if reply.retry_after is not None else {}
            return _error(reply.status, "scripted failure", headers)
        model = body.get("model", "claude")
        message_id = self.script.next_id("msg_")
        blocks = self._blocks(reply)
        if body.get("stream"):
            return StreamingResponse(self._events(reply, model, message_id, blocks),
                                     media_type="text/event-stream")
        if reply.malformed:
            return Response("{not json", media_type="application/json")
        return JSONResponse({
            "id": message_id, "type": "message", "role": "assistant", "model": model, "content": blocks,
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        })

    def _blocks(self, reply: Reply) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if reply.text:
            blocks.append({"type": "text", "text": reply.text})
        for call in reply.tool_calls:
            blocks.append({"type": "tool_use", "id": call.id or self.script.next_id("toolu_"),
                           "name": call.name, "input": call.arguments})
        return blocks

    async def _events(self, reply: Reply, model: str, message_id: str,
                      blocks: list[dict[str, Any]]) -> AsyncIterator[str]:
        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {dumps(data)}\n\n"

        if reply.malformed:
            yield "event: message_start\ndata: {not json\n\n"
            return
        yield event("message_start", {"type": "message_start", "message": {
            "id": message_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1}}})
        yield event("ping", {"type": "ping"})
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                yield event("content_block_start", {"type": "content_block_start", "index": index,
                                                    "content_block": {"type": "text", "text": ""}})
                for piece in reply.chunks():
                    if reply.chunk_delay:
                        await asyncio.sleep(reply.chunk_delay)
                    yield event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                        "delta": {"type": "text_delta", "text": piece}})
            else:
                yield event("content_block_start", {"type": "content_block_start", "index": index,
                                                    "content_block": {"type": "tool_use", "id": block["id"],
                                                                      "name": block["name"], "input": {}}})
                arguments = (reply.raw_arguments if reply.raw_arguments is not None
                             else json.dumps(block["input"]))
                half = len(arguments) // 2
                for part in (arguments[:half], arguments[half:]):
                    yield event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                        "delta": {"type": "input_json_delta",
                                                                  "partial_json": part}})
            yield event("content_block_stop", {"type": "content_block_stop", "index": index})
        yield event("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": "tool_use" if reply.tool_calls else "end_turn",
                                                "stop_sequence": None},
                                      "usage": {"output_tokens": reply.output_tokens}})
        yield event("message_stop", {"type": "message_stop"})


def _forced(reply: Reply, choice: Any) -> Reply:
    """The reply as the model gives it under a forced ``tool_choice``: a ``tool_use``, never plain text."""
    if not isinstance(choice, dict) or choice.get("type") not in ("tool", "any") or reply.status is not None:
        return reply
    if reply.tool_calls:
        return reply
    if choice["type"] == "any":
        raise AssertionError("under tool_choice any the scripted reply must name the tool the model calls")
    arguments = json.loads(reply.text)
    if not isinstance(arguments, dict):
        raise AssertionError("a forced tool's input is a JSON object; script one")
    return replace(reply, text="", tool_calls=[ScriptedToolCall(choice["name"], arguments)])


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"),
                                                    "message": message}},
                        status_code=status, headers=headers)
