"""Runs an A2A task as one turn of an agent, mapping the Runner's events onto task updates.

A task's ``contextId`` is the session: its messages run as turns of that agent with ``session_id`` = context
id, so an A2A conversation and the chat route share one history model. The answer becomes the task's
artifact; tool calls, tool results and handoffs become ``working`` status updates (visible in the stream);
a failed turn ends the task ``failed`` with the turn's client-safe error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.agent_execution.simple_request_context_builder import SimpleRequestContextBuilder
from a2a.server.context import ServerCallContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types.a2a_pb2 import Message, Part, SendMessageRequest, Task, TaskState, TaskStatus
from a2a.utils.errors import ContentTypeNotSupportedError, InvalidParamsError

from ..errors import AgentFrameworkError
from ..events import AgentEvent, HandoffOccurred, ToolCallCompleted, ToolCallStarted, TurnCompleted, TurnFailed
from ..interrupts import input_request
from ..messages import SESSION_ID_PATTERN
from ..providers.factory import load_sdk
from ..runner import Runner
from ..types import ChatRequest, ChatResponse
from .approvals import APPROVALS_KEY, decisions_in, paused_turn

logger = logging.getLogger("azurefunctions.agents.a2a")

#: Keeps a running task's lease for as long as the context is entered (``endpoint.py``).
KeepAlive = Callable[[str], AbstractAsyncContextManager[None]]
#: Longest tool result quoted in a status update (the full result stays in the session history).
TOOL_RESULT_PREVIEW = 1000


def message_text(message: Message) -> str:
    """The user's message as one text: text parts as they are, data parts as JSON."""
    chunks: list[str] = []
    for part in message.parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            chunks.append(part.text)
        elif kind == "data":
            from google.protobuf.json_format import MessageToDict

            chunks.append(json.dumps(MessageToDict(part.data), ensure_ascii=False))
    return "\n".join(chunk for chunk in chunks if chunk)


class CheckedRequestContextBuilder(SimpleRequestContextBuilder):
    """The SDK's context builder, refusing what a turn cannot take before any task is created."""

    async def build(self, context: ServerCallContext, params: SendMessageRequest | None = None,
                    task_id: str | None = None, context_id: str | None = None,
                    task: Task | None = None) -> RequestContext:
        if params is not None:
            if context_id and not SESSION_ID_PATTERN.match(context_id):
                raise InvalidParamsError(message="contextId must be 1-128 characters: letters, digits, '-', '_', "
                                                 "'.', '@' or ':', not starting with '.' (it names the session).")
            for part in params.message.parts:
                if part.WhichOneof("content") in ("raw", "url"):
                    raise ContentTypeNotSupportedError(
                        message="This agent accepts text and data parts only (text/plain, application/json).")
            if not message_text(params.message).strip():
                raise InvalidParamsError(message="The message has no text: send at least one non-empty text part.")
        return await super().build(context, params=params, task_id=task_id, context_id=context_id, task=task)


