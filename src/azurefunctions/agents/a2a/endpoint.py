"""One agent's A2A JSON-RPC endpoint: the SDK's request handler and dispatcher behind ``HttpCall``/``HttpReply``.

The SDK's dispatcher is written for Starlette; each call is handed to it as a Starlette request built from the
``HttpCall`` (so it serves the classic Functions types, the HTTP-streams types and the local host alike), and
its JSON or SSE response is turned back into an ``HttpReply``, streaming SSE events as they come.

The handler runs in the SDK's cluster mode: tasks in the session store with versions (``store.py``) and their
events followed from there (``stream.py``), so ``SubscribeToTask`` and ``CancelTask`` reach a task wherever it
runs. A non-blocking send (``returnImmediately`` in 1.0, ``blocking: false`` in 0.3) stores the task as
``submitted`` and queues it as background work of kind ``a2a`` when the app runs background work; the
queue-triggered worker then runs it through ``run_queued``. Without background work such a send runs in the
request, like a blocking one: nothing is left running after a response.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import AsyncGenerator, AsyncIterator, Callable, MutableMapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from a2a.auth.user import User
from a2a.server.cluster.version import TaskVersion
from a2a.server.context import ServerCallContext
from a2a.server.events.event_queue import Event
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.request_handlers.request_handler import validate_request_params
from a2a.server.routes.jsonrpc_dispatcher import JsonRpcDispatcher
from a2a.types.a2a_pb2 import (
    AgentCard,
    Message,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskPushNotificationConfig,
    TaskState,
    TaskStatus,
)
from a2a.utils.constants import VERSION_HEADER
from a2a.utils.errors import InternalError, InvalidParamsError
from a2a.utils.task import apply_history_length, validate_history_length
from google.protobuf.json_format import MessageToDict, ParseDict
from sse_starlette.event import ensure_bytes
from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response

from .. import settings
from ..http.calls import JSON_TYPE, SSE_TYPE, HttpCall, HttpReply, json_reply
from ..interrupts import METADATA_KEY as INPUT_REQUIRED_KEY
from ..runner import Runner
from ..sessions.base import SessionStore
from ..types import ChatRequest, ChatResponse
from .approvals import awaiting_approval, from_camel
from .executor import CheckedRequestContextBuilder, RunnerExecutor, message_text
from .push import PushSender, PushUrlRefused, check_push_url_form, push_url_allowed
from .store import INTERRUPTED, TERMINAL, SessionPushConfigStore, SessionTaskStore
from .stream import StoreEventStream
from .wire import rewrite_json

if TYPE_CHECKING:
    from ..background.records import TurnRecord
    from ..background.service import BackgroundTurns

logger = logging.getLogger("azurefunctions.agents.a2a")

#: The turn-record kind of a queued A2A task (``background/kinds.py``).
TASK_KIND = "a2a"
#: Seconds a task waiting for input keeps its in-memory state here; a later message rebuilds it from the store
#: (a2a-sdk ``DefaultRequestHandlerV2(interrupted_task_timeout=...)``), so waiting tasks do not pile up.
INTERRUPTED_IDLE_SECONDS = 300.0
#: Longest quiet spell of an SSE response before a keep-alive comment is sent.
KEEPALIVE_SECONDS = 2.0
#: This process, as named in the leases of the tasks it runs.
INSTANCE = f"{settings.WEBSITE_INSTANCE_ID.get() or socket.gethostname()}:{os.getpid()}"
#: Seconds between two checks, while a queued task runs, of whether it was canceled.
CANCEL_CHECK_SECONDS = 0.5


class Owner(User):
    """The owner a task was created for, restored in the worker that runs it."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def is_authenticated(self) -> bool:
        return bool(self._name)

    @property
    def user_name(self) -> str:
        return self._name


async def _check_url(url: str) -> None:
    try:
        check_push_url_form(url)
    except PushUrlRefused as exc:
        raise InvalidParamsError(message=str(exc)) from None


