"""Crash-safe turns at the Runner: a turn run again with its id (a client's retry, another worker taking over
after the first stopped) replays its journal. Completed model calls are not made again (the scripted model counts
its requests), completed tools do not run again, a non-repeatable tool that was interrupted runs again only with
its idempotency key, or waits for a person. The stops are simulated in process: a ``BaseException`` that no
handler of the runtime catches leaves the journal as a killed worker would (its lease running out)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from azurefunctions.agents import Agent, FunctionTool, Runner
from azurefunctions.agents.sessions import MemorySessionStore
from azurefunctions.agents.tools.base import ToolContext
from azurefunctions.agents.types import LLMConfig
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall
from tests.sessions.conftest import Backend


class WorkerStopped(BaseException):
    """The worker stops here (as under SIGKILL: no handler runs, no step is written)."""


@pytest.fixture(autouse=True)
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_TURN_LEASE_SECONDS", "1")


def agent_for(model: OpenAIServer, tools: list[Any], **options: Any) -> Agent:
    config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=model.api_key, base_url=model.base_url,
                       max_retries=0)
    return Agent(name="Orders", instructions="You handle orders.", tools=tools, llm_config=config, **options)


async def lease_lapses() -> None:
    await asyncio.sleep(1.1)


async def test_a_retry_with_the_turn_id_gets_the_answer_without_a_second_run(script: OpenAIServer) -> None:
    runs: list[int] = []

    def charge(amount: int) -> str:
        """Charge the card."""
        runs.append(amount)
        return "charged"

    runner = Runner(agent_for(script, [charge]), session_store=MemorySessionStore())
    script.script.add(Reply(tool_calls=[ScriptedToolCall("charge", {"amount": 5})]), Reply(text="Charged 5."))
    request = {"message": "charge 5", "turn_id": "order-5-charge", "user_id": "ana"}
    first = await runner.run(request)
    again = await runner.run(request)
    assert first.response == again.response == "Charged 5." and first.turn_id == again.turn_id == "order-5-charge"
    assert first.session_id == again.session_id  # the session is derived from the user and the turn id
    assert runs == [5] and script.script.calls == 2
    other_message = await runner.run({**request, "message": "charge 50"})
    assert other_message.error_code == "turn_id_reused" and other_message.status_code == 409
    script.script.add(Reply(tool_calls=[ScriptedToolCall("charge", {"amount": 5})]), Reply(text="Charged 5."))
    someone_else = await runner.run({**request, "user_id": "eve"})
    assert someone_else.status == "success" and someone_else.session_id != first.session_id  # eve's own turn
    assert runs == [5, 5]


async def test_a_turn_that_failed_is_retried_after_its_last_completed_step(script: OpenAIServer) -> None:
    runs: list[str] = []

    def ship(order: int) -> str:
        """Ship an order."""
        runs.append("ship")
        return "shipped"

    runner = Runner(agent_for(script, [ship]), session_store=MemorySessionStore())
    script.script.add(Reply(tool_calls=[ScriptedToolCall("ship", {"order": 1})]), Reply(status=500))
    failed = await runner.run({"message": "ship order 1", "turn_id": "ship-1"})
    assert failed.status == "error" and failed.turn_id == "ship-1"
    script.script.add(Reply(text="Order 1 shipped."))
    retried = await runner.run({"message": "ship order 1", "turn_id": "ship-1"})
    assert retried.status == "success" and retried.response == "Order 1 shipped."
    assert runs == ["ship"]  # the tool's recorded result was used
    assert script.script.calls == 3  # the first answer was not asked for again: 1 + the failed one + the last


async def test_a_worker_that_stopped_after_the_model_asked_for_a_tool_is_taken_over(
        script: OpenAIServer, backend: Backend) -> None:
    runs: list[int] = []
    stop = [True]

    async def pack(order: int) -> str:
        """Pack an order."""
        if stop.pop() if stop else False:
            raise WorkerStopped
        runs.append(order)
        return "packed"

    session_id = f"s-pack-{uuid.uuid4().hex[:8]}"
    script.script.add(Reply(tool_calls=[ScriptedToolCall("pack", {"order": 3})]))
    request = {"message": "pack order 3", "session_id": session_id, "turn_id": "pack-3"}
    with pytest.raises(WorkerStopped):
        await Runner(agent_for(script, [pack]), session_store=backend.make()).run(request)
    # Another instance: new agent, runner and store object over the same data (file, account).
    second_store = backend.make()
    taker = Runner(agent_for(script, [pack]), session_store=second_store)
    busy = await taker.run(request)  # the first worker's lease has not run out yet
    assert busy.error_code == "turn_in_progress" and busy.status_code == 409
    await lease_lapses()
    script.script.add(Reply(text="Order 3 packed."))
    done = await taker.run(request)
    assert done.status == "success" and done.response == "Order 3 packed."
    assert runs == [3] and script.script.calls == 2  # the first model answer came from the journal
    session = await second_store.load(session_id)
    assert session is not None and [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]


async def test_a_worker_that_stopped_after_a_tool_finished_does_not_run_it_again(script: OpenAIServer) -> None:
    ran: list[str] = []
    stop = [True]

    def reserve(item: str) -> str:
        """Reserve stock."""
        ran.append(f"reserve {item}")
        return "reserved"

    async def notify(who: str) -> str:
        """Notify someone."""
        if stop.pop() if stop else False:
            raise WorkerStopped
        ran.append(f"notify {who}")
        return "notified"

    store = MemorySessionStore()
    script.script.add(Reply(tool_calls=[ScriptedToolCall("reserve", {"item": "lamp"})]),
                      Reply(tool_calls=[ScriptedToolCall("notify", {"who": "ana"})]))
    request = {"message": "reserve a lamp and tell ana", "session_id": "s-lamp", "turn_id": "lamp-1"}
    with pytest.raises(WorkerStopped):
        await Runner(agent_for(script, [reserve, notify]), session_store=store).run(request)
    assert ran == ["reserve lamp"] and script.script.calls == 2
    await lease_lapses()
    script.script.add(Reply(text="Reserved and notified."))
    done = await Runner(agent_for(script, [reserve, notify]), session_store=store).run(request)
    assert done.response == "Reserved and notified."
    assert ran == ["reserve lamp", "notify ana"]  # each ran once
    assert script.script.calls == 3  # two answers from the journal, one new
    assert [c.name for c in done.tool_calls] == ["reserve", "notify"]
    assert done.usage.input_tokens == 33  # the turn's cost: three model calls, each counted once


async def test_an_interrupted_call_of_a_non_repeatable_tool_without_a_key_waits_for_a_person(
        script: OpenAIServer) -> None:
    sent: list[str] = []
    stop = [True]

    async def send_email(to: str) -> str:
        """Send an email."""
        sent.append(to)  # the email may have left before the worker stopped
        if stop.pop() if stop else False:
            raise WorkerStopped
        return "sent"

    tool = FunctionTool(send_email, repeatable=False)
    store = MemorySessionStore()
    script.script.add(Reply(tool_calls=[ScriptedToolCall("send_email", {"to": "ana@example.com"})]))
    request = {"message": "email ana", "session_id": "s-mail", "turn_id": "mail-1"}
    with pytest.raises(WorkerStopped):
        await Runner(agent_for(script, [tool]), session_store=store).run(request)
    await lease_lapses()
    runner = Runner(agent_for(script, [FunctionTool(send_email, repeatable=False)]), session_store=store)
    waiting = await runner.run(request)
    assert waiting.status == "awaiting_approval" and sent == ["ana@example.com"]
    [uncertain] = waiting.approvals
    assert uncertain["kind"] == "uncertain" and uncertain["tool"] == "send_email"
    assert "may or may not have happened" in uncertain["reason"]
    script.script.add(Reply(text="I did not send it again."))
    answered = await runner.resume("s-mail", "mail-1", [{"id": uncertain["id"], "approved": False}])
    assert answered.response == "I did not send it again." and sent == ["ana@example.com"]
    assert "may or may not have happened" in script.script.requests[-1]["messages"][-1]["content"]
    assert script.script.calls == 2


async def test_an_interrupted_call_of_a_tool_that_takes_a_key_runs_again_with_the_same_key(
        script: OpenAIServer) -> None:
    keys: list[str | None] = []
    contexts: list[ToolContext] = []
    stop = [True]

    async def pay(amount: int, idempotency_key: str) -> str:
        """Pay an invoice."""
        keys.append(idempotency_key)
        if stop.pop() if stop else False:
            raise WorkerStopped
        return f"paid {amount}"

    def audit(note: str, ctx: ToolContext) -> str:
        """Audit a payment."""
        contexts.append(ctx)
        return "audited"

    def tools() -> list[FunctionTool]:
        return [FunctionTool(pay, repeatable=False), FunctionTool(audit)]

    assert "idempotency_key" not in tools()[0].parameters["properties"]  # the model never fills it in
    store = MemorySessionStore()
    script.script.add(Reply(tool_calls=[ScriptedToolCall("pay", {"amount": 9})]))
    request = {"message": "pay 9", "session_id": "s-pay", "turn_id": "pay-9"}
    with pytest.raises(WorkerStopped):
        await Runner(agent_for(script, tools()), session_store=store).run(request)
    await lease_lapses()
    script.script.add(Reply(tool_calls=[ScriptedToolCall("audit", {"note": "ok"})]), Reply(text="Paid 9."))
    done = await Runner(agent_for(script, tools()), session_store=store).run(request)
    assert done.status == "success" and done.response == "Paid 9."
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0] is not None and len(keys[0]) == 32
    assert contexts[0].turn_id == "pay-9" and contexts[0].idempotency_key not in (None, keys[0])
    assert script.script.calls == 3


async def test_a_turn_without_a_session_is_journaled_and_resumed_by_its_id(script: OpenAIServer) -> None:
    refunds: list[int] = []

    def refund(order: int) -> str:
        """Refund an order."""
        refunds.append(order)
        return "refunded"

    runner = Runner(agent_for(script, [FunctionTool(refund, needs_approval=True)],
                              enable_conversational_agent=False), session_store=MemorySessionStore())
    script.script.add(Reply(tool_calls=[ScriptedToolCall("refund", {"order": 4})]), Reply(text="Refunded 4."))
    paused = await runner.run({"message": "refund 4", "user_id": "ana"})
    assert paused.status == "awaiting_approval" and paused.session_id is None
    done = await runner.resume(None, paused.turn_id or "", [{"id": paused.approvals[0]["id"], "approved": True}],
                               user_id="ana")
    assert done.response == "Refunded 4." and refunds == [4]


async def test_a_stopping_worker_parks_the_turn_at_the_next_step_and_another_resumes_it(
        script: OpenAIServer) -> None:
    from azurefunctions.agents.run.replay import park_turns

    packed: list[int] = []

    def pack(order: int) -> str:
        """Pack an order."""
        park_turns()  # the stop signal arrives while the tool runs: the tool finishes, the turn stops after it
        packed.append(order)
        return "packed"

    store = MemorySessionStore()
    script.script.add(Reply(tool_calls=[ScriptedToolCall("pack", {"order": 8})]))
    request = {"message": "pack 8", "session_id": "s-park", "turn_id": "park-8"}
    try:
        parked = await Runner(agent_for(script, [pack]), session_store=store).run(request)
    finally:
        park_turns(False)
    assert parked.status == "error" and parked.error_code == "turn_parked" and parked.status_code == 503
    assert packed == [8] and script.script.calls == 1
    script.script.add(Reply(text="Packed 8."))
    resumed = await Runner(agent_for(script, [pack]), session_store=store).run(request)  # at once: lease released
    assert resumed.response == "Packed 8." and packed == [8]  # the packing was not done again
    assert script.script.calls == 2


async def test_the_lease_is_renewed_while_a_long_tool_runs(script: OpenAIServer) -> None:
    async def crunch(n: int) -> str:
        """Crunch numbers for a while."""
        await asyncio.sleep(1.6)  # longer than the 1 s lease
        return "crunched"

    store = MemorySessionStore()
    runner = Runner(agent_for(script, [crunch]), session_store=store)
    script.script.add(Reply(tool_calls=[ScriptedToolCall("crunch", {"n": 1})]), Reply(text="Crunched."))
    request = {"message": "crunch", "session_id": "s-long", "turn_id": "crunch-1"}
    first = asyncio.ensure_future(runner.run(request))
    await asyncio.sleep(1.3)
    retry = await Runner(agent_for(script, [crunch]), session_store=store).run(request)
    assert retry.error_code == "turn_in_progress"  # the first worker still holds the turn
    assert (await first).response == "Crunched." and script.script.calls == 2


async def test_a_reflecting_agent_resumes_with_its_recorded_answers_and_evaluations(script: OpenAIServer) -> None:
    from azurefunctions.agents import ReflectionAgent

    config = LLMConfig(api_key=script.api_key, base_url=script.base_url, max_retries=0)
    reviewer = "You are a strict reviewer"
    store = MemorySessionStore()

    def agent() -> ReflectionAgent:
        return ReflectionAgent(name="Writer", instructions="You write answers", llm_config=config)

    script.script.add_for("You write answers", Reply(text="Paris."), Reply(status=500))
    script.script.add_for(reviewer, Reply(text='{"score": 0.3, "feedback": "too short"}'))
    request = {"message": "Capital of France?", "session_id": "s-refl", "turn_id": "refl-1"}
    failed = await Runner(agent(), session_store=store).run(request)
    assert failed.status == "error" and script.script.calls == 3
    script.script.add_for("You write answers", Reply(text="Paris, on the Seine."))
    script.script.add_for(reviewer, Reply(text='{"score": 0.9, "feedback": "good"}'))
    done = await Runner(agent(), session_store=store).run(request)
    assert done.response == "Paris, on the Seine."
    assert [h["score"] for h in done.to_dict()["reflection"]["history"]] == [0.3, 0.9]
    assert script.script.calls == 5  # the first answer and its evaluation came from the journal


async def test_a_cancelled_turn_gives_its_lease_back_and_a_retry_continues_it_at_once(script: OpenAIServer) -> None:
    started = asyncio.Event()
    runs: list[str] = []

    async def slow_lookup(code: str) -> str:
        """Look a code up slowly."""
        runs.append(code)
        started.set()
        await asyncio.sleep(30)
        return "found"

    async def quick_lookup(code: str) -> str:
        """Look a code up."""
        runs.append(f"quick {code}")
        return "found"

    store = MemorySessionStore()
    script.script.add(Reply(tool_calls=[ScriptedToolCall("slow_lookup", {"code": "Q"})]))
    request = {"message": "look Q up", "session_id": "s-cancel", "turn_id": "cancel-1"}
    task = asyncio.ensure_future(Runner(agent_for(script, [slow_lookup]), session_store=store).run(request))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()  # the client went away, or the host cancelled the invocation
    with pytest.raises(asyncio.CancelledError):
        await task
    script.script.add(Reply(text="Q was found."))
    quick = FunctionTool(quick_lookup, name="slow_lookup")  # this version of the tool answers at once
    retried = await Runner(agent_for(script, [quick]), session_store=store).run(request)  # no lease to wait out
    assert retried.response == "Q was found." and runs == ["Q", "quick Q"]
    assert script.script.calls == 2


async def test_a_recorded_result_stands_when_the_new_version_of_the_agent_lacks_the_tool(
        script: OpenAIServer) -> None:
    stop = [True]

    def reserve(item: str) -> str:
        """Reserve stock."""
        return f"reserved {item}"

    async def notify(who: str) -> str:
        """Notify someone."""
        if stop.pop() if stop else False:
            raise WorkerStopped
        return "notified"

    store = MemorySessionStore()
    script.script.add(Reply(tool_calls=[ScriptedToolCall("reserve", {"item": "desk"})]),
                      Reply(tool_calls=[ScriptedToolCall("notify", {"who": "bo"})]))
    request = {"message": "reserve a desk, tell bo", "session_id": "s-v2", "turn_id": "v2-1"}
    with pytest.raises(WorkerStopped):
        await Runner(agent_for(script, [reserve, notify]), session_store=store).run(request)
    await lease_lapses()
    script.script.add(Reply(text="Done."))
    done = await Runner(agent_for(script, [notify]), session_store=store).run(request)  # reserve was removed
    assert done.response == "Done."
    assert [(c.name, c.result) for c in done.tool_calls] == [("reserve", "reserved desk"), ("notify", "notified")]
