"""The Runner: the tool loop, events, sessions, limits and failures, against the local OpenAI server."""

from __future__ import annotations

import asyncio
import time

import pytest

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.events import TextDelta, ToolCallCompleted, ToolCallStarted, TurnCompleted, TurnStarted
from azurefunctions.agents.sessions.memory import MemorySessionStore
from azurefunctions.agents.types import ChatRequest, LLMConfig
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, ScriptedToolCall


def make_agent(server: OpenAIServer, tools: list | None = None, **kwargs: object) -> Agent:
    config = LLMConfig(provider="openai", model_name="gpt-4o-mini", api_key=server.api_key,
                       base_url=server.base_url, max_retries=0, timeout=kwargs.pop("timeout", 30.0))  # type: ignore[arg-type]
    return Agent(name=kwargs.pop("name", "Helper"), instructions="Be helpful.", tools=tools or [],  # type: ignore[arg-type]
                 llm_config=config, **kwargs)  # type: ignore[arg-type]


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_two_tool_calls_in_one_model_turn_run_concurrently(openai: OpenAIServer) -> None:
    running: set[str] = set()
    overlapped: list[bool] = []

    async def slow_lookup(key: str) -> str:
        running.add(key)
        await asyncio.sleep(0.2)
        overlapped.append(len(running) == 2)
        running.discard(key)
        return f"value-of-{key}"

    agent = make_agent(openai, [slow_lookup])
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("slow_lookup", {"key": "a"}),
                                        ScriptedToolCall("slow_lookup", {"key": "b"})]))
    response = await Runner(agent).run("look up a and b")
    assert overlapped[0] is True  # the second call started before the first finished
    assert [c.result for c in response.tool_calls] == ["value-of-a", "value-of-b"]
    tool_messages = [m for m in openai.script.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == ["value-of-a", "value-of-b"]


async def test_invalid_arguments_go_back_to_the_model_and_the_turn_goes_on(openai: OpenAIServer) -> None:
    agent = make_agent(openai, [add])
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("add", {"a": "one"})]),
                      Reply(tool_calls=[ScriptedToolCall("add", {"a": 1, "b": 2})]))
    response = await Runner(agent).run("add")
    assert response.status == "success"
    assert response.response == "Here is what I found: 3"
    assert response.tool_calls[0].is_error
    assert "Invalid arguments for tool add" in response.tool_calls[0].result


async def test_arguments_that_are_not_json_are_an_error_result(openai: OpenAIServer) -> None:
    agent = make_agent(openai, [add])
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("add")], raw_arguments="{not json"), Reply(text="sorry"))
    response = await Runner(agent).run("add")
    assert response.tool_calls[0].is_error
    assert "not a JSON object" in (response.tool_calls[0].result or "")


async def test_a_tool_the_agent_does_not_have_is_refused(openai: OpenAIServer) -> None:
    agent = make_agent(openai, [add])
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("delete_everything", {})]), Reply(text="ok"))
    response = await Runner(agent).run("go")
    assert response.tool_calls[0].is_error
    assert "not available to agent Helper" in (response.tool_calls[0].result or "")


async def test_max_turns_ends_a_runaway_loop_with_a_clear_error(openai: OpenAIServer) -> None:
    agent = make_agent(openai, [add], max_turns=3)
    openai.script.add(*[Reply(tool_calls=[ScriptedToolCall("add", {"a": 1, "b": 1})]) for _ in range(5)])
    response = await Runner(agent).run("loop")
    assert response.status == "error"
    assert response.error_code == "max_turns_exceeded"
    assert "max_turns=3" in (response.error or "")
    assert openai.script.calls == 3


