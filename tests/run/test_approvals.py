"""Approvals at the Runner: a tool call that needs a person's approval pauses the turn; ``Runner.resume`` with the
decisions continues it by replay (the model is not asked again for what it answered, tools that ran do not run
again), on the memory store, on a SQLite file reopened by another runner, and on Cosmos DB."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from azurefunctions.agents import Agent, ApprovalDecision, FunctionTool, Runner
from azurefunctions.agents.errors import (
    ApprovalDecidedError,
    ApprovalExpiredError,
    ApprovalNotFoundError,
    InvalidRequestError,
    TurnNotAwaitingApprovalError,
    TurnNotFoundError,
)
from azurefunctions.agents.events import ApprovalRequired, TextDelta, ToolCallCompleted, TurnCompleted
from azurefunctions.agents.run.journal import TurnJournal
from azurefunctions.agents.sessions import MemorySessionStore, SessionStore
from azurefunctions.agents.types import LLMConfig
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall
from tests.sessions.conftest import Backend, CosmosTarget


class Ledger:
    """What the tools did, as the systems they call would see it."""

    def __init__(self) -> None:
        self.refunds: list[dict[str, Any]] = []
        self.lookups: list[int] = []

    def tools(self, **refund_options: Any) -> list[FunctionTool]:
        async def refund(order: int, amount: float) -> str:
            """Refund an order."""
            self.refunds.append({"order": order, "amount": amount})
            return f"refunded {amount} on order {order}"

        async def lookup(order: int) -> str:
            """Look an order up."""
            self.lookups.append(order)
            return f"order {order}: shipped"

        options = {"needs_approval": True, **refund_options}
        return [FunctionTool(refund, **options), FunctionTool(lookup)]


def agent_for(model: OpenAIServer, tools: list[Any], name: str = "Refunds") -> Agent:
    config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=model.api_key, base_url=model.base_url,
                       max_retries=0)
    return Agent(name=name, instructions="You handle refunds.", tools=tools, llm_config=config)


def refund_call(order: int = 7, amount: float = 30.0) -> ScriptedToolCall:
    return ScriptedToolCall("refund", {"order": order, "amount": amount})


def tool_messages(request: dict[str, Any]) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


async def test_a_call_that_needs_approval_pauses_the_turn_and_runs_once_approved(
        model: OpenAIServer, script: Script) -> None:
    ledger, store = Ledger(), MemorySessionStore()
    runner = Runner(agent_for(model, ledger.tools()), session_store=store)
    script.add(Reply(tool_calls=[refund_call()]), Reply(text="Order 7 was refunded."))
    paused = await runner.run({"message": "refund order 7", "session_id": "s-1", "user_id": "ana"})
    assert paused.status == "awaiting_approval" and paused.turn_id
    [approval] = paused.approvals
    assert {k: approval[k] for k in ("agent", "tool", "arguments", "kind", "status", "reason")} == {
        "agent": "Refunds", "tool": "refund", "arguments": {"order": 7, "amount": 30.0}, "kind": "approval",
        "status": "pending", "reason": "Refunds wants to call refund"}
    assert len(approval["id"]) >= 32 and approval["expires_at"] > approval["created_at"]
    assert paused.to_dict()["approvals"][0]["id"] == approval["id"]
    assert ledger.refunds == [] and script.calls == 1
    assert await store.load("s-1") is None  # nothing of the paused turn is in the conversation yet
    retry = await runner.run({"message": "refund order 7", "session_id": "s-1", "user_id": "ana",
                              "turn_id": paused.turn_id})
    assert retry.status == "awaiting_approval" and [a["id"] for a in retry.approvals] == [approval["id"]]
    assert script.calls == 1  # a retry of the paused turn gets the same pause

    resumed = await runner.resume("s-1", paused.turn_id, [ApprovalDecision(id=approval["id"], approved=True)],
                                  user_id="ana")
    assert resumed.status == "success" and resumed.response == "Order 7 was refunded."
    assert resumed.turn_id == paused.turn_id
    assert ledger.refunds == [{"order": 7, "amount": 30.0}]
    assert script.calls == 2  # the answer that asked for the refund was not asked for again
    assert tool_messages(script.requests[1]) == ["refunded 30.0 on order 7"]
    assert resumed.usage.input_tokens == 22  # both model calls of the turn, each counted once
    session = await store.load("s-1")
    assert session is not None
    assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]
    journal = TurnJournal.for_store(store)
    assert journal is not None
    steps = await journal.steps("s-1", paused.turn_id or "")
    assert [s.type for s in steps] == ["model", "decision", "tool", "model"]
    assert {k: steps[1].body[k] for k in ("approval_id", "approved", "decided_by")} == {
        "approval_id": approval["id"], "approved": True, "decided_by": "ana"}

    with pytest.raises(ApprovalDecidedError) as second:  # a decision is accepted once
        await runner.resume("s-1", paused.turn_id, [{"id": approval["id"], "approved": False}], user_id="ana")
    assert second.value.status == 409 and second.value.code == "approval_decided"
    again = await runner.run({"message": "refund order 7", "session_id": "s-1", "user_id": "ana",
                              "turn_id": paused.turn_id})
    assert again.response == "Order 7 was refunded." and script.calls == 2  # a retry gets the answer


async def test_a_rejected_call_goes_back_to_the_model_as_a_refusal_it_explains(
        model: OpenAIServer, script: Script) -> None:
    ledger = Ledger()
    runner = Runner(agent_for(model, ledger.tools()), session_store=MemorySessionStore())
    script.add(Reply(tool_calls=[refund_call(amount=900)]),
                      Reply(text="I could not refund order 7: the refund was not approved (too large)."))
    paused = await runner.run({"message": "refund order 7", "session_id": "s-2", "user_id": "ana"})
    decision = {"id": paused.approvals[0]["id"], "approved": False, "message": "too large"}
    answered = await runner.resume("s-2", paused.turn_id, [decision], user_id="ana")
    assert answered.status == "success" and "not approved" in (answered.response or "")
    assert ledger.refunds == []
    assert tool_messages(script.requests[1]) == ["The user did not approve this call. Their message: too large"]
    assert answered.tool_calls[0].is_error


async def test_in_a_mixed_answer_the_call_without_approval_runs_once(model: OpenAIServer, script: Script) -> None:
    ledger = Ledger()
    runner = Runner(agent_for(model, ledger.tools()), session_store=MemorySessionStore())
    script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"order": 7}), refund_call()]),
                      Reply(text="Looked up and refunded."))
    paused = await runner.run({"message": "check and refund order 7", "session_id": "s-3"})
    assert paused.status == "awaiting_approval" and [a["tool"] for a in paused.approvals] == ["refund"]
    assert ledger.lookups == [7] and ledger.refunds == []
    assert [c.name for c in paused.tool_calls] == ["lookup"]  # what ran before the pause
    answered = await runner.resume("s-3", paused.turn_id, [{"id": paused.approvals[0]["id"], "approved": True}])
    assert answered.response == "Looked up and refunded."
    assert ledger.lookups == [7] and len(ledger.refunds) == 1  # the lookup did not run a second time
    assert tool_messages(script.requests[1]) == ["order 7: shipped", "refunded 30.0 on order 7"]
    assert [c.name for c in answered.tool_calls] == ["lookup", "refund"]


async def test_a_policy_sees_the_arguments_and_the_context(model: OpenAIServer, script: Script) -> None:
    ledger = Ledger()
    seen: list[dict[str, Any]] = []

    def over_limit(args: dict[str, Any], ctx: Any) -> bool:
        seen.append(dict(ctx.context))
        return bool(args["amount"] > ctx.context.get("limit", 100))

    tools = ledger.tools(needs_approval=over_limit,
                         approval_reason=lambda args, ctx: f"Refund of {args['amount']} on order {args['order']}")
    runner = Runner(agent_for(model, tools), session_store=MemorySessionStore())
    script.add(Reply(tool_calls=[refund_call(amount=30)]), Reply(text="Done."))
    small = await runner.run({"message": "refund 30", "session_id": "s-4", "context": {"limit": 50}})
    assert small.status == "success" and ledger.refunds == [{"order": 7, "amount": 30}]
    script.add(Reply(tool_calls=[refund_call(amount=300)]))
    large = await runner.run({"message": "refund 300", "session_id": "s-4", "context": {"limit": 50}})
    assert large.status == "awaiting_approval"
    assert large.approvals[0]["reason"] == "Refund of 300 on order 7"
    assert seen == [{"limit": 50}, {"limit": 50}] and len(ledger.refunds) == 1


async def test_only_the_owner_decides_and_bad_decisions_get_clear_errors(model: OpenAIServer, script: Script) -> None:
    runner = Runner(agent_for(model, Ledger().tools()), session_store=MemorySessionStore())
    script.add(Reply(tool_calls=[refund_call()]))
    paused = await runner.run({"message": "refund", "session_id": "s-5", "user_id": "ana"})
    approval_id = paused.approvals[0]["id"]
    with pytest.raises(TurnNotFoundError) as other:  # another user: as if the turn did not exist
        await runner.resume("s-5", paused.turn_id, [{"id": approval_id, "approved": True}], user_id="eve")
    assert other.value.status == 404 and other.value.code == "turn_not_found"
    with pytest.raises(TurnNotFoundError):
        await runner.resume("s-5", "no-such-turn", [{"id": approval_id, "approved": True}], user_id="ana")
    with pytest.raises(TurnNotFoundError):  # the right turn in another session
        await runner.resume("s-other", paused.turn_id, [{"id": approval_id, "approved": True}], user_id="ana")
    with pytest.raises(ApprovalNotFoundError) as unknown:
        await runner.resume("s-5", paused.turn_id, [{"id": "nope", "approved": True}], user_id="ana")
    assert unknown.value.status == 404 and unknown.value.code == "approval_not_found"
    with pytest.raises(InvalidRequestError, match="arguments"):  # a decision cannot change the call
        await runner.resume("s-5", paused.turn_id, [{"id": approval_id, "approved": True, "arguments": {}}],
                            user_id="ana")
    with pytest.raises(InvalidRequestError, match="approved"):
        await runner.resume("s-5", paused.turn_id, [{"id": approval_id, "approved": "yes"}], user_id="ana")
    assert script.calls == 1  # none of these ran anything


async def test_a_new_message_waits_for_the_decision_until_the_approvals_expire(
        model: OpenAIServer, script: Script, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_APPROVAL_TIMEOUT_SECONDS", "1")
    ledger, store = Ledger(), MemorySessionStore()
    runner = Runner(agent_for(model, ledger.tools()), session_store=store)
    script.add(Reply(tool_calls=[refund_call()]))
    paused = await runner.run({"message": "refund order 7", "session_id": "s-6", "user_id": "ana"})
    blocked = await runner.run({"message": "hello?", "session_id": "s-6", "user_id": "ana"})
    assert blocked.status == "error" and blocked.error_code == "approval_pending" and blocked.status_code == 409
    assert paused.turn_id in (blocked.error or "")  # the HTTP layer adds the decision URL (tests/hosting)
    pending = blocked.to_dict()["pending_turn"]
    assert pending["turn_id"] == paused.turn_id and pending["session_id"] == "s-6"
    assert [a["id"] for a in pending["approvals"]] == [paused.approvals[0]["id"]]
    assert script.calls == 1
    await asyncio.sleep(1.2)
    with pytest.raises(ApprovalExpiredError) as late:
        await runner.resume("s-6", paused.turn_id, [{"id": paused.approvals[0]["id"], "approved": True}],
                            user_id="ana")
    assert late.value.status == 410
    script.add(Reply(text="Hello again."))
    answered = await runner.run({"message": "hello?", "session_id": "s-6", "user_id": "ana"})
    assert answered.status == "success" and answered.response == "Hello again."
    assert script.calls == 2 and ledger.refunds == []  # the paused turn was closed without the model
    session = await store.load("s-6")
    assert session is not None
    assert [(m.role, m.content) for m in session.messages if m.role != "assistant"] == [
        ("user", "refund order 7"), ("tool", "The user did not approve this call: the approval expired."),
        ("user", "hello?")]
    with pytest.raises(ApprovalExpiredError):
        await runner.resume("s-6", paused.turn_id, [{"id": paused.approvals[0]["id"], "approved": True}],
                            user_id="ana")


async def test_decisions_for_some_approvals_keep_the_turn_waiting_for_the_rest(
        model: OpenAIServer, script: Script) -> None:
    ledger = Ledger()
    runner = Runner(agent_for(model, ledger.tools()), session_store=MemorySessionStore())
    script.add(Reply(tool_calls=[refund_call(order=1), refund_call(order=2)]), Reply(text="One refunded."))
    paused = await runner.run({"message": "refund 1 and 2", "session_id": "s-7"})
    first, second = paused.approvals
    partial = await runner.resume("s-7", paused.turn_id, [{"id": first["id"], "approved": True}])
    assert partial.status == "awaiting_approval" and [a["id"] for a in partial.approvals] == [second["id"]]
    assert ledger.refunds == [] and script.calls == 1
    done = await runner.resume("s-7", paused.turn_id, [{"id": second["id"], "approved": False}])
    assert done.response == "One refunded." and ledger.refunds == [{"order": 1, "amount": 30.0}]
    script.add(Reply(text="Hi."))
    finished = await runner.run({"message": "hi", "session_id": "s-7b", "turn_id": "plain-turn"})
    assert finished.status == "success"
    with pytest.raises(TurnNotAwaitingApprovalError) as not_waiting:
        await runner.resume("s-7b", "plain-turn", [{"id": "x", "approved": True}])
    assert not_waiting.value.status == 409 and not_waiting.value.code == "turn_not_awaiting_approval"


async def test_the_stream_shows_the_pause_and_the_resumed_turn(model: OpenAIServer, script: Script) -> None:
    ledger = Ledger()
    runner = Runner(agent_for(model, ledger.tools()), session_store=MemorySessionStore())
    script.add(Reply(tool_calls=[refund_call()]), Reply(text="Refunded."))
    events = [e async for e in runner.run_stream({"message": "refund", "session_id": "s-8"})]
    assert [e.type for e in events[-2:]] == ["approval_required", "done"]
    pause = events[-2]
    assert isinstance(pause, ApprovalRequired) and pause.approvals[0]["tool"] == "refund"
    done = events[-1]
    assert isinstance(done, TurnCompleted) and done.response.status == "awaiting_approval"
    resumed = [e async for e in runner.resume_stream("s-8", pause.turn_id,
                                                     [ApprovalDecision(id=pause.approvals[0]["id"], approved=True)])]
    assert [e.name for e in resumed if isinstance(e, ToolCallCompleted)] == ["refund"]
    assert "".join(e.text for e in resumed if isinstance(e, TextDelta)).endswith("Refunded.")
    final = resumed[-1]
    assert isinstance(final, TurnCompleted) and final.response.response == "Refunded."
    assert len(ledger.refunds) == 1


async def _pause_and_resume_elsewhere(model: OpenAIServer, script: Script, first: SessionStore, second: SessionStore,
                                      session_id: str) -> None:
    ledger = Ledger()
    script.add(Reply(tool_calls=[refund_call()]), Reply(text="Refunded after approval."))
    paused = await Runner(agent_for(model, ledger.tools()), session_store=first).run(
        {"message": "refund order 7", "session_id": session_id, "user_id": "ana"})
    assert paused.status == "awaiting_approval"
    # Another instance: a new agent object, runner and store object over the same data.
    other = Runner(agent_for(model, ledger.tools()), session_store=second)
    answered = await other.resume(session_id, paused.turn_id or "",
                                  [{"id": paused.approvals[0]["id"], "approved": True}], user_id="ana")
    assert answered.status == "success" and answered.response == "Refunded after approval."
    assert len(ledger.refunds) == 1 and script.calls == 2
    session = await second.load(session_id)
    assert session is not None and [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]


async def test_a_turn_paused_on_one_instance_is_resumed_on_another_with_sqlite(
        model: OpenAIServer, script: Script, tmp_path: Path) -> None:
    pytest.importorskip("aiosqlite")
    from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

    first, second = SqliteSessionStore(tmp_path / "state.sqlite3"), SqliteSessionStore(tmp_path / "state.sqlite3")
    try:
        await _pause_and_resume_elsewhere(model, script, first, second, "s-sqlite")
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_turn_paused_on_one_instance_is_resumed_on_another_with_cosmos_db(
        model: OpenAIServer, script: Script, cosmos: CosmosTarget, tmp_path: Path) -> None:
    backend = Backend("cosmos", tmp_path, cosmos)
    try:
        await _pause_and_resume_elsewhere(model, script, backend.make(), backend.make(),
                                          "s-cosmos-" + tmp_path.name[-8:])
    finally:
        for store in backend.created:
            await store.aclose()


async def test_a_turn_paused_after_a_handoff_resumes_in_the_agent_it_was_handed_to(
        model: OpenAIServer, script: Script) -> None:
    from azurefunctions.agents import AgentFunctionApp
    from azurefunctions.agents.handoff import HandoffConfig, HandoffMode, HandoffTarget

    ledger = Ledger()
    config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=model.api_key,
                       base_url=model.base_url, max_retries=0)
    triage = Agent(name="Triage", instructions="You route requests.", llm_config=config,
                   handoff_config=HandoffConfig(mode=HandoffMode.SWARM,
                                                targets=[HandoffTarget(agent_name="Refunds")]))
    refunds = Agent(name="Refunds", instructions="You handle refunds.", llm_config=config, tools=ledger.tools())
    store = MemorySessionStore()
    app = AgentFunctionApp(agents=[triage, refunds], create_triggers=False, session_store=store)
    script.add_for("You route", Reply(tool_calls=[ScriptedToolCall("transfer_to_Refunds", {"reason": "$"})]))
    script.add_for("You handle refunds", Reply(tool_calls=[refund_call()]), Reply(text="Refunded by us."))
    paused = await app.runners["Triage"].run({"message": "refund order 7", "session_id": "s-hand"})
    assert paused.status == "awaiting_approval" and paused.approvals[0]["agent"] == "Refunds"
    assert script.calls == 2
    done = await app.runners["Triage"].resume("s-hand", paused.turn_id or "",
                                              [{"id": paused.approvals[0]["id"], "approved": True}])
    assert done.response == "Refunded by us." and done.agent == "Refunds"
    assert done.handoff_path == ["Triage", "Refunds"] and len(ledger.refunds) == 1
    assert script.calls == 3  # the transfer and the refund request came from the journal
    session = await store.load("s-hand")
    assert session is not None and session.active_agent == "Refunds"


async def test_a_store_that_keeps_no_turn_state_never_runs_a_call_that_needs_approval(
        model: OpenAIServer, script: Script) -> None:
    class NoDocuments(MemorySessionStore):
        def documents(self) -> None:  # type: ignore[override]
            return None

    ledger = Ledger()
    runner = Runner(agent_for(model, ledger.tools()), session_store=NoDocuments())
    script.add(Reply(tool_calls=[refund_call()]))
    failed = await runner.run({"message": "refund order 7", "session_id": "s-none"})
    assert failed.status == "error" and failed.error_code == "configuration_error"
    assert "needs a person's approval" in (failed.error or "") and ledger.refunds == []
    script.add(Reply(tool_calls=[ScriptedToolCall("lookup", {"order": 7})]), Reply(text="Shipped."))
    plain = await runner.run({"message": "where is order 7?", "session_id": "s-none"})
    assert plain.response == "Shipped." and ledger.lookups == [7]  # other tools run as before


async def test_a_resumed_turn_can_pause_again_for_the_next_call(model: OpenAIServer, script: Script) -> None:
    ledger = Ledger()
    runner = Runner(agent_for(model, ledger.tools()), session_store=MemorySessionStore())
    script.add(Reply(tool_calls=[refund_call(order=1)]), Reply(tool_calls=[refund_call(order=2)]),
                      Reply(text="Both refunded."))
    first = await runner.run({"message": "refund 1 then 2", "session_id": "s-twice"})
    second = await runner.resume("s-twice", first.turn_id or "", [{"id": first.approvals[0]["id"], "approved": True}])
    assert second.status == "awaiting_approval" and second.turn_id == first.turn_id
    assert second.approvals[0]["arguments"]["order"] == 2 and second.approvals[0]["id"] != first.approvals[0]["id"]
    assert [r["order"] for r in ledger.refunds] == [1]
    done = await runner.resume("s-twice", first.turn_id or "", [{"id": second.approvals[0]["id"], "approved": True}])
    assert done.response == "Both refunded." and [r["order"] for r in ledger.refunds] == [1, 2]
    assert script.calls == 3


async def test_an_async_policy_decides_and_a_failing_policy_asks_for_approval(
        model: OpenAIServer, script: Script) -> None:
    ledger = Ledger()

    async def ask_directory(args: dict[str, Any], ctx: Any) -> bool:
        await asyncio.sleep(0)
        return bool(args["order"] == 13)

    def broken(args: dict[str, Any], ctx: Any) -> bool:
        raise RuntimeError("directory down")

    runner = Runner(agent_for(model, ledger.tools(needs_approval=ask_directory)), session_store=MemorySessionStore())
    script.add(Reply(tool_calls=[refund_call(order=12)]), Reply(text="ok"),
                      Reply(tool_calls=[refund_call(order=13)]))
    assert (await runner.run({"message": "refund 12", "session_id": "s-p1"})).status == "success"
    assert (await runner.run({"message": "refund 13", "session_id": "s-p2"})).status == "awaiting_approval"
    guarded = Runner(agent_for(model, ledger.tools(needs_approval=broken)), session_store=MemorySessionStore())
    script.add(Reply(tool_calls=[refund_call(order=14)]))
    assert (await guarded.run({"message": "refund 14", "session_id": "s-p3"})).status == "awaiting_approval"
    assert [r["order"] for r in ledger.refunds] == [12]
