"""The chat route's ``Idempotency-Key`` header: the key is the turn's id, so a client that retries after a
dropped connection or a killed host gets the finished answer or the resumed turn, never a second run. A retry
while the first request still runs is answered 409 ``turn_in_progress``. Real worker processes (the local host)
killed with SIGKILL, on the SQLite file and on Cosmos DB (tests/servers/crash.py).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx

from tests.servers.crash import AGENT, PROMPT, CrashSite, Worker, wait_for
from tests.servers.scripted import Reply, ScriptedToolCall

CHAT = f"/api/agents/{AGENT}/chat"


def post(worker: Worker, key: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    with httpx.Client(base_url=worker.url, timeout=30) as client:
        return client.post(CHAT, json=body, headers={"Idempotency-Key": key, "Accept": "application/json",
                                                      **headers})


class Background:
    """A request sent on a thread of its own, whose reply (or failure) is kept."""

    def __init__(self, worker: Worker, key: str, body: dict[str, Any]) -> None:
        self.reply: httpx.Response | None = None
        self.error: Exception | None = None

        def send() -> None:
            try:
                self.reply = post(worker, key, body)
            except httpx.HTTPError as exc:
                self.error = exc

        self.thread = threading.Thread(target=send, daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join(timeout=40)
        assert not self.thread.is_alive(), "the first request never ended"


def retry_until_answered(worker: Worker, key: str, body: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    """Retry as a client does while the dead host's turn is still leased; the codes of the 409s met on the way."""
    refused: list[str] = []
    deadline = time.monotonic() + 30
    while True:
        reply = post(worker, key, body)
        if reply.status_code != 409:
            return reply, refused
        refused.append(reply.json()["error"]["code"])
        assert time.monotonic() < deadline, "the turn stayed in progress"
        time.sleep(0.3)


def test_a_retry_with_the_same_key_after_a_killed_host_gets_one_answer_and_one_run(crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "B1"})]),
                              Reply(text="Order B1 has shipped."))
    site.close_gate()
    key = f"retry-{uuid.uuid4().hex}"
    body = {"message": "Where is order B1?", "user_id": "ana"}
    first = site.worker()
    request = Background(first, key, body)
    wait_for(lambda: site.effects("lookup.called"), what="the tool call")
    first.kill()
    request.join()
    assert request.reply is None and request.error is not None  # the connection dropped with the host

    site.open_gate()
    second = site.worker()
    reply, refused = retry_until_answered(second, key, body)
    assert reply.status_code == 200, reply.text
    assert set(refused) <= {"turn_in_progress"}
    answer = reply.json()
    assert answer["response"] == "Order B1 has shipped."
    assert site.model_calls(1) == 1 and site.model_calls(2) == 1
    assert len(site.effects("lookup.done")) == 1

    again = post(second, key, body)  # a late duplicate: the same answer, nothing runs
    assert again.status_code == 200, again.text
    assert again.json()["response"] == "Order B1 has shipped."
    assert again.json()["session_id"] == answer["session_id"]
    assert site.model_calls(1) == 1 and site.model_calls(2) == 1
    with httpx.Client(base_url=second.url, timeout=10) as client:
        session = client.get(f"/api/sessions/{answer['session_id']}", params={"user_id": "ana"}).json()
    assert [m["role"] for m in session["messages"]] == ["user", "assistant", "tool", "assistant"]


def test_a_retry_while_the_turn_still_runs_is_409_turn_in_progress(crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "B2"})]),
                              Reply(text="Order B2 has shipped."))
    site.close_gate()
    key = f"busy-{uuid.uuid4().hex}"
    body = {"message": "Where is order B2?", "session_id": "busy-session"}
    worker = site.worker()
    request = Background(worker, key, body)
    wait_for(lambda: site.effects("lookup.called"), what="the tool call")

    busy = post(worker, key, body)
    assert busy.status_code == 409, busy.text
    assert busy.json()["error"]["code"] == "turn_in_progress" and busy.headers["retry-after"] == "1"
    streamed = post(worker, key, {**body, "stream": True}, Accept="text/event-stream")
    assert streamed.status_code == 409 and streamed.json()["error"]["code"] == "turn_in_progress"

    site.open_gate()
    request.join()
    assert request.reply is not None and request.reply.status_code == 200, request.error or request.reply.text
    assert request.reply.json()["response"] == "Order B2 has shipped."
    assert site.model_calls(1) == 1 and site.model_calls(2) == 1 and len(site.effects("lookup.done")) == 1