class TaskHandler(DefaultRequestHandler):
    """The SDK's request handler, with non-blocking sends queued as background work and webhook URLs
    refused with a reason."""

    def __init__(self, *, agent_name: str, background: Callable[[], BackgroundTurns | None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.agent_name = agent_name
        self.background = background

    @validate_request_params
    async def on_message_send(self, params: SendMessageRequest, context: ServerCallContext) -> Message | Task:
        if params.configuration.HasField("task_push_notification_config"):
            await _check_url(params.configuration.task_push_notification_config.url)
        if params.configuration.return_immediately:
            background = self.background()
            if background is not None and not params.message.task_id:
                return await self._queue(background, params, context)
            # No queue here (or a follow-up of an existing task): the SDK answers with the task at once and
            # its producer keeps running in this process, renewing the task's lease (``RunnerExecutor``).
        result: Message | Task = await super().on_message_send(params, context)
        return result

    @validate_request_params
    async def on_message_send_stream(self, params: SendMessageRequest,
                                     context: ServerCallContext) -> AsyncGenerator[Event, None]:
        if params.configuration.HasField("task_push_notification_config"):
            await _check_url(params.configuration.task_push_notification_config.url)
        async for event in super().on_message_send_stream(params, context):
            yield event

    async def on_subscribe_to_task(self, params: SubscribeToTaskRequest,
                                   context: ServerCallContext) -> AsyncGenerator[Event, None]:
        """A task waiting for input is sent as it is, and the stream ends: A2A 1.0 streams end after an
        interrupted status (the SDK's local subscription would wait on the idle task until the next
        message, holding the response open)."""
        if self._agent_card.capabilities.streaming:
            stored = await self.task_store_versioned.get(params.id, context)
            if stored is not None and stored.task.status.state in INTERRUPTED:
                yield stored.task
                return
        async for event in super().on_subscribe_to_task(params, context):
            yield event

    @validate_request_params
    async def on_create_task_push_notification_config(self, params: TaskPushNotificationConfig,
                                                      context: ServerCallContext) -> TaskPushNotificationConfig:
        await _check_url(params.url)
        config: TaskPushNotificationConfig = await super().on_create_task_push_notification_config(params, context)
        return config

    async def _queue(self, background: BackgroundTurns, params: SendMessageRequest,
                     context: ServerCallContext) -> Task:
        """Store the task as ``submitted``, queue it, and answer with it at once."""
        validate_history_length(params.configuration)
        request_context = await self._request_context_builder.build(
            params=params, task_id=None, context_id=params.message.context_id or None, task=None, context=context)
        task_id, context_id = str(request_context.task_id), str(request_context.context_id)
        message = request_context.message
        assert message is not None
        status = TaskStatus(state=TaskState.TASK_STATE_SUBMITTED)
        status.timestamp.FromDatetime(datetime.now(UTC))
        task = Task(id=task_id, context_id=context_id, status=status, history=[message])
        if self._push_config_store is not None and params.configuration.HasField("task_push_notification_config"):
            await self._push_config_store.set_info(task_id, params.configuration.task_push_notification_config,
                                                   context)
        version = await self.task_store_versioned.save(task, event=task, prev=None, prev_version=TaskVersion.MISSING,
                                                       context=context)
        queued = SendMessageRequest()
        queued.CopyFrom(params)
        queued.message.CopyFrom(message)
        queued.configuration.ClearField("task_push_notification_config")
        owner = self.task_store_versioned.owner_resolver(context)
        try:
            await background.submit(
                self.agent_name, ChatRequest(message=message_text(message), session_id=context_id),
                kind=TASK_KIND, turn_id=task_id,
                data={"task_id": task_id, "owner": owner, "params": MessageToDict(queued)})
        except Exception as exc:
            logger.exception("could not queue A2A task %s", task_id)
            failed = Task()
            failed.CopyFrom(task)
            failed.status.state = TaskState.TASK_STATE_FAILED
            failed.status.timestamp.FromDatetime(datetime.now(UTC))
            await self.task_store_versioned.save(failed, event=failed, prev=task, prev_version=version,
                                                 context=context)
            raise InternalError(message="The task could not be queued; try again.") from exc
        # The response carries the submitted task; notifications start with the worker's updates, all from the
        # one process that runs the task, so a webhook receives them in order.
        return apply_history_length(task, params.configuration)

    @property
    def task_store_versioned(self) -> SessionTaskStore:
        store = self.task_store
        assert isinstance(store, SessionTaskStore)
        return store


class A2AEndpoint:
    """The JSON-RPC endpoint of one agent (both A2A 1.0 and 0.3 method names).

    ``background`` gives the app's background work when it runs any (non-blocking sends are then queued);
    ``recovered`` is for the worker only: the answer of a turn an earlier worker saved before it stopped.
    ``lease_tasks``: tasks run here renew a lease in the store (``keep_alive``); the queue worker runs
    without, since its queue message is the lease (a worker that stops is retried, not reported failed).
    """

    def __init__(self, runner: Runner, session_store: SessionStore, card: AgentCard, *,
                 max_body_bytes: int, background: Callable[[], BackgroundTurns | None] = lambda: None,
                 recovered: ChatResponse | None = None, lease_tasks: bool = True) -> None:
        name = runner.agent.name
        self.max_body_bytes = max_body_bytes
        self.task_store = SessionTaskStore(session_store, name)
        self.push_configs = SessionPushConfigStore(session_store, name)
        self.push = PushSender(self.push_configs, task_reader=self.task_store.read_unscoped)
        self.handler = TaskHandler(
            agent_name=name, background=background,
            agent_executor=RunnerExecutor(runner, recovered=recovered,
                                          keep_alive=self.keep_alive if lease_tasks else None),
            task_store=self.task_store,
            agent_card=card, push_config_store=self.push_configs, push_sender=self.push,
            push_url_validator=push_url_allowed, request_context_builder=CheckedRequestContextBuilder(),
            event_stream=StoreEventStream(self.task_store),
            interrupted_task_timeout=INTERRUPTED_IDLE_SECONDS,
        )
        self.dispatcher = JsonRpcDispatcher(request_handler=self.handler, enable_v0_3_compat=True)

    async def handle(self, call: HttpCall) -> HttpReply:
        if len(call.body) > self.max_body_bytes:
            return json_reply({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32600, "message": f"Payload too large: the limit is {self.max_body_bytes} bytes."}})
        try:
            data = json.loads(call.body)
        except (ValueError, RecursionError):
            # Answered here: the SDK's parse error would carry the JSON decoder's exception text.
            return json_reply({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32700, "message": "Parse error: the request body is not valid JSON."}})
        invalid = _invalid_envelope(data)
        if invalid is not None:
            return invalid
        request = starlette_request(call)
        version = request.headers.get(VERSION_HEADER, "")
        refused = self._refuse_v03(call.body, version)
        if refused is not None:
            return refused
        method = data.get("method") if isinstance(data, dict) else None
        v03_get_any = (not version.strip().startswith("1") and method == V03_GET_CONFIG
                       and isinstance(data.get("params"), dict) and not data["params"].get(V03_CONFIG_ID))
        if v03_get_any:
            # 0.3: the config id is optional ("get" names the task alone): the task's first config.
            data = {**data, "method": V03_LIST_CONFIGS}
            request = starlette_request(replace(call, body=json.dumps(data).encode("utf-8")))
        response = await self.dispatcher.handle_requests(request)
        if isinstance(response, EventSourceResponse):
            return await http_reply(response, after=self.push.drain_queued)
        # This request's notifications are delivered (or given up) before it ends; those of a task still
        # running in this process after a non-blocking send go out as that task produces them.
        await self.push.drain_queued()
        reply = await http_reply(response)
        if v03_get_any or (method == V03_DELETE_CONFIG and not version.strip().startswith("1")):
            reply = _v03_config_reply(reply, data.get("id"), first=v03_get_any)
        return reply

    @contextlib.asynccontextmanager
    async def keep_alive(self, task_id: str) -> AsyncIterator[None]:
        """Renew the task's lease while it runs in this process, so a reader elsewhere can tell a task that
        is running from one whose instance stopped (``SessionTaskStore.get``)."""
        seconds = float(settings.get_int(settings.A2A_TASK_LEASE_SECONDS))

        async def renew() -> None:
            tries = 0
            while True:
                try:
                    renewed = await self.task_store.renew_lease(task_id, seconds, INSTANCE)
                except Exception:
                    logger.warning("could not renew the lease of A2A task %s", task_id, exc_info=True)
                    renewed = True  # try again after the usual interval
                tries += 1
                # Until the task's first write lands, look again soon; then every third of the lease.
                await asyncio.sleep(seconds / 3 if renewed or tries > 20 else 0.1)

        renewer = asyncio.create_task(renew())
        try:
            yield
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    async def run_queued(self, record: TurnRecord) -> ChatResponse:
        """Run a queued task (the worker's side of ``TaskHandler._queue``) and return its outcome as the turn's
        answer. Stops when the task is canceled, wherever ``CancelTask`` was received."""
        data = record.data or {}
        task_id = str(data.get("task_id") or record.turn_id)
        context = ServerCallContext(user=Owner(str(data.get("owner") or "")))
        stored = await self.task_store.get(task_id, context)
        if stored is None:
            return _outcome(None, record, "The task no longer exists.")
        if stored.task.status.state in TERMINAL:
            return _outcome(stored.task, record)
        params: SendMessageRequest = ParseDict(data.get("params") or {}, SendMessageRequest(),
                                               ignore_unknown_fields=True)
        params.message.task_id = task_id
        params.configuration.return_immediately = False
        send = asyncio.create_task(self.handler.on_message_send(params, context))
        try:
            while True:
                done, _ = await asyncio.wait({send}, timeout=CANCEL_CHECK_SECONDS)
                if done:
                    break
                current = await self.task_store.get(task_id, context)
                if current is None or current.task.status.state in TERMINAL:
                    logger.info("A2A task %s was canceled or removed; stopping it", task_id)
                    return _outcome(current.task if current else None, record, "The task no longer exists.")
            result = send.result()
        finally:
            if not send.done():
                send.cancel()
                await asyncio.gather(send, return_exceptions=True)
            await self.handler.aclose()  # stops the task's producer if it still runs (canceled)
        final = await self.task_store.get(task_id, context)
        return _outcome(final.task if final else (result if isinstance(result, Task) else None), record)

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
        await self.push.aclose()