class RunnerExecutor(AgentExecutor):
    """``AgentExecutor`` over a ``Runner``: one task = one turn of ``runner.agent``.

    ``recovered`` (background worker only) is the answer of this turn that an earlier worker saved to the
    session before it stopped: the task is finished from it, and the agent is not run again.
    """

    def __init__(self, runner: Runner, *, recovered: ChatResponse | None = None,
                 keep_alive: KeepAlive | None = None) -> None:
        self.runner = runner
        self.recovered = recovered
        self.keep_alive = keep_alive

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task_id, context_id = str(context.task_id), str(context.context_id)
        updater = TaskUpdater(event_queue, task_id, context_id)
        if context.current_task is None:
            task = Task(id=task_id, context_id=context_id,
                        status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED))
            if context.message is not None:
                task.history.append(context.message)
            await event_queue.enqueue_event(task)
        if self.keep_alive is None:
            await self._execute(context, updater)
            return
        async with self.keep_alive(task_id):
            await self._execute(context, updater)

    async def _execute(self, context: RequestContext, updater: TaskUpdater) -> None:
        context_id = str(context.context_id)
        await updater.start_work()
        # The model SDK's first import, off the event loop: a non-blocking send's answer and the events of a
        # stream go out while it loads.
        await asyncio.to_thread(load_sdk, self.runner.agent.llm_config)
        if self.recovered is not None:
            await self._answer(updater, self.recovered)
            return
        # A message on an existing task whose turn waits for approval decides it. The session's journal says
        # which turn waits (the task's own copy may be read before its input-required update is stored).
        waiting = await paused_turn(self.runner.session_store, context_id) \
            if context.current_task is not None else None
        if waiting is not None:
            turn_id, pending = waiting
            decisions = decisions_in(context.message, pending) if context.message is not None else None
            if decisions is None:  # the task waits for a decision; anything else does not continue it
                await updater.requires_input(approval_message(updater, turn_id, pending, context_id, reminder=True))
                return
            events = self.runner.resume_stream(context_id, turn_id, decisions)
        else:
            request = ChatRequest(message=message_text(context.message) if context.message else "",
                                  session_id=context_id, stream=True)
            events = self.runner.run_stream(request)
        try:
            await self._follow(events, updater)
        except AgentFrameworkError as exc:  # a decision the runner refused (expired, decided already ...)
            await updater.failed(updater.new_agent_message(
                [Part(text=exc.message)], metadata={"code": exc.code, "status": exc.status}))

    async def _follow(self, events: AsyncIterator[AgentEvent], updater: TaskUpdater) -> None:
        async for event in events:
            if isinstance(event, ToolCallStarted):
                await updater.start_work(self._note(updater, f"Calling tool {event.name}.", event.to_dict()))
            elif isinstance(event, ToolCallCompleted):
                data = event.to_dict()
                if len(event.result) > TOOL_RESULT_PREVIEW:
                    data["result"] = event.result[:TOOL_RESULT_PREVIEW]
                    data["truncated"] = True
                verb = "failed" if event.is_error else "returned"
                await updater.start_work(self._note(updater, f"Tool {event.name} {verb}.", data))
            elif isinstance(event, HandoffOccurred):
                await updater.start_work(self._note(
                    updater, f"{event.from_agent} handed the conversation to {event.to_agent}.", event.to_dict()))
            elif isinstance(event, TurnCompleted):
                await self._answer(updater, event.response)
                return
            elif isinstance(event, TurnFailed):
                await updater.failed(updater.new_agent_message(
                    [Part(text=event.message)], metadata={"code": event.code, "status": event.status}))
                return
        await updater.failed(updater.new_agent_message([Part(text="The turn ended without an answer.")]))

    @staticmethod
    async def _answer(updater: TaskUpdater, response: ChatResponse) -> None:
        """The turn's outcome as the task's: a question for the user leaves the task ``input-required``
        (the next message on it continues the conversation); an answer is the ``answer`` artifact (with a data
        part holding the object when the agent has an ``output_type``), and the agent's message completing the
        task."""
        data = response.to_dict()
        metadata = _answer_metadata(data)
        if response.status == "awaiting_approval" and response.turn_id:
            await updater.requires_input(approval_message(updater, response.turn_id, response.approvals,
                                                          response.session_id, metadata=metadata))
            return
        request = input_request(response)
        if request is not None:
            await updater.requires_input(updater.new_agent_message(
                [Part(text=request.question, media_type="text/plain")],
                metadata=dict(_json_safe({**metadata, "inputRequired": request.to_dict()}))))
            return
        parts = [Part(text=response.response or "", media_type="text/plain")]
        if "output" in data:  # a typed answer (Agent(output_type=...)) also goes as a data part
            from google.protobuf.struct_pb2 import Value

            value = Value()
            value.struct_value.update({"output": _json_safe(data["output"])})
            parts.append(Part(data=value, media_type="application/json"))
        await updater.add_artifact(parts, name="answer", metadata=metadata, last_chunk=True)
        await updater.complete(updater.new_agent_message([Part(text=response.response or "",
                                                                media_type="text/plain")]))

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = TaskUpdater(event_queue, str(context.task_id), str(context.context_id))
        await updater.cancel(updater.new_agent_message([Part(text="The task was canceled.")]))

    @staticmethod
    def _note(updater: TaskUpdater, text: str, data: dict[str, Any]) -> Message:
        from google.protobuf.struct_pb2 import Value

        value = Value()
        value.struct_value.update(_json_safe(to_camel(data)))
        return updater.new_agent_message([Part(text=text), Part(data=value, media_type="application/json")])


def _answer_metadata(response: dict[str, Any]) -> dict[str, Any]:
    keys = ("agent", "session_id", "usage", "handoff_path")
    return dict(_json_safe(to_camel({key: response[key] for key in keys if response.get(key) is not None})))


#: Values of these keys are the runtime's own objects, whose keys are renamed too; any other value (tool
#: arguments, tool results, the data of a request for input) is the user's and is kept as it is.
_OWN_OBJECTS = frozenset({"usage", "input_required"})


def to_camel(data: dict[str, Any]) -> dict[str, Any]:
    """The runtime's keys of ``data`` in lowerCamelCase, the protocol's JSON convention (``session_id`` ->
    ``sessionId``)."""
    return {_camel(str(key)): to_camel(value) if key in _OWN_OBJECTS and isinstance(value, dict) else value
            for key, value in data.items()}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _json_safe(data: Any) -> Any:
    """``data`` as plain JSON types (protobuf ``Struct`` takes nothing else)."""
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


def approval_message(updater: TaskUpdater, turn_id: str, approvals: list[dict[str, Any]],
                     session_id: str | None, *, reminder: bool = False,
                     metadata: dict[str, Any] | None = None) -> Message:
    """The agent's message of a task waiting for approval: the reasons as text, the approvals as data
    (a2a/approvals.py reads the decisions that answer it)."""
    from google.protobuf.struct_pb2 import Value

    lines = [f"- {a.get('reason') or a.get('tool')} (approval id {a.get('id')})" for a in approvals]
    how = ('Answer with a data part {"decisions": [{"id": "...", "approved": true}]}'
           + (', or with the text "approve" or "reject".' if len(approvals) == 1 else "."))
    intro = ("This task still waits for a decision." if reminder
             else "These tool calls wait for your approval before the agent goes on:")
    text = "\n".join([intro, *lines, how])
    value = Value()
    value.struct_value.update(_json_safe({APPROVALS_KEY: [to_camel(a) for a in approvals], "turnId": turn_id,
                                          **({"sessionId": session_id} if session_id else {})}))
    return updater.new_agent_message([Part(text=text, media_type="text/plain"),
                                      Part(data=value, media_type="application/json")],
                                     metadata=dict(_json_safe({**(metadata or {}), "awaitingApproval": True})))
