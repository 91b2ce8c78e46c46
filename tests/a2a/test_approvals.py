"""A tool call waiting for approval on an A2A task, driven by the official a2a-sdk client over real HTTP.

The task goes ``input-required`` (A2A specification, docs/specification.md §3.4.3 "Input Required State": the
client continues with a new message carrying the same ``taskId``), its status message carries the approvals as
a data part; the next message on the task decides, with a data part ``{"decisions": [...]}`` or the text
``approve`` / ``reject``. The SDK moves the status message into the task's history when that message arrives
(a2a-python src/a2a/server/tasks/task_manager.py, ``TaskManager.update_with_message``) and its request handler
continues any task not in a terminal state (src/a2a/server/request_handlers/default_request_handler.py,
``_setup_message_execution``: ``TERMINAL_TASK_STATES``), so the executor reads the waiting turn from the
session's journal (a2a/approvals.py, ``paused_turn``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import Client
from a2a.types.a2a_pb2 import GetTaskRequest, Message, Part, Role, SendMessageRequest, Task, TaskState
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Value
from tests.a2a.test_sdk_client import DIALECTS, client_for, resolve
from tests.hosting.approval_helpers import APPROVALS_APP, app_env, host, ledger, script, state
from tests.servers.azurite import AzuriteQueues
from tests.servers.localhost import LocalHostProcess
from tests.servers.model_fixtures import model
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

__all__ = ["host", "model", "script", "state"]  # the shared fixtures

CARD = "/api/agents/Refunds/.well-known/agent-card.json"



def message(*parts: Part, task: Task | None = None) -> SendMessageRequest:
    sent = Message(message_id=uuid.uuid4().hex, role=Role.ROLE_USER, parts=list(parts))
    if task is not None:
        sent.task_id, sent.context_id = task.id, task.context_id
    return SendMessageRequest(message=sent)


def data_part(data: dict[str, Any]) -> Part:
    value = Value()
    value.struct_value.update(data)
    return Part(data=value, media_type="application/json")


async def send(client: Client, request: SendMessageRequest) -> Task:
    events = [event async for event in client.send_message(request)]
    assert len(events) == 1 and events[0].HasField("task"), events
    return events[0].task


def pending(task: Task) -> dict[str, Any]:
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED, task.status
    data = [MessageToDict(p.data) for p in task.status.message.parts if p.WhichOneof("content") == "data"]
    assert len(data) == 1 and data[0]["approvals"], data
    return data[0]


def answer(task: Task) -> str:
    return "".join(part.text for artifact in task.artifacts for part in artifact.parts)


async def ask_for_refund(client: Client, script: OpenAIServer) -> tuple[Task, dict[str, Any]]:
    script.script.add(Reply(tool_calls=[ScriptedToolCall("refund", {"order_id": "C3", "amount": 500})]))
    task = await send(client, message(Part(text="Refund order C3")))
    return task, pending(task)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_task_waits_input_required_then_a_decisions_part_resumes_it(host: LocalHostProcess,
                                                                           script: OpenAIServer,
                                                                           state: Path, dialect: str) -> None:
    client = client_for(await resolve(host.url, CARD), dialect, streaming=False)
    try:
        task, waiting = await ask_for_refund(client, script)
        [approval] = waiting["approvals"]
        assert (approval["tool"], approval["arguments"]) == ("refund", {"order_id": "C3", "amount": 500})
        text = " ".join(p.text for p in task.status.message.parts if p.text)
        assert "Refund 500 EUR on C3" in text
        assert ledger(state) == []
        # A message without a decision leaves the task waiting.
        still = await send(client, message(Part(text="What is going on?"), task=task))
        assert pending(still)["approvals"][0]["id"] == approval["id"]
        script.script.add(Reply(text="Refunded C3 over A2A."))
        done = await send(client, message(data_part({"decisions": [{"id": approval["id"], "approved": True}]}),
                                          task=task))
        assert done.id == task.id and done.status.state == TaskState.TASK_STATE_COMPLETED, done.status
        assert answer(done) == "Refunded C3 over A2A."
    finally:
        await client.close()
    assert ledger(state) == ["refund C3 500"]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_the_text_reject_answers_the_one_pending_approval(host: LocalHostProcess, script: OpenAIServer,
                                                               state: Path, dialect: str) -> None:
    client = client_for(await resolve(host.url, CARD), dialect, streaming=False)
    try:
        task, _ = await ask_for_refund(client, script)
        script.script.add(Reply(text="The refund was not approved: over budget."))
        done = await send(client, message(Part(text="reject: over budget"), task=task))
        assert done.status.state == TaskState.TASK_STATE_COMPLETED, done.status
        assert answer(done) == "The refund was not approved: over budget."
    finally:
        await client.close()
    refusal = [m["content"] for m in script.script.requests[-1]["messages"] if m.get("role") == "tool"]
    assert len(refusal) == 1 and "did not approve" in refusal[0] and "over budget" in refusal[0]
    assert ledger(state) == []


async def test_a_queued_task_waits_for_approval_and_a_decision_completes_it(
        azurite: AzuriteQueues, model: OpenAIServer, tmp_path: Path) -> None:
    """A non-blocking send runs on the work queue (``kind`` a2a): the paused turn leaves the queued task
    ``input-required`` and its turn record ``awaiting_approval`` (not failed); the decision continues the task."""
    model.script.clear()
    env = app_env(model.base_url, model.api_key, tmp_path, APPROVALS_BACKGROUND="1",
                  AzureWebJobsStorage=azurite.connection_string, AGENTS_WORK_QUEUE=f"appr-{uuid.uuid4().hex[:12]}",
                  AGENTS_LOCAL_QUEUE_POLL_SECONDS="0.2")
    with LocalHostProcess(APPROVALS_APP, env=env) as host:
        client = client_for(await resolve(host.url, CARD), "1.0", streaming=False)
        try:
            model.script.add(Reply(tool_calls=[ScriptedToolCall("refund", {"order_id": "E5", "amount": 900})]))
            request = message(Part(text="Refund order E5"))
            request.configuration.return_immediately = True
            submitted = await send(client, request)
            assert submitted.status.state == TaskState.TASK_STATE_SUBMITTED
            deadline = time.monotonic() + 30
            task = submitted
            while task.status.state != TaskState.TASK_STATE_INPUT_REQUIRED and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                task = await client.get_task(GetTaskRequest(id=submitted.id))
            [approval] = pending(task)["approvals"]
            record = httpx.get(f"{host.url}/api/sessions/{task.context_id}/turns/{task.id}", timeout=30).json()
            assert record["status"] == "awaiting_approval" and record["approvals"][0]["id"] == approval["id"]
            model.script.add(Reply(text="Refunded E5 after the queue."))
            done = await send(client, message(Part(text="approve"), task=task))
            assert done.status.state == TaskState.TASK_STATE_COMPLETED, done.status
            assert answer(done) == "Refunded E5 after the queue."
        finally:
            await client.close()
    assert ledger(tmp_path) == ["refund E5 900"]