async def test_stream_yields_events_in_order_and_done_equals_run(openai: OpenAIServer) -> None:
    agent = make_agent(openai, [add])
    openai.script.add(Reply(tool_calls=[ScriptedToolCall("add", {"a": 2, "b": 3})]),
                      Reply(text="The sum is 5."))
    events = [e async for e in Runner(agent).run_stream({"message": "add 2 and 3", "session_id": "s-1"})]
    kinds = [type(e) for e in events]
    assert kinds[0] is TurnStarted
    assert kinds.index(ToolCallStarted) < kinds.index(ToolCallCompleted) < kinds.index(TextDelta)
    assert kinds[-1] is TurnCompleted
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and "".join(deltas) == "The sum is 5."
    done = events[-1]
    assert isinstance(done, TurnCompleted)
    assert done.response.response == "The sum is 5."
    assert done.response.session_id == "s-1"
    assert openai.script.requests[0]["stream"] is True


async def test_history_continues_in_a_session_and_stateless_agents_keep_none(openai: OpenAIServer) -> None:
    store = MemorySessionStore()
    agent = make_agent(openai)
    runner = Runner(agent, session_store=store)
    openai.script.add(Reply(text="Nice to meet you, Ada."), Reply(text="You are Ada."))
    first = await runner.run(ChatRequest(message="I am Ada", user_id="u1"))
    await runner.run(ChatRequest(message="Who am I?", user_id="u1", session_id=first.session_id))
    sent = [(m["role"], m.get("content")) for m in openai.script.requests[1]["messages"]]
    assert sent == [("system", "Be helpful."), ("user", "I am Ada"), ("assistant", "Nice to meet you, Ada."),
                    ("user", "Who am I?")]
    stateless = make_agent(openai, name="Stateless", enable_conversational_agent=False)
    stateless_runner = Runner(stateless, session_store=store)
    openai.script.add(Reply(text="a"), Reply(text="b"))
    one = await stateless_runner.run({"message": "first", "session_id": "fixed"})
    await stateless_runner.run({"message": "second", "session_id": "fixed"})
    assert await store.load("fixed") is None
    assert [m["role"] for m in openai.script.requests[-1]["messages"]] == ["system", "user"]
    assert one.session_id == "fixed"


async def test_another_users_session_is_not_found(openai: OpenAIServer) -> None:
    runner = Runner(make_agent(openai), session_store=MemorySessionStore())
    openai.script.add(Reply(text="secret plans"))
    mine = await runner.run({"message": "remember my plans", "user_id": "alice"})
    theirs = await runner.run({"message": "what were the plans?", "user_id": "mallory",
                               "session_id": mine.session_id})
    assert theirs.status == "error"
    assert theirs.error_code == "session_not_found"
    assert openai.script.calls == 1


@pytest.mark.parametrize(("reply", "code", "status"), [
    (Reply(status=429, retry_after=7), "rate_limited", 429),
    (Reply(status=500), "provider_error", 502),
    (Reply(malformed=True), "provider_error", 502),
    (Reply(delay=2.0), "provider_timeout", 504),
])
async def test_provider_failures_end_as_clear_errors(openai: OpenAIServer, reply: Reply, code: str,
                                                     status: int) -> None:
    agent = make_agent(openai, timeout=0.5)
    openai.script.add(reply)
    response = await Runner(agent).run("hello")
    assert (response.status, response.error_code, response.status_code) == ("error", code, status)
    assert "Traceback" not in (response.error or "")
    if status == 429:
        assert response.retry_after == 7


async def test_rate_limit_is_retried_honouring_retry_after(openai: OpenAIServer) -> None:
    config = LLMConfig(provider="openai", api_key=openai.api_key, base_url=openai.base_url, max_retries=2)
    agent = Agent(name="Patient", llm_config=config)
    openai.script.add(Reply(status=429, retry_after=0.2), Reply(text="finally"))
    started = time.perf_counter()
    response = await Runner(agent).run("hello")
    assert response.response == "finally"
    assert time.perf_counter() - started >= 0.2


