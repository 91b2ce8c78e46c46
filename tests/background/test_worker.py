"""The queue-triggered worker in-process: the app's registered functions called with ``func.QueueMessage`` as
the Python worker calls them, messages from Azurite through azure-storage-queue, the scripted OpenAI model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage

from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.background.records import TurnRecord
from azurefunctions.agents.background.service import BackgroundTurns
from azurefunctions.agents.background.store import MemoryTurnStore
from azurefunctions.agents.runner import Runner
from azurefunctions.agents.sessions.memory import MemorySessionStore
from azurefunctions.agents.types import ChatRequest, LLMConfig
from tests.servers.azurite import AzuriteQueues
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply


class App:
    """An app with background turns, its queue functions, and the work queue's messages."""

    def __init__(self, storage: AzuriteQueues, queue_name: str) -> None:
        config = LLMConfig.from_env(model_name="gpt-4o-mini", max_retries=0, timeout=10)
        self.sessions = MemorySessionStore()
        self.app = AgentFunctionApp(agents=[Agent(name="Helper", instructions="Help.", llm_config=config)],
                                    background=True, session_store=self.sessions)
        functions = {f.get_function_name(): f for f in self.app.get_functions()}
        self.work = functions["agent_turns"].get_user_function()
        self.poison = functions["agent_turns_poison"].get_user_function()
        self.storage = storage
        self.queue_name = queue_name
        assert self.app.background is not None
        self.background: BackgroundTurns = self.app.background

    async def submit(self, message: str = "Hello", **fields: Any) -> TurnRecord:
        return await self.background.submit("Helper", ChatRequest(message=message, **fields))

    async def receive(self, wait: float = 0.0) -> QueueMessage:
        """The next work-queue message, as the worker would hand it over (base64 decoded)."""
        from azure.storage.queue import BinaryBase64DecodePolicy
        from azure.storage.queue.aio import QueueClient

        deadline = time.monotonic() + wait
        async with QueueClient.from_connection_string(self.storage.connection_string, self.queue_name,
                                                      message_decode_policy=BinaryBase64DecodePolicy()) as queue:
            while True:
                found = [m async for m in queue.receive_messages(max_messages=1, visibility_timeout=30)]
                if found or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.2)
        assert found, "no message in the work queue"
        message = found[0]
        return QueueMessage(id=message.id, body=message.content, dequeue_count=message.dequeue_count,
                            pop_receipt=message.pop_receipt)

    async def record(self, turn: TurnRecord) -> TurnRecord:
        stored = await self.background.turns.get(turn.session_id, turn.turn_id)
        assert stored is not None
        return stored

    async def set(self, turn: TurnRecord, **fields: Any) -> None:
        def change(current: TurnRecord) -> bool:
            for key, value in fields.items():
                setattr(current, key, value)
            return True

        await self.background.turns.update(turn.session_id, turn.turn_id, change)


