"""One agent's A2A JSON-RPC endpoint: the SDK's request handler and dispatcher behind ``HttpCall``/``HttpReply``.

The SDK's dispatcher is written for Starlette; each call is handed to it as a Starlette request built from the
``HttpCall`` (so it serves the classic Functions types, the HTTP-streams types and the local host alike), and
its JSON or SSE response is turned back into an ``HttpReply``, streaming SSE events as they come.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, MutableMapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.types.a2a_pb2 import AgentCard
from a2a.utils.constants import VERSION_HEADER
from sse_starlette.event import ensure_bytes
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from ..functions.http import JSON_TYPE, SSE_TYPE, HttpCall, HttpReply, json_reply
from ..runner import Runner
from ..sessions.base import SessionStore
from .executor import CheckedRequestContextBuilder, RunnerExecutor
from .store import SessionPushConfigStore, SessionTaskStore


class A2AEndpoint:
    """The JSON-RPC endpoint of one agent (both A2A 1.0 and 0.3 method names)."""

    def __init__(self, runner: Runner, session_store: SessionStore, card: AgentCard, *,
                 max_body_bytes: int) -> None:
        name = runner.agent.name
        self.max_body_bytes = max_body_bytes
        self.task_store = SessionTaskStore(session_store, name)
        # The handler's own copy of the card says push notifications are on, which is what lets the SDK store
        # push configs; the published card says off until notifications are delivered.
        handler_card = AgentCard()
        handler_card.CopyFrom(card)
        handler_card.capabilities.push_notifications = True
        self.handler = DefaultRequestHandler(
            agent_executor=RunnerExecutor(runner), task_store=self.task_store, agent_card=handler_card,
            push_config_store=SessionPushConfigStore(session_store, name),
            request_context_builder=CheckedRequestContextBuilder(),
        )
        self.dispatcher = JsonRpcDispatcher(request_handler=self.handler, enable_v0_3_compat=True)

    async def handle(self, call: HttpCall) -> HttpReply:
        if len(call.body) > self.max_body_bytes:
            return json_reply({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32600, "message": f"Payload too large: the limit is {self.max_body_bytes} bytes."}})
        request = starlette_request(call)
        refused = self._refuse_v03(call.body, request.headers.get(VERSION_HEADER, ""))
        if refused is not None:
            return refused
        response = await self.dispatcher.handle_requests(request)
        return await http_reply(response)

    def _refuse_v03(self, body: bytes, version: str) -> HttpReply | None:
        """Spec codes where the SDK's 0.3 adapter answers with others, for well-formed 0.3 requests.

        * A 0.3 method name sent as A2A 1.x does not exist in 1.x: -32601 naming the 1.0 method (the SDK
          answers -32603).
        * Params that do not validate: -32602. The adapter validates envelope and params together and answers
          -32600 for either; the dispatcher has checked the envelope by then, so the params are at fault.
        """
        adapter = self.dispatcher._v03_adapter
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or adapter is None or not adapter.supports_method(str(data.get("method"))):
            return None
        request_id = data.get("id")
        if data.get("jsonrpc") != "2.0" or isinstance(request_id, bool) or not isinstance(request_id, str | int):
            return None
        if version.strip().startswith("1"):
            current = _V1_NAMES.get(data["method"], "the A2A 1.0 method")
            return json_reply({"jsonrpc": "2.0", "id": request_id, "error": {
                "code": -32601, "message": f"Method not found: {data['method']} is an A2A 0.3 method; "
                                           f"with A2A-Version {version.strip()} use {current}."}})
        try:
            model: Any = adapter.METHOD_TO_MODEL[data["method"]]
            model.model_validate(data)
        except ValueError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                                 for err in getattr(exc, "errors", lambda: [])()[:5])
            return json_reply({"jsonrpc": "2.0", "id": request_id, "error": {
                "code": -32602, "message": "Invalid params", "data": problems or str(exc)}})
        return None

    async def aclose(self) -> None:
        await self.handler.aclose()


_V1_NAMES = {
    "message/send": "SendMessage", "message/stream": "SendStreamingMessage", "tasks/get": "GetTask",
    "tasks/cancel": "CancelTask", "tasks/resubscribe": "SubscribeToTask",
    "tasks/pushNotificationConfig/set": "CreateTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/get": "GetTaskPushNotificationConfig",
    "tasks/pushNotificationConfig/list": "ListTaskPushNotificationConfigs",
    "tasks/pushNotificationConfig/delete": "DeleteTaskPushNotificationConfig",
    "agent/getAuthenticatedExtendedCard": "GetExtendedAgentCard",
}


def starlette_request(call: HttpCall) -> Request:
    """A Starlette request carrying the call. ``?A2A-Version=`` counts as the header (spec 1.0 §3.6)."""
    headers = dict(call.headers)
    version_param = call.query.get(VERSION_HEADER)
    if version_param and not headers.get(VERSION_HEADER.lower()):
        headers[VERSION_HEADER.lower()] = version_param
    base = urlsplit(call.base_url or "http://localhost")
    port = base.port or (443 if base.scheme == "https" else 80)
    scope: MutableMapping[str, Any] = {
        "type": "http", "http_version": "1.1", "method": call.method.upper(), "scheme": base.scheme or "http",
        "path": call.path, "raw_path": call.path.encode("utf-8"), "root_path": "",
        "query_string": urlencode(dict(call.query)).encode("latin-1"),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers.items()],
        "server": (base.hostname or "localhost", port), "client": None,
    }
    delivered = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": call.body, "more_body": False}
        await asyncio.Event().wait()  # nothing more will come: never report a disconnect
        return {"type": "http.disconnect"}

    return Request(scope, receive)


async def http_reply(response: Response) -> HttpReply:
    if isinstance(response, EventSourceResponse):
        return HttpReply(status=response.status_code, media_type=SSE_TYPE,
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                         stream=_sse_bytes(response))
    media_type = response.media_type or JSON_TYPE
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return HttpReply(status=response.status_code, headers=headers, body=bytes(response.body), media_type=media_type)


async def _sse_bytes(response: EventSourceResponse) -> AsyncIterator[bytes]:
    iterator = response.body_iterator
    try:
        async for item in iterator:
            yield ensure_bytes(item, response.sep)
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