async def test_invalid_requests_are_refused_before_the_model_runs(openai: OpenAIServer) -> None:
    runner = Runner(make_agent(openai))
    for bad, fragment in [({}, "message is required"), ({"message": 3}, "message must be a string"),
                          ({"message": "  "}, "message must not be empty"),
                          ({"message": "x", "session_id": "../etc"}, "session_id must be"),
                          ({"message": "x", "context": [1]}, "context")]:
        response = await runner.run(bad)
        assert response.status == "error" and response.error_code == "invalid_request"
        assert fragment in (response.error or ""), response.error
    assert openai.script.calls == 0


def test_run_sync_works_outside_an_event_loop(openai: OpenAIServer) -> None:
    runner = Runner(make_agent(openai))
    openai.script.add(Reply(text="one"), Reply(text="two"))
    assert runner.run_sync("a").response == "one"
    assert runner.run_sync("b").response == "two"


async def test_agent_chat_returns_the_answer_and_raises_on_failure(openai: OpenAIServer) -> None:
    agent = make_agent(openai)
    openai.script.add(Reply(text="pong"), Reply(status=500))
    assert await agent.chat("ping") == "pong"
    with pytest.raises(Exception, match=r"\(HTTP 500\)"):
        await agent.chat("ping")


def test_agent_constructor_validates_arguments() -> None:
    with pytest.raises(ValueError, match="Agent name"):
        Agent(name="has space")
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*colour"):
        Agent(name="a", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="llm_config must be an LLMConfig"):
        Agent(name="a", llm_config={"provider": "openai"})  # type: ignore[arg-type]


def test_agent_tool_decorator_registers_and_returns_the_function() -> None:
    agent = Agent(name="a", llm_config=LLMConfig(provider="offline"))

    @agent.tool
    def my_custom_tool(param: str) -> str:
        """My custom tool description."""
        return f"Processed: {param}"

    assert my_custom_tool("x") == "Processed: x"
    assert [(t.name, t.description) for t in agent.tools] == [("my_custom_tool", "My custom tool description.")]
    with pytest.raises(ValueError, match="already has a tool"):
        agent.add_tool(my_custom_tool)


def test_info_honours_exposure_flags() -> None:
    agent = Agent(name="a", instructions="secret sauce", tools=[add], llm_config=LLMConfig(provider="offline"))
    assert "instructions" not in agent.info() and agent.info()["tools"][0]["name"] == "add"
    shy = Agent(name="b", instructions="public", tools=[add], expose_instructions=True, expose_tools=False,
                llm_config=LLMConfig(provider="offline"))
    assert shy.info()["instructions"] == "public" and "tools" not in shy.info()


async def test_a_turn_on_a_long_session_shows_the_window_and_appends_only_what_it_added(
    openai: OpenAIServer, tmp_path: object
) -> None:
    import sqlite3
    from pathlib import Path

    from azurefunctions.agents.messages import Message
    from azurefunctions.agents.sessions import Session
    from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

    path = Path(str(tmp_path)) / "sessions.sqlite3"
    store = SqliteSessionStore(path, ttl_seconds=None)
    history = [Message(role="user" if n % 2 == 0 else "assistant", content=f"message {n} " + "x" * 400)
               for n in range(1000)]
    await store.save(Session(id="s-long", user_id="ana", messages=history))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    openai.script.add(Reply(text="noted"))
    try:
        runner = Runner(make_agent(openai, history_window=20), session_store=store)
        response = await runner.run({"message": "and now?", "session_id": "s-long", "user_id": "ana"})
        assert response.status == "success", response.error
        sent = openai.script.requests[-1]["messages"]
        # the last 20 messages, opening at a user message (message 981 is the assistant's)
        assert [m["content"] for m in sent[1:]] == [m.content for m in history[-18:]] + ["and now?"]
        with sqlite3.connect(path) as db:
            frames = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
        # Pages SQLite logged for the turn: its two rows and the session head, and the turn's journal (its head,
        # written twice, and one step per model answer): a few pages, not 400 KB of history.
        assert frames <= 20
        whole = await store.load("s-long")
        assert whole is not None and len(whole.messages) == 1002 and whole.messages[-1].content == "noted"
    finally:
        await store.aclose()
