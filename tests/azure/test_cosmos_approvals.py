"""A turn waiting for approval kept in Cosmos DB: paused on one host process, decided on another.

The stack of tests/azure/test_cosmos_host.py (``@vercel/cosmosdb-server`` over HTTPS reached by the real
``azure-cosmos`` SDK with a managed-identity token, Azurite, the scripted model) serves the approvals test app
(tests/hosting/apps/approvals). The second host shares nothing with the first but the Cosmos DB container:
the decision finds the paused turn there, and the journal's documents are in the session's partition.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.azure.test_cosmos_host import Stack, host_env, read_items, stack
from tests.hosting.approval_helpers import APPROVALS_APP, ledger
from tests.servers.localhost import LocalHostProcess
from tests.servers.scripted import Reply, ScriptedToolCall

__all__ = ["stack"]


def test_a_turn_paused_on_one_host_is_approved_on_another(stack: Stack, tmp_path: Path) -> None:
    stack.model.script.clear()
    env = {**host_env(stack, tmp_path), "APPROVALS_LEDGER": str(tmp_path / "ledger.txt")}
    stack.model.script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"order_id": "D4"}),
                                             ScriptedToolCall("refund", {"order_id": "D4", "amount": 180})]))
    with LocalHostProcess(APPROVALS_APP, env=env) as first:
        paused = httpx.post(f"{first.url}/api/agents/Refunds/chat", timeout=30,
                            json={"message": "Refund D4", "user_id": "ana"}).json()
    assert paused["status"] == "awaiting_approval", paused
    assert ledger(tmp_path) == ["lookup D4"]
    items = asyncio.run(read_items(stack.cosmos.endpoint, stack.identity, paused["session_id"]))
    assert f"turnstate:{paused['turn_id']}" in {item["id"] for item in items}
    stack.model.script.add(Reply(text="Refunded D4 from Cosmos DB."))
    with LocalHostProcess(APPROVALS_APP, env=env) as second:
        url = f"{second.url}/api/sessions/{paused['session_id']}/turns/{paused['turn_id']}/approvals"
        decision = {"decisions": [{"id": paused["approvals"][0]["id"], "approved": True}]}
        assert httpx.post(url, params={"user_id": "bob"}, json=decision, timeout=30).status_code == 404
        resumed = httpx.post(url, params={"user_id": "ana"}, json=decision, timeout=30)
        again = httpx.post(url, params={"user_id": "ana"}, json=decision, timeout=30)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["response"] == "Refunded D4 from Cosmos DB."
    assert again.status_code == 409
    assert ledger(tmp_path) == ["lookup D4", "refund D4 180"]
    assert not (tmp_path / "must-not-exist.sqlite3").exists()
