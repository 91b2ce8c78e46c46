"""An OpenAI server (Chat Completions and the Responses API) and Azure OpenAI's paths, for the real SDK.

Speaks the wire format the ``openai`` SDK parses:

- ``POST /v1/chat/completions``: JSON completions, ``text/event-stream`` chunks with ``tool_calls`` deltas and a
  final usage chunk (``completion_tokens_details.reasoning_tokens`` for reasoning models);
- ``POST /v1/responses``: a ``response`` object whose ``output`` holds ``message`` and ``function_call`` items,
  and with ``"stream": true`` the named events ``response.created``, ``response.in_progress``,
  ``response.output_item.added``, ``response.content_part.added``, ``response.output_text.delta``/``.done``,
  ``response.content_part.done``, ``response.function_call_arguments.delta``/``.done``,
  ``response.output_item.done`` and ``response.completed``, each with a ``sequence_number``;
- Azure's dated ``/openai/deployments/{deployment}/chat/completions?api-version=`` and its v1 API
  ``/openai/v1/chat/completions`` and ``/openai/v1/responses`` (no api-version; the deployment name is the
  model), both with an ``api-key`` header, the key as a bearer token (v1), or an Entra bearer token.

Like the service, it checks what it is asked: a ``json_schema`` response format (``response_format`` for Chat,
``text.format`` for Responses) needs a valid name and an object schema, and in strict mode every object closed
(``additionalProperties: false``) with every property required; reasoning models (o-series, gpt-5) refuse
``max_tokens`` and a non-default ``temperature``; other models refuse ``reasoning_effort``. OpenAI error bodies
carry ``retry-after`` and ``retry-after-ms``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .base import LocalServer
from .scripted import Reply, Script, dumps

_SCHEMA_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


def _last_tool_result(messages: list[dict[str, Any]]) -> str | None:
    if messages and messages[-1].get("role") == "tool":
        content = messages[-1].get("content")
        return content if isinstance(content, str) else json.dumps(content)
    return None


def _last_function_output(items: list[Any]) -> str | None:
    if items and isinstance(items[-1], dict) and items[-1].get("type") == "function_call_output":
        output = items[-1].get("output")
        return output if isinstance(output, str) else json.dumps(output)
    return None


class RequestRefused(Exception):
    """A 400 the service would answer, with its ``param`` and ``code``."""

    def __init__(self, message: str, param: str | None, code: str) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


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
        #: Deployment names (Azure) that serve a reasoning model, besides model names like o3 or gpt-5.
        self.reasoning_deployments: set[str] = set()
        app = Starlette(routes=[
            Route("/v1/chat/completions", self._openai_chat, methods=["POST"]),
            Route("/v1/responses", self._openai_responses, methods=["POST"]),
            Route("/openai/deployments/{deployment}/chat/completions", self._azure_dated, methods=["POST"]),
            Route("/openai/v1/chat/completions", self._azure_v1_chat, methods=["POST"]),
            Route("/openai/v1/responses", self._azure_v1_responses, methods=["POST"]),
        ])
        super().__init__(app)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # --- authentication -------------------------------------------------------------------------------------
    def _openai_key_ok(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    def _azure_auth_ok(self, request: Request, *, key_as_bearer: bool) -> bool:
        if request.headers.get("api-key") == self.azure_api_key:
            return True
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            return False
        token = authorization.removeprefix("Bearer ")
        if key_as_bearer and token == self.azure_api_key:
            return True
        return token == self.bearer_token or (self.token_validator is not None and self.token_validator(token))

    async def _openai_chat(self, request: Request) -> Response:
        if not self._openai_key_ok(request):
            return _error(401, "invalid_api_key", "Incorrect API key provided.")
        return await self._chat(request, model_from_path=None)

    async def _openai_responses(self, request: Request) -> Response:
        if not self._openai_key_ok(request):
            return _error(401, "invalid_api_key", "Incorrect API key provided.")
        return await self._responses(request)

    async def _azure_dated(self, request: Request) -> Response:
        if not request.query_params.get("api-version"):
            return _error(404, "404", "Resource not found")
        if not self._azure_auth_ok(request, key_as_bearer=False):
            return _error(401, "401", "Access denied due to invalid subscription key or wrong API endpoint.")
        return await self._chat(request, model_from_path=request.path_params["deployment"])

    def _azure_v1_refusal(self, request: Request) -> Response | None:
        version = request.query_params.get("api-version")
        if version is not None and version not in ("preview", "latest"):
            return _error(400, "BadRequest", f"API version {version} is not supported on the v1 API; "
                          "omit api-version or use 'preview'.")
        if not self._azure_auth_ok(request, key_as_bearer=True):
            return _error(401, "401", "Access denied due to invalid subscription key or wrong API endpoint.")
        return None

    async def _azure_v1_chat(self, request: Request) -> Response:
        return self._azure_v1_refusal(request) or await self._chat(request, model_from_path=None)

    async def _azure_v1_responses(self, request: Request) -> Response:
        return self._azure_v1_refusal(request) or await self._responses(request)

    # --- shared checks --------------------------------------------------------------------------------------
    def _is_reasoning(self, model: str) -> bool:
        return bool(_REASONING_MODEL.match(model)) or model in self.reasoning_deployments

    def _check_reasoning(self, body: dict[str, Any], model: str, effort: Any) -> None:
        if self._is_reasoning(model):
            if "max_tokens" in body:
                raise RequestRefused("Unsupported parameter: 'max_tokens' is not supported with this model. "
                                     "Use 'max_completion_tokens' instead.", "max_tokens", "unsupported_parameter")
            if body.get("temperature") not in (None, 1):
                raise RequestRefused(f"Unsupported value: 'temperature' does not support {body['temperature']} "
                                     "with this model. Only the default (1) value is supported.", "temperature",
                                     "unsupported_value")
        elif effort is not None:
            raise RequestRefused("Unrecognized request argument supplied: reasoning_effort", "reasoning_effort",
                                 "unsupported_parameter")
        if effort is not None and effort not in ("none", "minimal", "low", "medium", "high", "xhigh"):
            raise RequestRefused(f"Invalid value: '{effort}'.", "reasoning_effort", "invalid_value")

    def _usage_details(self, reply: Reply, model: str) -> int:
        return reply.reasoning_tokens if self._is_reasoning(model) else 0

    async def _before_answer(self, reply: Reply) -> Response | None:
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status is not None:
            headers: dict[str, str] = {}
            if reply.retry_after is not None:
                headers["retry-after"] = f"{reply.retry_after:g}"
            if reply.retry_after_ms is not None:
                headers["retry-after-ms"] = f"{reply.retry_after_ms:g}"
            return _error(reply.status, "rate_limit_exceeded" if reply.status == 429 else "server_error",
                          "scripted failure", headers)
        return None

    # --- Chat Completions -----------------------------------------------------------------------------------
    async def _chat(self, request: Request, model_from_path: str | None) -> Response:
        body = await request.json()
        self.script.record(body, {**dict(request.headers), ":path": request.url.path})
        model = model_from_path or body.get("model", "gpt-4o-mini")
        try:
            self._check_reasoning(body, model, body.get("reasoning_effort"))
            format_ = body.get("response_format")
            if format_ is not None:
                _check_response_format(format_, flat=False)
        except RequestRefused as refused:
            return _error(400, refused.code, str(refused), param=refused.param)
        tools = [t["function"]["name"] for t in body.get("tools") or []]
        messages = body.get("messages") or []
        system = next((m.get("content") for m in messages if m.get("role") in ("system", "developer")), None)
        reply = self.script.take(tools, _last_tool_result(messages), system if isinstance(system, str) else None)
        failure = await self._before_answer(reply)
        if failure is not None:
            return failure
        if reply.malformed and body.get("stream"):
            return StreamingResponse(iter(["data: {not json\n\n"]), media_type="text/event-stream")
        if reply.malformed:
            return Response("{not json", media_type="application/json")
        completion_id = self.script.next_id("chatcmpl-")
        calls = self._tool_calls(reply)
        usage = {"prompt_tokens": reply.input_tokens, "completion_tokens": reply.output_tokens,
                 "total_tokens": reply.input_tokens + reply.output_tokens,
                 "completion_tokens_details": {"reasoning_tokens": self._usage_details(reply, model)}}
        if body.get("stream"):
            return StreamingResponse(self._chunks(reply, model, completion_id, calls, usage),
                                     media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if calls:
            message["tool_calls"] = calls
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": usage,
        })

    def _tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        calls = []
        for call in reply.tool_calls:
            arguments = reply.raw_arguments if reply.raw_arguments is not None else json.dumps(call.arguments)
            calls.append({"id": call.id or self.script.next_id("call_"), "type": "function",
                          "function": {"name": call.name, "arguments": arguments}})
        return calls

    async def _chunks(self, reply: Reply, model: str, completion_id: str, calls: list[dict[str, Any]],
                      usage: dict[str, Any]) -> AsyncIterator[str]:
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
        yield chunk({}, usage=usage, choices=False)
        yield "data: [DONE]\n\n"

    # --- Responses API --------------------------------------------------------------------------------------
    async def _responses(self, request: Request) -> Response:
        body = await request.json()
        self.script.record(body, {**dict(request.headers), ":path": request.url.path})
        model = body.get("model", "gpt-4o-mini")
        items = body.get("input")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        try:
            if not isinstance(items, list):
                raise RequestRefused("Invalid type for 'input': expected a string or an array.", "input",
                                     "invalid_type")
            for index, tool in enumerate(body.get("tools") or []):
                if tool.get("type") == "function" and not isinstance(tool.get("name"), str):
                    raise RequestRefused(f"Missing required parameter: 'tools[{index}].name'.",
                                         f"tools[{index}].name", "missing_required_parameter")
            reasoning = body.get("reasoning")
            effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
            self._check_reasoning(body, model, effort)
            text = body.get("text")
            if isinstance(text, dict) and text.get("format") is not None:
                _check_response_format(text["format"], flat=True)
        except RequestRefused as refused:
            return _error(400, refused.code, str(refused), param=refused.param)
        tools = [t["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
        instructions = body.get("instructions")
        reply = self.script.take(tools, _last_function_output(items),
                                 instructions if isinstance(instructions, str) else None)
        failure = await self._before_answer(reply)
        if failure is not None:
            return failure
        if reply.malformed:
            if body.get("stream"):
                return StreamingResponse(iter(["event: response.created\ndata: {not json\n\n"]),
                                         media_type="text/event-stream")
            return Response("{not json", media_type="application/json")
        response = self._response_object(reply, model, body)
        if body.get("stream"):
            return StreamingResponse(self._response_events(reply, response), media_type="text/event-stream")
        return JSONResponse(response)

    def _response_object(self, reply: Reply, model: str, body: dict[str, Any]) -> dict[str, Any]:
        output: list[dict[str, Any]] = []
        if reply.text:
            output.append({"id": self.script.next_id("msg_"), "type": "message", "role": "assistant",
                           "status": "completed",
                           "content": [{"type": "output_text", "text": reply.text, "annotations": [],
                                        "logprobs": []}]})
        for call in reply.tool_calls:
            arguments = reply.raw_arguments if reply.raw_arguments is not None else json.dumps(call.arguments)
            output.append({"id": self.script.next_id("fc_"), "type": "function_call", "status": "completed",
                           "call_id": call.id or self.script.next_id("call_"), "name": call.name,
                           "arguments": arguments})
        return {
            "id": self.script.next_id("resp_"), "object": "response", "created_at": int(time.time()),
            "status": "completed", "model": model, "output": output, "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": body.get("tools") or [], "store": body.get("store", True),
            "text": body.get("text") or {"format": {"type": "text"}},
            "usage": {"input_tokens": reply.input_tokens, "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": reply.output_tokens,
                      "output_tokens_details": {"reasoning_tokens": self._usage_details(reply, model)},
                      "total_tokens": reply.input_tokens + reply.output_tokens},
        }

    async def _response_events(self, reply: Reply, response: dict[str, Any]) -> AsyncIterator[str]:
        sequence = 0

        def event(kind: str, **data: Any) -> str:
            nonlocal sequence
            payload = {"type": kind, "sequence_number": sequence, **data}
            sequence += 1
            return f"event: {kind}\ndata: {dumps(payload)}\n\n"

        started = {**response, "status": "in_progress", "output": [], "usage": None}
        yield event("response.created", response=started)
        yield event("response.in_progress", response=started)
        for index, item in enumerate(response["output"]):
            if item["type"] == "message":
                yield event("response.output_item.added", output_index=index,
                            item={**item, "status": "in_progress", "content": []})
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                yield event("response.content_part.added", item_id=item["id"], output_index=index,
                            content_index=0, part=part)
                for piece in reply.chunks():
                    if reply.chunk_delay:
                        await asyncio.sleep(reply.chunk_delay)
                    yield event("response.output_text.delta", item_id=item["id"], output_index=index,
                                content_index=0, delta=piece, logprobs=[])
                yield event("response.output_text.done", item_id=item["id"], output_index=index,
                            content_index=0, text=reply.text, logprobs=[])
                yield event("response.content_part.done", item_id=item["id"], output_index=index,
                            content_index=0, part={**part, "text": reply.text})
            else:
                yield event("response.output_item.added", output_index=index,
                            item={**item, "status": "in_progress", "arguments": ""})
                arguments = item["arguments"]
                half = len(arguments) // 2
                for piece in (arguments[:half], arguments[half:]):
                    yield event("response.function_call_arguments.delta", item_id=item["id"],
                                output_index=index, delta=piece)
                yield event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                            arguments=arguments)
            yield event("response.output_item.done", output_index=index, item=item)
        yield event("response.completed", response=response)


def _check_response_format(format_: Any, *, flat: bool) -> None:
    """The checks the service makes on a ``json_schema`` format (``flat``: the Responses API's shape)."""
    where = "text.format" if flat else "response_format"
    if not isinstance(format_, dict) or format_.get("type") not in ("text", "json_object", "json_schema"):
        raise RequestRefused(f"Invalid value for '{where}.type'.", f"{where}.type", "invalid_value")
    if format_["type"] != "json_schema":
        return
    spec = format_ if flat else format_.get("json_schema")
    if not isinstance(spec, dict):
        raise RequestRefused(f"Missing required parameter: '{where}.json_schema'.", f"{where}.json_schema",
                             "missing_required_parameter")
    name = spec.get("name")
    if not isinstance(name, str) or not _SCHEMA_NAME.match(name):
        raise RequestRefused(f"Invalid '{where}.name': must match ^[a-zA-Z0-9_-]{{1,64}}$.", f"{where}.name",
                             "invalid_value")
    schema = spec.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise RequestRefused(f"Invalid schema for response_format '{name}': schema must be a JSON Schema of "
                             "'type: \"object\"'.", where, "invalid_json_schema")
    if spec.get("strict"):
        problem = _strict_problem(schema, ())
        if problem:
            raise RequestRefused(f"Invalid schema for response_format '{name}': In context={problem}.", where,
                                 "invalid_json_schema")


def _strict_problem(node: Any, path: tuple[str, ...]) -> str | None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            problem = _strict_problem(item, (*path, str(index)))
            if problem:
                return problem
        return None
    if not isinstance(node, dict):
        return None
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") is not False:
            return f"{path}, 'additionalProperties' is required to be supplied and to be false"
        properties = list(node.get("properties") or {})
        missing = [p for p in properties if p not in (node.get("required") or [])]
        if missing:
            return f"{path}, 'required' is required to be supplied and to be an array including every key in " \
                   f"properties. Missing '{missing[0]}'"
    if "default" in node:
        return f"{path}, 'default' is not permitted"
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (node.get(key) or {}).items() if isinstance(node.get(key), dict) else []:
            problem = _strict_problem(sub, (*path, key, name))
            if problem:
                return problem
    for key in ("items", "anyOf", "allOf"):
        if key in node:
            problem = _strict_problem(node[key], (*path, key))
            if problem:
                return problem
    return None


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
           param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status == 400 else "error"
    return JSONResponse({"error": {"message": message, "type": kind, "code": code, "param": param}},
                        status_code=status, headers=headers)
