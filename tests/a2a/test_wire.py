"""The A2A routes on the wire: raw JSON-RPC errors, both method-name dialects, card caching, a second process."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.servers.localhost import LocalHostProcess

from .conftest import APP

V1 = {"A2A-Version": "1.0"}


def rpc(host: LocalHostProcess, body: Any, *, headers: dict[str, str] | None = None, agent: str = "Converter",
        suffix: str = "") -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{host.url}/api/agents/{agent}/a2a{suffix}", content=content, timeout=30,
                      headers={"content-type": "application/json", **(headers or {})})


def v1_message(text: str) -> dict[str, Any]:
    return {"message": {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}]}}


def v03_message(text: str) -> dict[str, Any]:
    return {"message": {"messageId": uuid.uuid4().hex, "role": "user", "kind": "message",
                        "parts": [{"kind": "text", "text": text}]}}


@pytest.mark.parametrize(("body", "code"), [
    (b'{"jsonrpc": "2.0", "method": ', -32700),
    ({"jsonrpc": "1.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}, -32600),
    ([{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}], -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": "tasks/teleport", "params": {}}, -32601),
    ({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {"parts": "not a list"}}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": {
        "messageId": "m", "role": "ROLE_USER", "parts": []}}}, -32602),
    ({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": "hello"}}, -32602),
    ({"jsonrpc": "2.0", "method": "tasks/get", "params": {"id": "<x>"}}, -32600),
    ({"jsonrpc": "2.0", "method": "GetTask", "params": {"id": "<x>"}}, -32600),
    ({"jsonrpc": "2.0", "id": True, "method": "tasks/get", "params": {"id": "<x>"}}, -32600),
    ({"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "<not a task id>"}}, -32001),
], ids=["parse", "invalid-request", "batch", "unknown-method", "invalid-params", "empty-parts", "invalid-params-0.3",
        "no-id-0.3", "no-id-1.0", "bool-id", "impossible-task-id"])
def test_json_rpc_errors_are_http_200_with_the_spec_code(host: LocalHostProcess, body: Any, code: int) -> None:
    dialect_03 = isinstance(body, dict) and "/" in body["method"]
    response = rpc(host, body, headers={} if dialect_03 else V1)
    assert response.status_code == 200
    data = response.json()
    assert data["jsonrpc"] == "2.0" and data["error"]["code"] == code and "result" not in data
    if code == -32700:
        assert data["id"] is None
        assert data["error"]["message"] == "Parse error: the request body is not valid JSON."
    # Our words, never the request quoted back (no pydantic dump, no input_value).
    assert "input_value" not in response.text and "<x>" not in response.text and "validation error" not in \
        response.text.lower()


def test_both_method_names_and_the_trailing_slash(host: LocalHostProcess) -> None:
    current = rpc(host, {"jsonrpc": "2.0", "id": "a", "method": "SendMessage",
                         "params": v1_message("Convert 5 degrees celsius to fahrenheit")}, headers=V1, suffix="/")
    task = current.json()["result"]["task"]
    assert current.json()["id"] == "a" and task["status"]["state"] == "TASK_STATE_COMPLETED"
    legacy = rpc(host, {"jsonrpc": "2.0", "id": 7, "method": "message/send",
                        "params": v03_message("Convert 5 degrees celsius to fahrenheit")})
    result = legacy.json()["result"]
    assert result["kind"] == "task" and result["status"]["state"] == "completed"
    assert result["artifacts"][0]["parts"][0] == {"kind": "text", "text": task["artifacts"][0]["parts"][0]["text"]}
    # 0.3 tasks/get finds the 1.0 task: one store, two dialects.
    got = rpc(host, {"jsonrpc": "2.0", "id": 8, "method": "tasks/get", "params": {"id": task["id"]}}).json()
    assert got["result"]["id"] == task["id"] and got["result"]["kind"] == "task"
    # A 1.0 method without A2A-Version is read as 0.3 and refused; the query parameter counts as the header.
    assert rpc(host, {"jsonrpc": "2.0", "id": 9, "method": "GetTask", "params": {"id": task["id"]}}).json()[
        "error"]["code"] == -32009
    # A 0.3 name sent as A2A 1.0 is not a 1.0 method.
    crossed = rpc(host, {"jsonrpc": "2.0", "id": 11, "method": "tasks/get", "params": {"id": task["id"]}},
                  headers=V1).json()["error"]
    assert crossed["code"] == -32601 and "GetTask" in crossed["message"]
    by_query = httpx.post(f"{host.url}/api/agents/Converter/a2a?A2A-Version=1.0", timeout=30,
                          json={"jsonrpc": "2.0", "id": 10, "method": "GetTask", "params": {"id": task["id"]}})
    assert by_query.json()["result"]["id"] == task["id"]


def test_task_errors_by_code(host: LocalHostProcess) -> None:
    done = rpc(host, {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                      "params": v1_message("hello")}, headers=V1, agent="Echo").json()["result"]["task"]
    assert done["artifacts"][0]["parts"][0]["text"].startswith("[offline model] You said: hello")
    cancel = rpc(host, {"jsonrpc": "2.0", "id": 2, "method": "CancelTask", "params": {"id": done["id"]}},
                 headers=V1, agent="Echo").json()
    assert cancel["error"]["code"] == -32002
    missing = rpc(host, {"jsonrpc": "2.0", "id": 3, "method": "tasks/get", "params": {"id": "no-such-task"}})
    assert missing.json()["error"]["code"] == -32001
    # Tasks belong to their agent: another agent's endpoint does not know them.
    other = rpc(host, {"jsonrpc": "2.0", "id": 4, "method": "GetTask", "params": {"id": done["id"]}}, headers=V1)
    assert other.json()["error"]["code"] == -32001
    follow_up = v1_message("again")
    follow_up["message"]["taskId"] = done["id"]
    terminal = rpc(host, {"jsonrpc": "2.0", "id": 5, "method": "SendMessage", "params": follow_up}, headers=V1,
                   agent="Echo").json()
    assert terminal["error"]["code"] == -32004
    bad_context = v1_message("hello")
    bad_context["message"]["contextId"] = "has spaces"
    refused = rpc(host, {"jsonrpc": "2.0", "id": 6, "method": "SendMessage", "params": bad_context}, headers=V1)
    assert refused.json()["error"]["code"] == -32602 and "contextId" in refused.json()["error"]["message"]
    file_part = v1_message("see file")
    file_part["message"]["parts"].append({"url": "https://example.invalid/a.png", "mediaType": "image/png"})
    unsupported = rpc(host, {"jsonrpc": "2.0", "id": 7, "method": "SendMessage", "params": file_part}, headers=V1)
    assert unsupported.json()["error"]["code"] == -32005


def test_card_http_behaviour(host: LocalHostProcess) -> None:
    card = httpx.get(f"{host.url}/.well-known/agent-card.json", timeout=30)
    assert card.status_code == 200 and card.headers["content-type"].startswith("application/json")
    assert "max-age=" in card.headers["cache-control"]
    again = httpx.get(f"{host.url}/.well-known/agent-card.json", headers={"If-None-Match": card.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # The interface URL is the app's URL as the caller reached it.
    other_host = httpx.get(f"{host.url}/api/agents/Echo/.well-known/agent-card.json",
                           headers={"Host": "agents.example.net"}).json()
    assert other_host["supportedInterfaces"][0]["url"] == "http://agents.example.net/api/agents/Echo/a2a"
    v03 = httpx.get(f"{host.url}/api/agents/Echo/.well-known/agent.json", headers={"Host": "agents.example.net"}).json()
    assert v03["url"] == "http://agents.example.net/api/agents/Echo/a2a"  # the 0.3 field
    assert card.headers["vary"] == "A2A-Version"
    assert httpx.get(f"{host.url}/api/agents/Nobody/.well-known/agent-card.json").status_code == 404
    wrong_method = httpx.get(f"{host.url}/api/agents/Converter/a2a")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"
    unknown = rpc(host, {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "x"}}, agent="Nobody")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "agent_not_found"


def test_standard_routes_stay(host: LocalHostProcess) -> None:
    health = httpx.get(f"{host.url}/api/health").json()
    assert health["status"] == "healthy" and health["mode"] == "a2a"
    listed = httpx.get(f"{host.url}/api/agents").json()
    assert [a["name"] for a in listed["agents"]] == ["Converter", "Echo", "Sleeper"]
    paths = httpx.get(f"{host.url}/api/openapi.json").json()["paths"]
    assert {"/api/agents/{agent_name}/a2a", "/.well-known/agent-card.json", "/.well-known/agent.json",
            "/api/agents/{agent_name}/.well-known/agent-card.json"} <= set(paths)
    assert paths["/.well-known/agent-card.json"]["get"]["security"] == []


def test_a_second_process_answers_for_a_task_the_first_ran(host: LocalHostProcess, store_path: Path) -> None:
    task = rpc(host, {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                      "params": v1_message("Convert 37 degrees celsius to fahrenheit")}, headers=V1).json()[
        "result"]["task"]
    with LocalHostProcess(APP, env={"AGENTS_SESSION_DB": str(store_path)}) as second:
        assert second.port != host.port
        got = rpc(second, {"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": task["id"]}}).json()
        assert got["result"]["id"] == task["id"] and got["result"]["status"]["state"] == "completed"
        assert got["result"]["artifacts"][0]["parts"][0]["text"].endswith("37 C is 98.6 F")
        listed = rpc(second, {"jsonrpc": "2.0", "id": 3, "method": "ListTasks",
                              "params": {"contextId": task["contextId"]}}, headers=V1).json()
        assert [t["id"] for t in listed["result"]["tasks"]] == [task["id"]]


def test_public_url_setting_names_the_interface(store_path: Path) -> None:
    env = {"AGENTS_SESSION_DB": str(store_path), "AGENTS_PUBLIC_URL": "https://agents.contoso.example/"}
    with LocalHostProcess(APP, env=env) as host:
        card = httpx.get(f"{host.url}/api/agents/Converter/.well-known/agent-card.json").json()
    assert {i["url"] for i in card["supportedInterfaces"]} == {
        "https://agents.contoso.example/api/agents/Converter/a2a"}


def test_auth_the_card_is_anonymous_and_the_rpc_route_needs_a_key(store_path: Path) -> None:
    key = uuid.uuid4().hex
    env = {"AGENTS_SESSION_DB": str(store_path), "AGENTS_LOCAL_FUNCTION_KEY": key}
    with LocalHostProcess(APP, env=env, enable_auth=True) as host:
        card = httpx.get(f"{host.url}/.well-known/agent-card.json")
        assert card.status_code == 200 and card.json()["securityRequirements"]
        body = {"jsonrpc": "2.0", "id": 1, "method": "tasks/get", "params": {"id": "x"}}
        assert rpc(host, body).status_code == 401
        keyed = rpc(host, body, headers={"x-functions-key": key})
        assert keyed.status_code == 200 and keyed.json()["error"]["code"] == -32001


def test_0_3_push_notification_methods_and_0_3_webhook_bodies(host: LocalHostProcess) -> None:
    """The 0.3 methods of the original README, complete: ``get`` by task id alone (0.3
    ``GetTaskPushNotificationConfigParams.pushNotificationConfigId`` is optional), ``delete`` answering
    ``"result": null``, and a webhook set through 0.3 receiving 0.3 bodies (the task, as a2a-sdk 0.3's
    ``BasePushNotificationSender._dispatch_notification`` posted it), while a 1.0 webhook gets
    ``StreamResponse`` bodies (spec 1.0 §4.3.3)."""
    from .webhook import Webhook

    old_hook, new_hook = Webhook(), Webhook()
    with old_hook.server, new_hook.server:
        legacy = rpc(host, {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {
            **v03_message("Convert 8 degrees celsius to fahrenheit"),
            "configuration": {"pushNotificationConfig": {"url": old_hook.url, "token": "old"}}}}).json()["result"]
        current = rpc(host, {"jsonrpc": "2.0", "id": 2, "method": "SendMessage", "params": {
            **v1_message("Convert 9 degrees celsius to fahrenheit"),
            "configuration": {"taskPushNotificationConfig": {"url": new_hook.url, "token": "new"}}}},
            headers=V1).json()["result"]["task"]
        assert legacy["status"]["state"] == "completed" and current["status"]["state"] == "TASK_STATE_COMPLETED"
    old_bodies = [body for _, body in old_hook.received]
    assert old_bodies and all(b["kind"] == "task" and b["id"] == legacy["id"] for b in old_bodies)
    assert old_bodies[-1]["status"]["state"] == "completed"
    assert old_bodies[-1]["artifacts"][0]["parts"][0]["kind"] == "text"
    assert all(h["x-a2a-notification-token"] == "old" for h, _ in old_hook.received)
    assert new_hook.states()[-1] == "TASK_STATE_COMPLETED" and "kind" not in new_hook.received[-1][1]

    got = rpc(host, {"jsonrpc": "2.0", "id": 3, "method": "tasks/pushNotificationConfig/get",
                     "params": {"id": legacy["id"]}}).json()
    assert got["result"]["taskId"] == legacy["id"]
    assert got["result"]["pushNotificationConfig"]["url"] == old_hook.url
    config_id = got["result"]["pushNotificationConfig"]["id"]
    deleted = rpc(host, {"jsonrpc": "2.0", "id": 4, "method": "tasks/pushNotificationConfig/delete",
                         "params": {"id": legacy["id"], "pushNotificationConfigId": config_id}}).json()
    assert deleted == {"jsonrpc": "2.0", "id": 4, "result": None}
    none_left = rpc(host, {"jsonrpc": "2.0", "id": 5, "method": "tasks/pushNotificationConfig/get",
                           "params": {"id": legacy["id"]}}).json()
    assert none_left["error"]["code"] == -32602 and "no push notification config" in none_left["error"]["message"]

