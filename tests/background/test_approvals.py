"""A background turn that waits for a person's approval, end to end: the local host (a real process) serving HTTP
and the queue trigger, Azurite's queues, the scripted model and the approvals test app
(tests/hosting/apps/approvals).

The turn's status route shows ``awaiting_approval`` with the pending approvals; ``"async": true`` on the decision
answers 202 and the resumed turn runs on the queue, followed on the same status route under the paused turn's id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hosting.approval_helpers import APPROVALS_APP, app_env, ledger
from tests.servers.azurite import AzuriteQueues
from tests.servers.localhost import LocalHostProcess
from tests.servers.model_fixtures import model
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

__all__ = ["model"]


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def host(model: OpenAIServer, storage: AzuriteQueues, queue_name: str, tmp_path: Path) -> LocalHostProcess:
    model.script.clear()
    env = app_env(model.base_url, model.api_key, tmp_path, APPROVALS_BACKGROUND="1",
                  AzureWebJobsStorage=storage.connection_string, AGENTS_WORK_QUEUE=queue_name,
                  AGENTS_LOCAL_QUEUE_POLL_SECONDS="0.2")
    return LocalHostProcess(APPROVALS_APP, env=env)


def status_of(client: httpx.Client, location: str, *, until: set[str]) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        data: dict[str, Any] = client.get(location, params={"user_id": "ana"}).json()
        return data if data.get("status") in until else None

    result: dict[str, Any] = wait_for(check)
    return result


@pytest.mark.parametrize("decide_async", [True, False], ids=["decided-in-background", "decided-as-json"])
def test_a_background_turn_shows_its_approvals_and_resumes(host: LocalHostProcess, model: OpenAIServer,
                                                           tmp_path: Path, decide_async: bool) -> None:
    model.script.add(Reply(tool_calls=[ScriptedToolCall("refund", {"order_id": "B2", "amount": 300})]))
    with host, httpx.Client(base_url=host.url, timeout=30) as client:
        accepted = client.post("/api/agents/Refunds/chat",
                               json={"message": "Refund B2", "user_id": "ana", "async": True})
        assert accepted.status_code == 202, accepted.text
        paused = status_of(client, accepted.json()["location"], until={"awaiting_approval", "failed", "completed"})
        assert paused["status"] == "awaiting_approval", paused
        [approval] = paused["approvals"]
        assert (approval["tool"], approval["arguments"], approval["status"]) == (
            "refund", {"order_id": "B2", "amount": 300}, "pending")
        assert paused["response"]["status"] == "awaiting_approval"
        turn_id = paused["response"]["turn_id"]  # the id the decisions name
        assert ledger(tmp_path) == []
        # Another background message in the session is refused now (409), not queued to fail later.
        blocked = client.post("/api/agents/Refunds/chat", json={"message": "And?", "user_id": "ana", "async": True,
                                                                "session_id": paused["session_id"]})
        assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "approval_pending", blocked.text
        assert blocked.json()["turn_id"] == turn_id
        model.script.add(Reply(text="Refunded B2 in the background."))
        url = f"/api/sessions/{paused['session_id']}/turns/{turn_id}/approvals"
        decided = client.post(url, params={"user_id": "ana"},
                              json={"decisions": [{"id": approval["id"], "approved": True}],
                                    "async": decide_async})
        if decide_async:
            assert decided.status_code == 202, decided.text
            location = decided.json()["location"]
            assert location == f"/api/sessions/{paused['session_id']}/turns/{turn_id}"
            done = status_of(client, location, until={"completed", "failed"})
            assert done["status"] == "completed", done
            assert done["response"]["response"] == "Refunded B2 in the background."
        else:
            assert decided.status_code == 200, decided.text
            assert decided.json()["response"] == "Refunded B2 in the background."
        # A second decision, in any form, is refused before anything is queued.
        again = client.post(url, params={"user_id": "ana"},
                            json={"decisions": [{"id": approval["id"], "approved": False}], "async": True})
        assert again.status_code == 409 and again.json()["error"]["code"] == "approval_decided", again.text
    assert ledger(tmp_path) == ["refund B2 300"]


def test_async_decisions_need_background_turns(model: OpenAIServer, tmp_path: Path) -> None:
    model.script.clear()
    model.script.add(Reply(tool_calls=[ScriptedToolCall("refund", {"order_id": "B3", "amount": 150})]))
    with LocalHostProcess(APPROVALS_APP, env=app_env(model.base_url, model.api_key, tmp_path)) as host:
        paused = httpx.post(f"{host.url}/api/agents/Refunds/chat", json={"message": "Refund B3", "user_id": "ana"},
                            timeout=30).json()
        url = f"{host.url}/api/sessions/{paused['session_id']}/turns/{paused['turn_id']}/approvals"
        refused = httpx.post(url, params={"user_id": "ana"}, timeout=30, json={
            "decisions": [{"id": paused["approvals"][0]["id"], "approved": True}], "async": True})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "async_not_enabled"
    assert ledger(tmp_path) == []


@pytest.mark.parametrize("second_async", [True, False], ids=["queued-again", "settled-by-json"])
def test_a_record_resumed_in_the_background_follows_each_decision(host: LocalHostProcess, model: OpenAIServer,
                                                                 tmp_path: Path, second_async: bool) -> None:
    """Two approvals, decided one at a time: the first ``"async": true`` decision queues a record under the
    paused turn's id, which ends ``awaiting_approval`` again; the second decision queues that same record again
    (``"async": true``) or, as JSON, settles it with the resumed turn's outcome."""
    model.script.add(Reply(tool_calls=[ScriptedToolCall("refund", {"order_id": "F1", "amount": 150}),
                                       ScriptedToolCall("refund", {"order_id": "F2", "amount": 160})]))
    with host, httpx.Client(base_url=host.url, timeout=30) as client:
        paused = client.post("/api/agents/Refunds/chat", json={"message": "Refund F1 and F2", "user_id": "ana"})
        body = paused.json()
        assert body["status"] == "awaiting_approval", body
        first, second = body["approvals"]
        url = f"/api/sessions/{body['session_id']}/turns/{body['turn_id']}/approvals"
        location = f"/api/sessions/{body['session_id']}/turns/{body['turn_id']}"
        accepted = client.post(url, params={"user_id": "ana"},
                               json={"decisions": [{"id": first["id"], "approved": True}], "async": True})
        assert accepted.status_code == 202 and accepted.json()["location"] == location, accepted.text
        waiting = status_of(client, location, until={"awaiting_approval", "completed", "failed"})
        assert waiting["status"] == "awaiting_approval", waiting
        assert [a["id"] for a in waiting["approvals"] if a["status"] == "pending"] == [second["id"]]
        model.script.add(Reply(text="Refunded F1 and F2."))
        decided = client.post(url, params={"user_id": "ana"},
                              json={"decisions": [{"id": second["id"], "approved": True}], "async": second_async})
        assert decided.status_code == (202 if second_async else 200), decided.text
        done = status_of(client, location, until={"completed", "failed"})
        assert done["status"] == "completed" and done["response"]["response"] == "Refunded F1 and F2.", done
    # Each refund ran once (the calls of one model answer may run concurrently: the order is not fixed).
    assert sorted(ledger(tmp_path)) == ["refund F1 150", "refund F2 160"]
