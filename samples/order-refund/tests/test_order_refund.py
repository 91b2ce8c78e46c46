"""RefundDesk served by the local host: the README's curl walkthrough over HTTP, with the scripted model.

A refund over 50 EUR waits for approval; a look-up and a small refund run at once; approving runs the refund
once, rejecting answers the model with the reviewer's message; the README's other promises (409 while waiting,
second decision, another user, SSE) hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[1]
README = (SAMPLE / "README.md").read_text(encoding="utf-8")
LOOKUP = ScriptedToolCall("lookup_order", {"order_id": "A1001"})


@pytest.fixture(scope="module")
def desk(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("refunds") / "s.sqlite3")}
    with LocalHostProcess(SAMPLE, env=env) as host:
        yield host


def ask(host: LocalHostProcess, amount: float, order: str = "A1001", **extra: Any) -> httpx.Response:
    return httpx.post(f"{host.url}/api/agents/RefundDesk/chat", timeout=30, json={
        "message": f"Please refund the {amount:g} EUR of order {order}", "user_id": "ana", **extra})


def decide(host: LocalHostProcess, paused: dict[str, Any], approved: bool, message: str | None = None,
           user_id: str = "ana") -> httpx.Response:
    decision: dict[str, Any] = {"id": paused["approvals"][0]["id"], "approved": approved}
    if message:
        decision["message"] = message
    return httpx.post(f"{host.url}/api/sessions/{paused['session_id']}/turns/{paused['turn_id']}/approvals",
                      params={"user_id": user_id}, json={"decisions": [decision]}, timeout=30)


def refund_call(amount: float, order: str = "A1001") -> ScriptedToolCall:
    return ScriptedToolCall("refund_order", {"order_id": order, "amount": amount})


def test_the_walkthrough_ask_see_the_pending_approval_approve_and_get_the_answer(
        desk: LocalHostProcess, script: Script) -> None:
    assert "api/sessions/$SESSION/turns/$TURN/approvals?user_id=ana" in README
    script.add(Reply(tool_calls=[LOOKUP, refund_call(120)]))
    paused = ask(desk, 120)
    assert paused.status_code == 200, paused.text
    body = paused.json()
    assert body["status"] == "awaiting_approval" and body["turn_id"]
    [approval] = body["approvals"]
    assert (approval["tool"], approval["arguments"], approval["status"]) == (
        "refund_order", {"order_id": "A1001", "amount": 120}, "pending")
    assert approval["reason"] == "Refund 120.00 EUR on order A1001."
    assert [call["name"] for call in body["tool_calls"]] == ["lookup_order"]  # ran at once
    blocked = ask(desk, 5, session_id=body["session_id"])
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "approval_pending"
    assert blocked.json()["approvals_url"].endswith(f"/turns/{body['turn_id']}/approvals")
    assert decide(desk, body, True, user_id="ben").status_code == 404
    script.add(Reply(text="Done: 120.00 EUR were refunded on order A1001 (running shoes)."))
    approved = decide(desk, body, True)
    assert approved.status_code == 200, approved.text
    assert approved.json()["response"] == "Done: 120.00 EUR were refunded on order A1001 (running shoes)."
    tools = [m["content"] for m in script.requests[-1]["messages"] if m.get("role") == "tool"]
    assert tools[-1] == "Refunded 120.00 EUR on A1001 (running shoes)."
    again = decide(desk, body, False)
    assert again.status_code == 409


def test_the_reject_path_the_model_explains_and_nothing_is_refunded(desk: LocalHostProcess,
                                                                    script: Script) -> None:
    script.add(Reply(tool_calls=[refund_call(200, "B2001")]))
    paused = ask(desk, 200, "B2001").json()
    assert paused["status"] == "awaiting_approval"
    script.add(Reply(text="Sorry, the refund was not approved; we offer a 20 EUR voucher instead."))
    rejected = decide(desk, paused, False, "Offer a 20 EUR voucher instead.")
    assert rejected.status_code == 200, rejected.text
    assert "voucher" in rejected.json()["response"]
    [refusal] = [m["content"] for m in script.requests[-1]["messages"] if m.get("role") == "tool"]
    assert "did not approve" in refusal and "Offer a 20 EUR voucher instead." in refusal
    # The order was not refunded: a look-up shows nothing refunded on B2001.
    script.add(Reply(tool_calls=[ScriptedToolCall("lookup_order", {"order_id": "B2001"})]),
                      Reply(text="checked"))
    ask(desk, 1, "B2001", session_id=paused["session_id"])
    looked = [m["content"] for m in script.requests[-1]["messages"] if m.get("role") == "tool"][-1]
    assert looked.endswith("refunded so far 0.00 EUR.")


def test_a_small_refund_runs_without_approval(desk: LocalHostProcess, script: Script) -> None:
    script.add(Reply(tool_calls=[refund_call(12, "A1002")]), Reply(text="Refunded the socks."))
    body = ask(desk, 12, "A1002").json()
    assert body["status"] == "success" and body["response"] == "Refunded the socks."
    assert body["tool_calls"][0]["result"] == "Refunded 12.00 EUR on A1002 (socks)."


def test_over_sse_the_stream_ends_with_approval_required_then_done(desk: LocalHostProcess,
                                                                    script: Script) -> None:
    script.add(Reply(tool_calls=[refund_call(100, "B2001")]))
    streamed = ask(desk, 100, "B2001", stream=True)
    names = [line[6:].strip() for line in streamed.text.splitlines() if line.startswith("event:")]
    assert names[-2:] == ["approval_required", "done"], names
    done = json.loads([line for line in streamed.text.splitlines() if line.startswith("data:")][-1][5:])
    assert done["response"]["status"] == "awaiting_approval"
