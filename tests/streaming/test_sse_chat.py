"""Streamed turns over real HTTP through the local host (streams mode), read event by event as they arrive."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess
from tests.servers.scripted import Reply, Script, ScriptedToolCall

from .sse_client import Received, events, stream_chat

ID = re.compile(r"^([0-9a-z]{12})-([1-9][0-9]*)$")
ANSWER = "Order Z9 left the warehouse on Monday and arrives on Thursday."


def check_ids(received: list[Received]) -> str:
    """Every event has an id of one turn, numbered 1..n in order, and data whose type is the event name."""
    turns = {ID.match(e.id or "").group(1) for e in received}  # type: ignore[union-attr]
    assert len(turns) == 1, [e.id for e in received]
    assert [int(ID.match(e.id or "").group(2)) for e in received] == list(range(1, len(received) + 1))  # type: ignore[union-attr]
    assert all(e.data["type"] == e.event for e in received)
    return turns.pop()


def test_first_text_delta_arrives_before_the_model_finishes(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text=ANSWER, chunk_size=4, chunk_delay=0.06))  # 16 chunks, about a second
    started = time.monotonic()
    with httpx.Client() as client:
        received = stream_chat(client, f"{host.url}/api/agents/Greeter/chat", {"message": "status?"})
    deltas = [e for e in received if e.event == "text_delta"]
    done = received[-1]
    assert done.event == "done"
    first_delta = deltas[0].at - started
    gap = done.at - deltas[0].at
    print(f"first text delta after {first_delta * 1000:.0f} ms; done {gap * 1000:.0f} ms later")
    assert len(deltas) == 16 and "".join(d.text for d in deltas) == ANSWER
    assert gap > 0.6, "the deltas were buffered instead of streamed"
    # Deltas arrive spread out, as the model produces them.
    assert deltas[8].at - deltas[0].at > 0.3


def test_tool_turn_streams_in_order_and_done_is_the_json_response(host: LocalHostProcess,
                                                                  script: Script) -> None:
    script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "Z9"})]), Reply(text=ANSWER))
    with httpx.Client() as client:
        received = stream_chat(client, f"{host.url}/api/agents/Orders/chat",
                               {"message": "where is Z9?", "user_id": "ann", "stream": True},
                               headers={"accept": "*/*"})
    check_ids(received)
    names = [e.event for e in received]
    assert names[:4] == ["turn_started", "usage", "tool_call", "tool_result"]
    assert names[-2:] == ["usage", "done"] and set(names[4:-2]) == {"text_delta"}
    started, _, call, result = received[:4]
    assert started.data["agent"] == "Orders" and started.data["session_id"]
    assert call.data["name"] == "lookup" and call.data["arguments"] == {"code": "Z9"}
    assert result.data == {"type": "tool_result", "agent": "Orders", "call_id": call.data["call_id"],
                           "name": "lookup", "result": "order Z9 shipped", "is_error": False}
    assert "".join(e.text for e in received if e.event == "text_delta") == ANSWER
    streamed = received[-1].data["response"]

    # The same turn through the JSON route gives the same ChatResponse (the session id aside).
    script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "Z9"})]), Reply(text=ANSWER))
    plain = httpx.post(f"{host.url}/api/agents/Orders/chat", json={"message": "where is Z9?", "user_id": "ann"},
                       timeout=30).json()
    call_ids = [c.pop("id") for c in streamed["tool_calls"]] + [c.pop("id") for c in plain["tool_calls"]]
    assert all(call_ids)
    for body in (streamed, plain):
        assert body.pop("session_id") == body.pop("conversation_id")
        assert body.pop("turn_id")  # each turn has its own id
    assert streamed == plain
    assert streamed["response"] == ANSWER and streamed["usage"]["requests"] == 2


def test_accept_header_and_stream_flag_choose_sse(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text="one"), Reply(text="two"))
    with httpx.Client() as client:
        by_header = stream_chat(client, f"{host.url}/api/agents/Greeter/chat", {"message": "hi"})
        with client.stream("POST", f"{host.url}/api/agents/Greeter/chat", json={"message": "hi", "stream": True},
                           headers={"accept": "application/json"}) as response:
            assert response.headers["cache-control"] == "no-cache"
            by_flag = list(events(response))
    assert by_header[-1].data["response"]["response"] == "one"
    assert by_flag[-1].data["response"]["response"] == "two"


def test_a_failed_turn_ends_with_an_error_event(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(status=429, retry_after=3))
    with httpx.Client() as client:
        received = stream_chat(client, f"{host.url}/api/agents/Greeter/chat", {"message": "hi"})
    check_ids(received)
    assert [e.event for e in received] == ["turn_started", "error"]
    error = received[-1].data
    assert error["code"] == "rate_limited" and error["message"] and error["agent"] == "Greeter"
    assert error["session_id"] == received[0].data["session_id"]


@pytest.mark.parametrize("body", [b"{nope", b'{"message": 5}'])
def test_invalid_requests_are_json_errors_even_when_sse_is_asked_for(host: LocalHostProcess, body: bytes) -> None:
    response = httpx.post(f"{host.url}/api/agents/Greeter/chat", content=body,
                          headers={"accept": "text/event-stream", "content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
