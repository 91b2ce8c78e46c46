"""Human approval of tool calls over HTTP, with the scripted model and the local host (a real process).

A refund over 100 needs a person's approval (tests/hosting/apps/approvals). The turn stops before the call, the
reply lists the pending approval, and ``POST /api/sessions/{id}/turns/{turn_id}/approvals`` resumes it: the
tool runs (or is refused) and the model goes on. The test app writes every tool run to a ledger file, so the
tests see what really ran, also across a restart of the host.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx

from tests.hosting.approval_helpers import (
    APPROVALS_APP,
    app_env,
    approvals_url,
    chat,
    decide,
    error_code,
    host,
    ledger,
    script,
    sse_events,
    state,
)
from tests.servers.localhost import LocalHostProcess
from tests.servers.model_fixtures import model
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall

__all__ = ["host", "model", "script", "state"]  # the shared fixtures

REFUND = ScriptedToolCall("refund", {"order_id": "A1", "amount": 240})
LOOKUP = ScriptedToolCall("lookup", {"order_id": "A1"})



def pause(host: LocalHostProcess, script: OpenAIServer, *calls: ScriptedToolCall,
          user_id: str = "ana") -> dict[str, Any]:
    """A turn whose model asks for ``calls``; it must stop awaiting approval."""
    script.script.add(Reply(tool_calls=list(calls or [REFUND])))
    response = chat(host, "Refund order A1 please", user_id=user_id)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "awaiting_approval", body
    return body


def tool_messages(script: OpenAIServer) -> list[str]:
    return [m.get("content") or "" for m in script.script.requests[-1]["messages"] if m.get("role") == "tool"]


def test_pause_then_approve_runs_the_call_and_the_model_answers(host: LocalHostProcess, script: OpenAIServer,
                                                                 state: Path) -> None:
    paused = pause(host, script)
    [approval] = paused["approvals"]
    assert (approval["agent"], approval["tool"], approval["arguments"]) == ("Refunds", "refund",
                                                                           {"order_id": "A1", "amount": 240})
    assert approval["reason"] == "Refund 240 EUR on A1"
    assert approval["status"] == "pending" and len(approval["id"]) >= 24  # secrets.token_urlsafe(24)
    assert paused["turn_id"] and paused["session_id"] and paused["response"] in (None, "")
    assert ledger(state) == []  # nothing ran yet
    script.script.add(Reply(text="Your refund of 240 EUR is on its way."))
    resumed = decide(host, paused, {"id": approval["id"], "approved": True})
    assert resumed.status_code == 200, resumed.text
    body = resumed.json()
    assert body["status"] == "success" and body["response"] == "Your refund of 240 EUR is on its way."
    assert body["session_id"] == paused["session_id"]
    assert ledger(state) == ["refund A1 240"]
    assert tool_messages(script) == ["refunded 240 EUR on A1"]
    history = httpx.get(f"{host.url}/api/sessions/{paused['session_id']}", params={"user_id": "ana"}).json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant", "tool", "assistant"]


def test_reject_with_a_message_and_the_model_explains(host: LocalHostProcess, script: OpenAIServer,
                                                      state: Path) -> None:
    paused = pause(host, script)
    script.script.add(Reply(text="I could not refund it: a manager said the amount is too high."))
    resumed = decide(host, paused, {"id": paused["approvals"][0]["id"], "approved": False,
                                    "message": "Too high, offer 100."})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["response"] == "I could not refund it: a manager said the amount is too high."
    [refusal] = tool_messages(script)
    assert "The user did not approve this call." in refusal and "Too high, offer 100." in refusal
    assert ledger(state) == []


def test_a_mixed_answer_runs_the_free_call_once_and_waits_for_the_other(host: LocalHostProcess,
                                                                        script: OpenAIServer, state: Path) -> None:
    paused = pause(host, script, LOOKUP, REFUND)
    assert [a["tool"] for a in paused["approvals"]] == ["refund"]
    assert ledger(state) == ["lookup A1"]  # the call that needs no approval ran at once
    script.script.add(Reply(text="Looked up and refunded."))
    resumed = decide(host, paused, {"id": paused["approvals"][0]["id"], "approved": True})
    assert resumed.json()["response"] == "Looked up and refunded."
    assert ledger(state) == ["lookup A1", "refund A1 240"]  # and was not run again
    assert sorted(tool_messages(script)) == ["order A1: shoes, 240 EUR", "refunded 240 EUR on A1"]


def test_a_second_decision_is_409(host: LocalHostProcess, script: OpenAIServer, state: Path) -> None:
    paused = pause(host, script)
    decision = {"id": paused["approvals"][0]["id"], "approved": True}
    script.script.add(Reply(text="Refunded."))
    assert decide(host, paused, decision).status_code == 200
    again = decide(host, paused, {**decision, "approved": False})
    assert again.status_code == 409, again.text
    assert error_code(again) == "approval_decided"
    assert ledger(state) == ["refund A1 240"]


def test_another_users_decision_is_404_and_changes_nothing(host: LocalHostProcess, script: OpenAIServer,
                                                           state: Path) -> None:
    paused = pause(host, script)
    decision = {"id": paused["approvals"][0]["id"], "approved": True}
    for other in ("bob", None):
        refused = decide(host, paused, decision, user_id=other)
        assert refused.status_code == 404, refused.text
        assert error_code(refused) == "turn_not_found"
    assert ledger(state) == []
    script.script.add(Reply(text="Refunded."))
    assert decide(host, paused, decision).json()["response"] == "Refunded."


def test_decisions_cannot_change_arguments_and_bad_ids_are_named(host: LocalHostProcess, script: OpenAIServer,
                                                                 state: Path) -> None:
    paused = pause(host, script)
    approval_id = paused["approvals"][0]["id"]
    changed = decide(host, paused, {"id": approval_id, "approved": True, "arguments": {"amount": 1}})
    assert changed.status_code == 400 and "arguments" in changed.json()["error"]["message"]
    extra = decide(host, paused, {"id": approval_id, "approved": True}, user_id="ana", amount=1)
    assert extra.status_code == 400 and "amount" in extra.json()["error"]["message"]
    unknown = decide(host, paused, {"id": "no-such-approval", "approved": True})
    assert unknown.status_code == 404 and error_code(unknown) == "approval_not_found"
    empty = httpx.post(approvals_url(host, paused["session_id"], paused["turn_id"]), params={"user_id": "ana"},
                       json={"decisions": []}, timeout=30)
    assert empty.status_code == 400 and "decisions" in empty.json()["error"]["message"]
    missing = httpx.post(approvals_url(host, paused["session_id"], "no-such-turn"), params={"user_id": "ana"},
                         json={"decisions": [{"id": approval_id, "approved": True}]}, timeout=30)
    assert missing.status_code == 404 and error_code(missing) == "turn_not_found"
    assert ledger(state) == []


def test_a_new_message_while_a_turn_waits_is_409_naming_the_decision_route(host: LocalHostProcess,
                                                                           script: OpenAIServer) -> None:
    paused = pause(host, script)
    blocked = chat(host, "Hello?", user_id="ana", session_id=paused["session_id"])
    assert blocked.status_code == 409, blocked.text
    body = blocked.json()
    assert body["error"]["code"] == "approval_pending"
    route = f"/api/sessions/{paused['session_id']}/turns/{paused['turn_id']}/approvals"
    assert body["turn_id"] == paused["turn_id"] and body["approvals_url"] == route
    assert [a["id"] for a in body["approvals"]] == [paused["approvals"][0]["id"]]
    streamed = chat(host, "Hello?", user_id="ana", session_id=paused["session_id"],
                    headers={"Accept": "text/event-stream"})
    assert streamed.status_code == 409 and streamed.headers["content-type"].startswith("application/json")
    assert streamed.json()["approvals_url"] == route


def test_the_same_flow_over_sse(host: LocalHostProcess, script: OpenAIServer, state: Path) -> None:
    script.script.add(Reply(tool_calls=[REFUND]))
    streamed = chat(host, "Refund order A1 please", user_id="ana", headers={"Accept": "text/event-stream"})
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    names = [name for name, _ in events]
    assert names[-2:] == ["approval_required", "done"], names
    required, done = events[-2][1], events[-1][1]["response"]
    assert done["status"] == "awaiting_approval" and required["turn_id"] == done["turn_id"]
    [approval] = required["approvals"]
    assert approval["tool"] == "refund" and approval["reason"] == "Refund 240 EUR on A1"
    # The kept stream (GET .../stream) replays the pause as it was sent, and ends there.
    kept = httpx.get(f"{host.url}/api/sessions/{done['session_id']}/stream", params={"user_id": "ana"}, timeout=30)
    assert [name for name, _ in sse_events(kept.text)][-2:] == ["approval_required", "done"]
    script.script.add(Reply(text="Refunded, streamed."))
    paused = {"session_id": done["session_id"], "turn_id": done["turn_id"]}
    resumed = decide(host, paused, {"id": approval["id"], "approved": True}, stream=True)
    assert resumed.status_code == 200 and resumed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(resumed.text)
    names = [name for name, _ in events]
    assert "tool_result" in names and names[-1] == "done", names
    assert "".join(d["text"] for n, d in events if n == "text_delta") == "Refunded, streamed."
    assert events[-1][1]["response"]["status"] == "success"
    assert ledger(state) == ["refund A1 240"]
    # A refused decision is answered as JSON before any stream starts.
    again = decide(host, paused, {"id": approval["id"], "approved": True}, stream=True)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/json")


def test_a_decision_after_a_host_restart(model: OpenAIServer, tmp_path: Path) -> None:
    env = app_env(model.base_url, model.api_key, tmp_path)
    model.script.clear()
    with LocalHostProcess(APPROVALS_APP, env=env) as first:
        model.script.add(Reply(tool_calls=[LOOKUP, REFUND]))
        paused = chat(first, "Refund order A1 please", user_id="ana").json()
        assert paused["status"] == "awaiting_approval"
    with LocalHostProcess(APPROVALS_APP, env=env) as second:  # a new process over the same SQLite file
        model.script.add(Reply(text="Refunded after the restart."))
        resumed = decide(second, paused, {"id": paused["approvals"][0]["id"], "approved": True})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["response"] == "Refunded after the restart."
    assert ledger(tmp_path) == ["lookup A1", "refund A1 240"]


def test_an_expired_approval_is_410_and_the_session_moves_on(model: OpenAIServer, tmp_path: Path) -> None:
    env = app_env(model.base_url, model.api_key, tmp_path, AGENTS_APPROVAL_TIMEOUT_SECONDS="1")
    model.script.clear()
    with LocalHostProcess(APPROVALS_APP, env=env) as host:
        model.script.add(Reply(tool_calls=[REFUND]))
        paused = chat(host, "Refund order A1 please", user_id="ana").json()
        assert paused["status"] == "awaiting_approval"
        time.sleep(1.5)
        late = decide(host, paused, {"id": paused["approvals"][0]["id"], "approved": True})
        assert late.status_code == 410, late.text
        assert error_code(late) == "approval_expired"
        model.script.add(Reply(text="How else can I help?"))
        calls_before = model.script.calls
        following = chat(host, "Never mind", user_id="ana", session_id=paused["session_id"])
        assert following.status_code == 200, following.text
        assert following.json()["response"] == "How else can I help?"
        assert model.script.calls == calls_before + 1  # closing the expired turn asked the model nothing
        tools = [m for m in model.script.requests[-1]["messages"] if m.get("role") == "tool"]
        assert len(tools) == 1 and "expired" in tools[0]["content"]
    assert ledger(tmp_path) == []


def test_under_entra_only_the_principal_who_asked_decides(model: OpenAIServer, tmp_path: Path) -> None:
    """App Service Authentication on: the principal replaces ``user_id`` (http/guard.py), so a decision sent by
    another principal, or with the owner's id forged as ``user_id``, finds no turn (404)."""
    from azurefunctions.agents.http.auth import encode_principal

    # The tenant, audience and client the test app trusts (apps/approvals/function_app.py).
    tenant, audience, client = ("11111111-2222-3333-4444-555555555555", "api://agents-approvals-test",
                                "aaaaaaaa-0000-0000-0000-000000000001")

    def principal(oid: str) -> dict[str, str]:
        claims = [("http://schemas.microsoft.com/identity/claims/objectidentifier", oid),
                  ("http://schemas.microsoft.com/identity/claims/tenantid", tenant), ("aud", audience),
                  ("azp", client)]
        return {"x-ms-client-principal": encode_principal(claims), "x-ms-client-principal-id": oid,
                "x-ms-client-principal-idp": "aad"}

    alice, bob = "0a11ce00-0000-4000-8000-000000000001", "0b0b0000-0000-4000-8000-000000000002"
    env = app_env(model.base_url, model.api_key, tmp_path, APPROVALS_ENTRA="1", WEBSITE_AUTH_ENABLED="True")
    model.script.clear()
    with LocalHostProcess(APPROVALS_APP, env=env) as host:
        model.script.add(Reply(tool_calls=[REFUND]))
        paused = chat(host, "Refund order A1 please", user_id="mallory", headers=principal(alice)).json()
        assert paused["status"] == "awaiting_approval", paused
        decision = {"id": paused["approvals"][0]["id"], "approved": True}
        assert decide(host, paused, decision, user_id=None).status_code == 401  # no principal at all
        for forged in (alice, "mallory", None):
            refused = decide(host, paused, decision, user_id=forged, headers=principal(bob))
            assert refused.status_code == 404 and error_code(refused) == "turn_not_found", refused.text
        assert ledger(tmp_path) == []
        model.script.add(Reply(text="Refunded for Alice."))
        resumed = decide(host, paused, decision, user_id="bob", headers=principal(alice))
        assert resumed.status_code == 200 and resumed.json()["response"] == "Refunded for Alice.", resumed.text
    assert ledger(tmp_path) == ["refund A1 240"]