@pytest.fixture
async def app(storage: AzuriteQueues, queue_name: str, openai: OpenAIServer,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[App]:
    monkeypatch.setenv("AGENTS_TURN_LEASE_SECONDS", "1")
    made = App(storage, queue_name)
    try:
        yield made
    finally:
        await made.app.aclose()


def model_calls(openai: OpenAIServer) -> int:
    return openai.script.calls


async def test_a_queued_turn_runs_through_the_runner_and_records_its_answer(app: App, openai: OpenAIServer) -> None:
    openai.script.add(Reply(text="Hi there."))
    turn = await app.submit("Hello", user_id="ana")
    assert (await app.record(turn)).status == "queued"
    message = await app.receive()
    assert message.dequeue_count == 1
    await app.work(message)
    done = await app.record(turn)
    assert done.status == "completed" and done.attempts == 1 and done.claim is None
    assert done.response is not None and done.response["response"] == "Hi there."
    session = await app.sessions.load(turn.session_id)
    assert session is not None and session.user_id == "ana"
    assert [(m.role, m.content) for m in session.messages] == [("user", "Hello"), ("assistant", "Hi there.")]
    # The events were kept like a streamed turn's, so the resume route can follow it.
    logs = await app.sessions.read_events(turn.session_id)
    assert logs and logs[-1].events[-1].event == "done"


async def test_two_concurrent_deliveries_run_the_turn_once_and_the_loser_checks_back(
        app: App, openai: OpenAIServer) -> None:
    openai.script.add(Reply(text="Only once.", delay=0.6))
    turn = await app.submit()
    message = await app.receive()
    outcomes = await asyncio.gather(app.background.handle_message(message.get_body(), 1),
                                    app.background.handle_message(message.get_body(), 2))
    assert sorted(outcomes) == ["busy", "ran"]
    assert model_calls(openai) == 1
    # The check-back message becomes visible once the lease would have lapsed, and finds the turn done.
    check_back = await app.receive(wait=5)
    assert await app.background.handle_message(check_back.get_body(), check_back.dequeue_count) == "done"
    session = await app.sessions.load(turn.session_id)
    assert session is not None and len(session.messages) == 2
    assert (await app.record(turn)).attempts == 1


async def test_a_redelivery_after_the_end_does_nothing(app: App, openai: OpenAIServer) -> None:
    turn = await app.submit()
    message = await app.receive()
    await app.work(message)
    calls = model_calls(openai)
    await app.work(message)
    assert model_calls(openai) == calls
    session = await app.sessions.load(turn.session_id)
    assert session is not None and len(session.messages) == 2


async def test_a_lapsed_claim_is_taken_over(app: App, openai: OpenAIServer) -> None:
    openai.script.add(Reply(text="Second worker's answer."))
    turn = await app.submit()
    await app.set(turn, status="running", claim="a-worker-that-died", attempts=1, lease_until=time.time() - 1,
                  history_length=0, started_at=time.time() - 5)
    assert await app.background.handle_message((await app.receive()).get_body(), 2) == "ran"
    done = await app.record(turn)
    assert done.status == "completed" and done.attempts == 2
    assert done.response is not None and done.response["response"] == "Second worker's answer."


async def test_a_take_over_finds_what_the_dead_worker_saved_and_does_not_run_it_again(
        app: App, openai: OpenAIServer) -> None:
    openai.script.add(Reply(text="Saved before the crash."))
    turn = await app.submit("What is new?")
    # The first worker ran the turn and saved the session, then died before recording the answer.
    await app.app.runners["Helper"].run(turn.request)
    await app.set(turn, status="running", claim="dead", attempts=1, lease_until=time.time() - 1, history_length=0)
    calls = model_calls(openai)
    assert await app.background.handle_message((await app.receive()).get_body(), 2) == "recovered"
    assert model_calls(openai) == calls
    done = await app.record(turn)
    assert done.status == "completed" and done.response is not None
    assert done.response["response"] == "Saved before the crash."
    session = await app.sessions.load(turn.session_id)
    assert session is not None and [m.role for m in session.messages] == ["user", "assistant"]


async def test_a_turn_whose_workers_keep_dying_ends_failed(app: App, openai: OpenAIServer) -> None:
    turn = await app.submit()
    await app.set(turn, status="running", claim="dead", attempts=3, lease_until=time.time() - 1, history_length=0)
    assert await app.background.handle_message((await app.receive()).get_body(), 4) == "gave_up"
    failed = await app.record(turn)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error["code"] == "turn_interrupted" and "3 times" in failed.error["message"]
    assert model_calls(openai) == 0


async def test_a_cancelled_queued_turn_never_runs(app: App, openai: OpenAIServer) -> None:
    turn = await app.submit()
    cancelled = await app.background.cancel(turn.session_id, turn.turn_id, user_id=None)
    assert cancelled is not None and cancelled.status == "cancelled"
    await app.work(await app.receive())
    assert model_calls(openai) == 0
    assert (await app.record(turn)).status == "cancelled"


async def test_cancelling_a_running_turn_stops_it(app: App, openai: OpenAIServer) -> None:
    openai.script.add(Reply(text="Too late.", delay=5))
    turn = await app.submit()
    work = asyncio.create_task(app.background.handle_message((await app.receive()).get_body(), 1))
    for _ in range(100):
        if (await app.record(turn)).status == "running":
            break
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await app.background.cancel(turn.session_id, turn.turn_id, user_id=None)
    assert await asyncio.wait_for(work, 3) == "stopped"
    assert time.monotonic() - started < 2
    final = await app.record(turn)
    assert final.status == "cancelled" and final.response is None
    assert await app.sessions.load(turn.session_id) is None  # nothing half-saved


async def test_a_failed_model_call_ends_the_turn_failed_with_the_routes_error(app: App, openai: OpenAIServer) -> None:
    openai.script.add(Reply(status=500))
    turn = await app.submit()
    await app.work(await app.receive())
    failed = await app.record(turn)
    assert failed.status == "failed" and failed.error is not None and failed.error["code"] == "provider_error"
    assert failed.response is not None and failed.response["status"] == "error"


async def test_the_poison_trigger_fails_the_turn_unless_it_finished(app: App, openai: OpenAIServer) -> None:
    first, second = await app.submit(), await app.submit()
    await app.work(await app.receive())  # the first turn completes
    body = func.QueueMessage(body=(await app.receive()).get_body())
    await app.poison(body)
    failed = await app.record(second)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error["code"] == "turn_undeliverable" and f"{app.queue_name}-poison" in failed.error["message"]
    late = func.QueueMessage(body=f'{{"session_id":"{first.session_id}","turn_id":"{first.turn_id}",'
                                  f'"agent":"Helper"}}'.encode())
    await app.poison(late)
    assert (await app.record(first)).status == "completed"


async def test_unreadable_or_orphaned_messages_are_dropped(app: App) -> None:
    assert await app.background.handle_message(b"not json", 1) == "invalid"
    assert await app.background.handle_message(b'{"session_id": "s-1"}', 1) == "invalid"
    assert await app.background.handle_message(b'{"session_id": "s-1", "turn_id": "t", "agent": "Helper"}',
                                               1) == "missing"


async def test_a_worker_failure_gives_the_claim_back_and_the_redelivery_finishes_the_turn(
        storage: AzuriteQueues, queue_name: str, openai: OpenAIServer) -> None:
    class FailingOnce(MemoryTurnStore):
        failed = False

        async def replace(self, record: TurnRecord) -> TurnRecord:
            if record.status == "completed" and not self.failed:
                self.failed = True
                raise ConnectionError("the store is unavailable")
            return await super().replace(record)

    sessions = MemorySessionStore()
    agent = Agent(name="Helper", instructions="Help.",
                  llm_config=LLMConfig.from_env(model_name="gpt-4o-mini", max_retries=0))
    background = BackgroundTurns(runners={"Helper": Runner(agent, session_store=sessions)}, session_store=sessions,
                                 turn_store=FailingOnce(), lease_seconds=30)
    openai.script.add(Reply(text="Answered once."))
    try:
        turn = await background.submit("Helper", ChatRequest(message="Hi"))
        body = turn_body(turn)
        with pytest.raises(ConnectionError):
            await background.handle_message(body, 1)
        released = await background.turns.get(turn.session_id, turn.turn_id)
        assert released is not None and released.status == "queued" and released.claim is None
        assert await background.handle_message(body, 2) == "recovered"
        done = await background.turns.get(turn.session_id, turn.turn_id)
        assert done is not None and done.status == "completed" and done.response is not None
        assert done.response["response"] == "Answered once."
        assert openai.script.calls == 1
    finally:
        await background.aclose()


def turn_body(turn: TurnRecord) -> bytes:
    return f'{{"session_id":"{turn.session_id}","turn_id":"{turn.turn_id}","agent":"{turn.agent}"}}'.encode()


async def test_a_turn_of_a_stateless_agent_runs_without_a_session(
        storage: AzuriteQueues, openai: OpenAIServer) -> None:
    sessions = MemorySessionStore()
    agent = Agent(name="Oneshot", instructions="Answer.", enable_conversational_agent=False,
                  llm_config=LLMConfig.from_env(model_name="gpt-4o-mini", max_retries=0))
    app = AgentFunctionApp(agents=[agent], background=True, session_store=sessions)
    assert app.background is not None
    openai.script.add(Reply(text="No memory."))
    try:
        turn = await app.background.submit("Oneshot", ChatRequest(message="Hi"))
        assert await app.background.handle_message(turn_body(turn), 1) == "ran"
        done = await app.background.turns.get(turn.session_id, turn.turn_id)
        assert done is not None and done.status == "completed"
        assert await sessions.load(turn.session_id) is None
    finally:
        await app.aclose()


async def test_two_turns_of_one_session_run_one_after_the_other(app: App, openai: OpenAIServer) -> None:
    openai.script.add(Reply(text="First answer.", delay=0.3), Reply(text="Second answer.", delay=0.6),
                      Reply(text="Second answer, after the first."))
    first = await app.submit("One", session_id="s-same")
    second = await app.submit("Two", session_id="s-same")
    one, two = await app.receive(), await app.receive()
    outcomes = await asyncio.gather(app.background.handle_message(one.get_body(), 1),
                                    app.background.handle_message(two.get_body(), 1))
    assert sorted(outcomes) == ["deferred", "ran"]  # the second to save met the first and waits its turn
    retry = await app.receive(wait=5)
    assert await app.background.handle_message(retry.get_body(), 1) == "ran"
    records = [await app.record(first), await app.record(second)]
    assert [r.status for r in records] == ["completed", "completed"] and [r.attempts for r in records] == [1, 1]
    session = await app.sessions.load("s-same")
    assert session is not None
    # Whichever saved first, the other ran again on top of it: each turn once, one after the other.
    assert [m.role for m in session.messages] == ["user", "assistant", "user", "assistant"]
    assert {session.messages[0].content, session.messages[2].content} == {"One", "Two"}
    assert [session.messages[1].content, session.messages[3].content] == [
        "First answer.", "Second answer, after the first."]


async def test_a_draining_worker_takes_no_new_turn_and_gives_the_message_back(app: App, openai: OpenAIServer) -> None:
    from azurefunctions.agents.run.replay import park_turns

    turn = await app.submit("Hello")
    message = await app.receive()
    park_turns()
    try:
        assert await app.background.handle_message(message.get_body(), 1) == "parked"
    finally:
        park_turns(False)
    untouched = await app.record(turn)
    assert untouched.status == "queued" and untouched.attempts == 0 and untouched.claim is None
    again = await app.receive(wait=5)  # sent back for the next worker, visible at once
    assert again.get_body() == message.get_body()
    assert model_calls(openai) == 0


async def test_a_turn_submitted_again_under_its_key_is_the_same_turn_queued_once(app: App, storage: AzuriteQueues,
                                                                                queue_name: str) -> None:
    from azure.storage.queue.aio import QueueClient

    from azurefunctions.agents.errors import SessionNotFoundError

    first = await app.submit("Hello", session_id="keyed", user_id="ana", turn_id="client-key-1")
    again = await app.submit("Hello", session_id="keyed", user_id="ana", turn_id="client-key-1")
    assert first.turn_id == again.turn_id == "client-key-1" and again.created_at == first.created_at
    async with QueueClient.from_connection_string(storage.connection_string, queue_name) as queue:
        assert (await queue.get_queue_properties()).approximate_message_count == 1
    with pytest.raises(SessionNotFoundError):  # someone else's key names nothing of theirs
        await app.submit("Hello", session_id="keyed", user_id="bob", turn_id="client-key-1")


async def test_a_take_over_that_finds_the_journal_still_leased_runs_nothing_and_comes_back(
        app: App, openai: OpenAIServer) -> None:
    from azurefunctions.agents.run.journal import TurnHead, TurnJournal

    turn = await app.submit("Hello")
    # The worker died a moment ago: its record's claim lapsed, its last renewal of the journal's lease not yet.
    journal = TurnJournal.for_store(app.sessions)
    assert journal is not None
    head = TurnHead(turn_id=turn.turn_id, partition=turn.session_id, session_id=turn.session_id, agent="Helper",
                    user_id=None, request={**turn.request, "turn_id": turn.turn_id})
    journal.claim(head, "a-worker-that-died")
    head.lease_until = time.time() + 30
    await journal.create(head)
    await app.set(turn, status="running", claim="dead", attempts=1, lease_until=time.time() - 1, history_length=0)
    first = await app.receive()
    assert await app.background.handle_message(first.get_body(), 2) == "deferred"
    record = await app.record(turn)
    assert record.status == "queued" and record.attempts == 1 and record.claim is None
    assert model_calls(openai) == 0
    again = await app.receive(wait=10)  # the check-back, after one renewal period of the lease
    assert again.get_body() == first.get_body()