def _outcome(task: Task | None, record: TurnRecord, missing: str = "") -> ChatResponse:
    """A finished (or vanished) task as the background turn's answer."""
    base: dict[str, Any] = {"agent": record.agent, "session_id": record.session_id}
    if task is None:
        return ChatResponse(status="error", error=missing, error_code="task_not_found", **base)
    state = task.status.state
    if state == TaskState.TASK_STATE_COMPLETED:
        text = "".join(p.text for a in task.artifacts for p in a.parts if p.WhichOneof("content") == "text")
        return ChatResponse(status="success", response=text, **base)
    message = " ".join(p.text for p in task.status.message.parts if p.WhichOneof("content") == "text")
    waiting = awaiting_approval(task)
    if waiting is not None:  # the turn paused for approval: the record shows it as the chat route's turns do
        turn_id, approvals = waiting
        return ChatResponse(status="awaiting_approval", response=message, turn_id=turn_id,
                            approvals=[from_camel(a) for a in approvals], **base)
    if state in INTERRUPTED:
        # The task waits for the client's next message: this run of it is done, not failed (as a chat turn
        # that ends asking the user completes with the question as its answer).
        asked = MessageToDict(task.status.message.metadata).get("inputRequired")
        return ChatResponse(status="success", response=message,
                            metadata={INPUT_REQUIRED_KEY: asked} if isinstance(asked, dict) else {}, **base)
    name = TaskState.Name(state).removeprefix("TASK_STATE_").lower()
    code = "cancelled" if state == TaskState.TASK_STATE_CANCELED else f"task_{name}"
    return ChatResponse(status="error", error=message or f"The task ended {name}.", error_code=code, **base)