def test_a_malformed_idempotency_key_is_a_400_naming_the_header(crash_site: CrashSite) -> None:
    worker = crash_site.worker()
    for key in ("-starts-with-a-dash", "has space", "x" * 129):
        reply = post(worker, key, {"message": "Hi"})
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert error["code"] == "invalid_request" and "Idempotency-Key" in error["message"]
    assert crash_site.model.script.calls == 0


def sse_events(text: str) -> list[tuple[str, str]]:
    """``(event, data)`` of each server-sent event in a body."""
    found = []
    for block in text.split("\n\n"):
        lines = block.splitlines()
        event = next((line[len("event: "):] for line in lines if line.startswith("event: ")), "")
        data = "\n".join(line[len("data: "):] for line in lines if line.startswith("data: "))
        if event:
            found.append((event, data))
    return found


def test_an_sse_retry_after_a_killed_host_streams_the_resumed_turn_to_one_end(crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "B3"})]),
                              Reply(text="Order B3 has shipped."))
    site.close_gate()
    key = f"sse-{uuid.uuid4().hex}"
    body = {"message": "Where is order B3?", "session_id": "sse-retry", "stream": True}
    first = site.worker()
    request = Background(first, key, body)
    wait_for(lambda: site.effects("lookup.called"), what="the tool call")
    first.kill()
    request.join()

    site.open_gate()
    second = site.worker()
    deadline = time.monotonic() + 30
    while True:
        reply = post(second, key, body, Accept="text/event-stream")
        if reply.status_code != 409:
            break
        assert reply.json()["error"]["code"] == "turn_in_progress"
        assert time.monotonic() < deadline, "the turn stayed in progress"
        time.sleep(0.3)
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream"), reply.text
    events = sse_events(reply.text)
    ends = [data for event, data in events if event in ("done", "error")]
    assert len(ends) == 1 and "Order B3 has shipped." in ends[0], events
    assert site.model_calls(1) == 1 and site.model_calls(2) == 1
    assert len(site.effects("lookup.done")) == 1


def test_a_synchronous_turn_parked_by_a_drain_is_finished_by_the_retry_without_repeating_a_step(
        crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "B4"})], delay=2.0),
                              Reply(text="Order B4 has shipped."))
    key = f"drain-{uuid.uuid4().hex}"
    body = {"message": "Where is order B4?", "session_id": "drained-sync"}
    first = site.worker()
    request = Background(first, key, body)
    wait_for(lambda: site.model.script.calls == 1, what="the first model call")
    # SIGTERM while the model thinks: the answer is recorded, then the turn stops before the tool runs and the
    # open request is answered before the host exits.
    assert first.drain() in (0, -15), first.output[-3000:]
    request.join()
    assert request.reply is not None, request.error
    assert request.reply.status_code == 503, request.reply.text
    assert request.reply.json()["error"]["code"] == "turn_parked" and request.reply.headers["retry-after"] == "1"
    assert site.effects("lookup.called") == []

    second = site.worker()
    reply, refused = retry_until_answered(second, key, body)
    assert reply.status_code == 200 and refused == [], reply.text  # the parked turn's lease was given back
    assert reply.json()["response"] == "Order B4 has shipped."
    assert site.model_calls(1) == 1 and site.model_calls(2) == 1
    assert len(site.effects("lookup.called")) == 1 and len(site.effects("lookup.done")) == 1
