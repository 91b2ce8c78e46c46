"""An OpenAI Chat Completions server (and the Azure OpenAI deployments path) that the real SDK talks to.

Speaks the wire format the ``openai`` SDK parses: JSON completions, ``text/event-stream`` chunks with
``tool_calls`` deltas and a final usage chunk, OpenAI error bodies with ``retry-after``, and Azure's
``/openai/deployments/{deployment}/chat/completions?api-version=`` with an ``api-key`` header or a bearer token.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
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


class OpenAIServer(LocalServer):
    """``OpenAIServer().start()``; ``.script`` queues replies; ``.base_url`` is the SDK's base URL."""

    def __init__(self, *, api_key: str = "test-openai-key", azure_api_key: str = "test-azure-key",
                 bearer_token: str | None = "test-entra-token") -> None:
        self.script = Script()
        self.api_key = api_key
        self.azure_api_key = azure_api_key
        self.bearer_token = bearer_token
        #: Extra check for bearer tokens (e.g. tokens a local managed-identity endpoint issued).
        self.token_validator: Callable[[str], bool] | None = None
        app = Starlette(routes=[
            Route("/v1/chat/completions", self._openai, methods=["POST"]),
            Route("/openai/deployments/{deployment}/chat/completions", self._azure, methods=["POST"]),
        ])
        super().__init__(app)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    async def _openai(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_api_key", "Incorrect API key provided.")
        return await self._complete(request, model_from_path=None)

    async def _azure(self, request: Request) -> Response:
        if not request.query_params.get("api-version"):
            return _error(404, "404", "Resource not found")
        key_ok = request.headers.get("api-key") == self.azure_api_key
        authorization = request.headers.get("authorization", "")
        token = authorization.removeprefix("Bearer ")
        token_ok = authorization.startswith("Bearer ") and (
            token == self.bearer_token or (self.token_validator is not None and self.token_validator(token)))
        if not (key_ok or token_ok):
            return _error(401, "401", "Access denied due to invalid subscription key or wrong API endpoint.")
        return await self._complete(request, model_from_path=request.path_params["deployment"])

    async def _complete(self, request: Request, model_from_path: str | None) -> Response:
        body = await request.json()
        self.script.record(body, {**dict(request.headers), ":path": request.url.path})
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        messages = body.get("messages") or []
        system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
        reply = self.script.take(tools, _last_tool_result(messages), system if isinstance(system, str) else None)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status is not None:
            headers = {"retry-after": str(reply.retry_after)} if reply.retry_after is not None else {}
            return _error(reply.status, "rate_limit_exceeded" if reply.status == 429 else "server_error",
                          "scripted failure", headers)
        if reply.malformed and body.get("stream"):
            return StreamingResponse(iter(["data: {not json\n\n"]), media_type="text/event-stream")
        if reply.malformed:
            return Response("{not json", media_type="application/json")
        model = model_from_path or body.get("model", "gpt-4o-mini")
        completion_id = self.script.next_id("chatcmpl-")
        calls = self._tool_calls(reply)
        if body.get("stream"):
            return StreamingResponse(self._chunks(reply, model, completion_id, calls),
                                     media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = calls
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                      "total_tokens": reply.input_tokens + reply.output_tokens},
        })

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        calls = []
        for call in reply.tool_calls:
            arguments = reply.raw_arguments if reply.raw_arguments is not None else json.dumps(call.arguments)
            calls.append({"id": call.id or self.script.next_id("call_"), "type": "function",
                          "function": {"name": call.name, "arguments": arguments}})
        return calls

    async def _chunks(self, reply: Reply, model: str, completion_id: str,
                      calls: list[dict[str, Any]]) -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None,
                  choices: bool = True) -> str:
            data: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk",
                                    "created": int(time.time()), "model": model,
                                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
                                    if choices else []}
            if usage is not None:
                data["usage"] = usage
            return f"data: {dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        for piece in reply.chunks():
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            yield chunk({"content": piece})
        for index, call in enumerate(calls):
            arguments = call["function"]["arguments"]
            yield chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                         "function": {"name": call["function"]["name"], "arguments": ""}}]})
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        yield chunk({}, finish="tool_calls" if calls else "stop")
        yield chunk({}, usage={"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                               "total_tokens": reply.input_tokens + reply.output_tokens}, choices=False)
        yield "data: [DONE]\n\n"


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "error", "code": code, "param": None}},
                        status_code=status, headers=headers)