V03_GET_CONFIG = "tasks/pushNotificationConfig/get"
V03_LIST_CONFIGS = "tasks/pushNotificationConfig/list"
V03_DELETE_CONFIG = "tasks/pushNotificationConfig/delete"
V03_CONFIG_ID = "pushNotificationConfigId"


def _invalid_envelope(data: Any) -> HttpReply | None:
    """-32600 in our words for a single message the SDK would answer with a validation dump: a request
    without a usable ``id`` (A2A has no notifications; JSON-RPC 2.0 §4 ids are strings or numbers)."""
    if not isinstance(data, dict) or "method" not in data:
        return None  # batches and non-objects: the SDK's own -32600 is clean
    request_id = data.get("id")
    if "id" not in data or isinstance(request_id, bool) or not isinstance(request_id, str | int):
        return json_reply({"jsonrpc": "2.0", "id": None, "error": {
            "code": -32600, "message": "Invalid Request: an A2A request needs an id (a string or an integer)."}})
    return None


def _v03_config_reply(reply: HttpReply, request_id: Any, *, first: bool) -> HttpReply:
    """0.3 push-config answers completed: ``get`` by task id alone answers the task's first config, and a
    successful ``delete`` answers ``"result": null`` (the SDK's 0.3 adapter leaves the member out, which
    JSON-RPC 2.0 §5 does not allow)."""
    try:
        data = json.loads(reply.body)
    except ValueError:
        return reply
    if not isinstance(data, dict) or "error" in data:
        return reply
    if first:
        configs = data.get("result") or []
        if not configs:
            return json_reply({"jsonrpc": "2.0", "id": request_id, "error": {
                "code": -32602, "message": "This task has no push notification config."}})
        data["result"] = configs[0]
    else:
        data.setdefault("result", None)
    return json_reply(data)


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