def test_the_readme_declaration_makes_a_policy_guarded_non_repeatable_tool() -> None:
    """The README's "Human approval of tool calls" snippet, run as it is written."""
    import re

    from azurefunctions.agents import Agent
    from azurefunctions.agents.tools import ToolContext
    from azurefunctions.agents.types import LLMConfig

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Human approval of tool calls", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    agent = Agent(name="RefundDesk", instructions="Refunds.", llm_config=LLMConfig(provider="offline"))
    exec(code, {"agent": agent})  # noqa: S102 - the README's own code
    [tool] = agent.tools
    context = ToolContext(agent_name="RefundDesk")
    assert tool.name == "refund_order" and tool.repeatable is False
    assert callable(tool.needs_approval)
    assert tool.needs_approval({"order_id": "A1", "amount": 120}, context) is True
    assert tool.needs_approval({"order_id": "A1", "amount": 20}, context) is False


def test_deciding_one_of_two_keeps_waiting_for_the_other(host: LocalHostProcess, script: OpenAIServer,
                                                         state: Path) -> None:
    second_refund = ScriptedToolCall("refund", {"order_id": "B2", "amount": 300})
    paused = pause(host, script, REFUND, second_refund)
    first, second = paused["approvals"]
    assert [a["arguments"]["order_id"] for a in (first, second)] == ["A1", "B2"]
    partly = decide(host, paused, {"id": first["id"], "approved": True})
    assert partly.status_code == 200, partly.text
    body = partly.json()
    assert body["status"] == "awaiting_approval" and body["turn_id"] == paused["turn_id"]
    assert [a["id"] for a in body["approvals"] if a["status"] == "pending"] == [second["id"]]
    assert ledger(state) == []  # nothing runs before every call of the answer is decided
    script.script.add(Reply(text="Refunded A1; B2 was not approved."))
    done = decide(host, paused, {"id": second["id"], "approved": False})
    assert done.json()["response"] == "Refunded A1; B2 was not approved."
    assert ledger(state) == ["refund A1 240"]
    results = tool_messages(script)
    assert results[0] == "refunded 240 EUR on A1" and "did not approve" in results[1]


async def test_over_mcp_a_paused_turn_names_its_decision_route(host: LocalHostProcess, script: OpenAIServer,
                                                               state: Path) -> None:
    """The app's agents as MCP tools (the official ``mcp`` client over streamable HTTP): a turn that pauses is a
    tool error saying what waits and where the session's owner decides, not a generic failure."""
    from mcp import Client

    script.script.add(Reply(tool_calls=[REFUND]))
    async with Client(f"{host.url}/api/mcp", cache=None) as client:
        result = await client.call_tool("Refunds", {"message": "Refund order A1 please"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "waits for a person's approval" in text and "Refund 240 EUR on A1" in text
    found = re.search(r"POST (/api/sessions/([^/]+)/turns/([^/]+)/approvals)", text)
    assert found is not None, text
    assert ledger(state) == []
    approvals = httpx.post(f"{host.url}/api/agents/Refunds/chat", timeout=30, json={
        "message": "Hello?", "session_id": found.group(2)}).json()
    assert approvals["turn_id"] == found.group(3) and approvals["approvals_url"] == found.group(1)
