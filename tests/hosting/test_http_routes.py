"""Every route and every error case over real HTTP through the local host."""

from __future__ import annotations

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess
from tests.servers.scripted import Reply, Script, ScriptedToolCall


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    for leak in ("Traceback", 'File "', "/site-packages/", "Exception"):
        assert leak not in response.text
    return body


def test_health_list_info(host: LocalHostProcess) -> None:
    health = httpx.get(f"{host.url}/api/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    listing = httpx.get(f"{host.url}/api/agents").json()
    assert [a["name"] for a in listing["agents"]] == ["Orders", "Greeter"]
    assert listing["agents"][0]["routes"] == {"chat": "/api/agents/Orders/chat", "info": "/api/agents/Orders/info"}
    orders = httpx.get(f"{host.url}/api/agents/Orders/info").json()
    assert orders["tools"][0]["name"] == "lookup" and "instructions" not in orders
    greeter = httpx.get(f"{host.url}/api/agents/Greeter/info").json()
    assert greeter["instructions"] == "Greet people." and "tools" not in greeter


def test_chat_answers_with_a_tool_call(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "Z9"})]))
    response = httpx.post(f"{host.url}/api/agents/Orders/chat", json={"message": "where is Z9?"}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["response"] == "Here is what I found: order Z9 shipped"
    assert body["agent"] == "Orders" and body["session_id"] == body["conversation_id"]
    assert body["tool_calls"][0]["name"] == "lookup"


def test_turn_two_of_a_session_sees_turn_one(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text="Noted: you like tea."), Reply(text="You like tea."))
    first = httpx.post(f"{host.url}/api/agents/Greeter/chat", json={"message": "I like tea", "user_id": "u1"}).json()
    httpx.post(f"{host.url}/api/agents/Greeter/chat",
               json={"message": "What do I like?", "user_id": "u1", "session_id": first["session_id"]})
    contents = [m.get("content") for m in script.requests[-1]["messages"]]
    assert contents == ["Greet people.", "I like tea", "Noted: you like tea.", "What do I like?"]
    session = httpx.get(f"{host.url}/api/sessions/{first['session_id']}", params={"user_id": "u1"})
    assert session.status_code == 200 and session.json()["active_agent"] == "Greeter"
    assert_error(httpx.get(f"{host.url}/api/sessions/{first['session_id']}", params={"user_id": "u2"}), 404,
                 "session_not_found")
    assert httpx.delete(f"{host.url}/api/sessions/{first['session_id']}", params={"user_id": "u1"}).status_code == 204
    assert_error(httpx.get(f"{host.url}/api/sessions/{first['session_id']}", params={"user_id": "u1"}), 404,
                 "session_not_found")


@pytest.mark.parametrize(("content", "body", "fragment"), [
    ("application/json", b"{not json", "not valid JSON"),
    ("application/json", b"", "must be a JSON object"),
    ("application/json", b"[1, 2]", "must be a JSON object"),
    ("application/json", b'{"text": "hi"}', "message is required"),
    ("application/json", b'{"message": 42}', "message must be a string"),
    ("application/json", b'{"message": null}', "message must be a string"),
    ("application/json", b'{"message": "hi", "user_id": 7}', "user_id must be a string"),
    ("application/json", b'{"message": "hi", "context": "x"}', "context must be a JSON object"),
    ("application/json", b'{"message": "hi", "stream": "yes"}', "stream must be true or false"),
    ("application/json", b'{"message": "hi", "session_id": "../../etc/passwd"}', "session_id must be"),
    ("application/json", b'{"message": "\xff\xfe"}', "UTF-8"),
])
def test_invalid_input_is_400(host: LocalHostProcess, script: Script, content: str, body: bytes,
                              fragment: str) -> None:
    response = httpx.post(f"{host.url}/api/agents/Orders/chat", content=body, headers={"content-type": content})
    error = assert_error(response, 400, "invalid_request")
    assert fragment in error["error"]["message"]
    assert error["agent"] == "Orders"
    assert script.calls == 0


def test_unknown_fields_are_ignored(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(text="fine"))
    response = httpx.post(f"{host.url}/api/agents/Greeter/chat", json={"message": "hi", "colour": "blue"})
    assert response.status_code == 200 and response.json()["response"] == "fine"


def test_body_over_the_limit_is_413(host: LocalHostProcess) -> None:
    response = httpx.post(f"{host.url}/api/agents/Orders/chat", json={"message": "x" * 5000})
    assert_error(response, 413, "payload_too_large")


def test_unknown_agent_is_404(host: LocalHostProcess) -> None:
    assert_error(httpx.post(f"{host.url}/api/agents/Nobody/chat", json={"message": "hi"}), 404, "agent_not_found")
    assert_error(httpx.get(f"{host.url}/api/agents/Nobody/info"), 404, "agent_not_found")


def test_wrong_method_is_405(host: LocalHostProcess) -> None:
    response = httpx.get(f"{host.url}/api/agents/Orders/chat")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    assert_error(httpx.post(f"{host.url}/api/health"), 405, "method_not_allowed")


def test_provider_rate_limit_is_429_with_retry_after(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(status=429, retry_after=12))
    response = httpx.post(f"{host.url}/api/agents/Greeter/chat", json={"message": "hi"})
    assert_error(response, 429, "rate_limited")
    assert response.headers["retry-after"] == "12"


def test_provider_error_is_502(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(status=500))
    assert_error(httpx.post(f"{host.url}/api/agents/Greeter/chat", json={"message": "hi"}), 502, "provider_error")
    script.add(Reply(malformed=True))
    assert_error(httpx.post(f"{host.url}/api/agents/Greeter/chat", json={"message": "hi"}), 502, "provider_error")


def test_provider_timeout_is_504(host: LocalHostProcess, script: Script) -> None:
    script.add(Reply(delay=2.5))
    response = httpx.post(f"{host.url}/api/agents/Greeter/chat", json={"message": "hi"}, timeout=30)
    assert_error(response, 504, "provider_timeout")


def test_runaway_tool_loop_is_a_clear_error(host: LocalHostProcess, script: Script) -> None:
    script.add(*[Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "x"})]) for _ in range(3)])
    body = assert_error(httpx.post(f"{host.url}/api/agents/Orders/chat", json={"message": "loop"}), 500,
                        "max_turns_exceeded")
    assert "max_turns=3" in body["error"]["message"]


def test_unmatched_path_is_a_json_404(host: LocalHostProcess) -> None:
    assert_error(httpx.get(f"{host.url}/api/nothing/here"), 404, "not_found")


def test_host_logs_one_line_per_request(host: LocalHostProcess) -> None:
    httpx.get(f"{host.url}/api/health?probe=log")
    assert "GET /api/health 200" in host.output
