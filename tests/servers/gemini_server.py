"""A Gemini API server that the real ``google-genai`` SDK talks to.

Speaks ``POST /{version}/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse`` as the SDK
parses them: the key in ``x-goog-api-key`` (or ``?key=``), camelCase JSON (``contents`` with ``parts``,
``systemInstruction``, ``tools[].functionDeclarations``, ``generationConfig``), answers as ``candidates`` with
``text`` and ``functionCall`` parts, ``finishReason`` and ``usageMetadata``; a stream is ``data:`` events each
holding one such response. Errors use Google's body ``{"error": {"code", "message", "status", "details"}}``
with a ``google.rpc.RetryInfo`` detail (``retryDelay``) where the scripted reply sets ``retry_after``; like
the real service, a bad key is a 400 ``INVALID_ARGUMENT`` saying "API key not valid", and a
``responseSchema`` without ``responseMimeType: application/json`` is refused. ``usageMetadata`` reports
``thoughtsTokenCount`` when the scripted reply has reasoning tokens.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .base import LocalServer
from .scripted import Reply, Script, dumps

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def _last_tool_result(contents: list[dict[str, Any]]) -> str | None:
    if not contents:
        return None
    responses = [part["functionResponse"] for part in contents[-1].get("parts") or []
                 if isinstance(part, dict) and "functionResponse" in part]
    if not responses:
        return None
    answer = responses[-1].get("response")
    if isinstance(answer, dict) and set(answer) <= {"output", "error"}:
        value = answer.get("output", answer.get("error"))
        return value if isinstance(value, str) else json.dumps(value)
    return json.dumps(answer)


class GeminiServer(LocalServer):
    """``GeminiServer().start()``; ``.script`` queues replies; ``.url`` is the SDK's ``base_url``."""

    def __init__(self, *, api_key: str = "test-google-key", thought_signatures: bool = False) -> None:
        self.script = Script()
        self.api_key = api_key
        # Like Gemini 3: the first function call of each answer carries an opaque ``thoughtSignature``.
        self.thought_signatures = thought_signatures
        routes = [Route("/{version}/models/{target}", self._models, methods=["POST"])]
        super().__init__(Starlette(routes=routes))

    @property
    def base_url(self) -> str:
        return self.url

    async def _models(self, request: Request) -> Response:
        model, _, method = request.path_params["target"].partition(":")
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if key != self.api_key:
            return _error(400, "API key not valid. Please pass a valid API key.")
        if method not in ("generateContent", "streamGenerateContent"):
            return _error(404, f"Method {method!r} not found for model {model!r}.")
        body = await request.json()
        self.script.record(body, dict(request.headers))
        if not body.get("contents"):
            return _error(400, "* GenerateContentRequest.contents: contents is not specified")
        generation = body.get("generationConfig") or {}
        if ("responseSchema" in generation or "responseJsonSchema" in generation) and \
                generation.get("responseMimeType") != "application/json":
            return _error(400, "* GenerateContentRequest.generation_config.response_mime_type: must be "
                          "application/json when response_schema is set")
        tools = [d["name"] for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        reply = self.script.take(tools, _last_tool_result(body["contents"]))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status is not None:
            return _error(reply.status, "scripted failure", retry_after=reply.retry_after)
        if method == "streamGenerateContent":
            if request.query_params.get("alt") != "sse":
                return _error(400, "this server streams only with alt=sse")
            return StreamingResponse(self._events(reply, model), media_type="text/event-stream")
        if reply.malformed:
            return Response("{not json", media_type="application/json")
        parts: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
        parts.extend(self._calls(reply))
        return JSONResponse(self._response(parts, reply, model, finished=True))

    def _calls(self, reply: Reply) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for index, call in enumerate(reply.tool_calls):
            function_call: dict[str, Any] = {"name": call.name, "args": call.arguments}
            if call.id:
                function_call["id"] = call.id
            part: dict[str, Any] = {"functionCall": function_call}
            if self.thought_signatures and index == 0:
                signature = f"signature-of-{call.name}-{self.script.next_id('')}".encode()
                part["thoughtSignature"] = base64.b64encode(signature).decode()
            parts.append(part)
        return parts

    def _response(self, parts: list[dict[str, Any]], reply: Reply, model: str, *,
                  finished: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finished:
            candidate["finishReason"] = "STOP"
        output = reply.output_tokens if finished else 1
        return {
            "candidates": [candidate],
            "usageMetadata": {"promptTokenCount": reply.input_tokens, "candidatesTokenCount": output,
                              "totalTokenCount": reply.input_tokens + output + reply.reasoning_tokens,
                              **({"thoughtsTokenCount": reply.reasoning_tokens}
                                 if finished and reply.reasoning_tokens else {})},
            "modelVersion": model,
            "responseId": self.script.next_id("resp-"),
        }

    async def _events(self, reply: Reply, model: str) -> AsyncIterator[str]:
        if reply.malformed:
            yield "data: {not json\r\n\r\n"
            return
        pieces = reply.chunks()
        calls = self._calls(reply)
        if not pieces and not calls:
            pieces = [""]
        for index, piece in enumerate(pieces):
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            last = index == len(pieces) - 1 and not calls
            yield f"data: {dumps(self._response([{'text': piece}], reply, model, finished=last))}\r\n\r\n"
        if calls:
            yield f"data: {dumps(self._response(calls, reply, model, finished=True))}\r\n\r\n"


def _error(status: int, message: str, *, retry_after: float | None = None) -> JSONResponse:
    error: dict[str, Any] = {"code": status, "message": message,
                             "status": _STATUS_NAMES.get(status, "UNKNOWN")}
    if retry_after is not None:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                             "retryDelay": f"{retry_after:g}s"}]
    return JSONResponse({"error": error}, status_code=status)