async def http_reply(response: Response, *, after: Callable[[], Any] | None = None) -> HttpReply:
    """The SDK's response as an ``HttpReply``; ``after`` is awaited once an SSE stream has ended."""
    if isinstance(response, EventSourceResponse):
        return HttpReply(status=response.status_code, media_type=SSE_TYPE,
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                         stream=_sse_bytes(response, after))
    media_type = response.media_type or JSON_TYPE
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    body = bytes(response.body)
    if body and "json" in media_type:
        body = rewrite_json(body)
    return HttpReply(status=response.status_code, headers=headers, body=body, media_type=media_type)


async def _sse_bytes(response: EventSourceResponse, after: Callable[[], Any] | None) -> AsyncIterator[bytes]:
    """The SSE body, with a comment line (``: keep-alive``) whenever no event came for ``KEEPALIVE_SECONDS``:
    clients drop a quiet stream after their read timeout (the a2a-sdk client's httpx default is 5 s) while the
    model thinks. SSE parsers ignore comment lines (WHATWG HTML, "Parsing an event stream")."""
    iterator: Any = response.body_iterator
    next_item: asyncio.Future[Any] | None = None
    try:
        while True:
            if next_item is None:
                next_item = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({next_item}, timeout=KEEPALIVE_SECONDS)
            if not done:
                yield b": keep-alive\r\n\r\n"
                continue
            try:
                item = next_item.result()
            except StopAsyncIteration:
                break
            finally:
                next_item = None
            if isinstance(item, dict) and isinstance(item.get("data"), str):
                item = {**item, "data": rewrite_json(item["data"]).decode("utf-8")}
            yield ensure_bytes(item, response.sep)
    finally:
        if next_item is not None:
            next_item.cancel()
            await asyncio.gather(next_item, return_exceptions=True)
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
        if after is not None:
            await after()
