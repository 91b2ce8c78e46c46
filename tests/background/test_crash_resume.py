"""A background turn whose worker is killed (SIGKILL: no shutdown, no release) at each point of a turn is taken
over by the next worker once the lease lapses and the message comes back, and resumes after its last completed
step: a completed model call is not made again, a completed tool does not run again, a non-repeatable tool cut
mid-run runs at most once (again with the same idempotency key, or not at all: the turn waits for a person),
and the final answer is delivered once. On the SQLite file and on Cosmos DB (tests/servers/crash.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from azurefunctions.agents import Agent, Runner
from azurefunctions.agents.tools import FunctionTool
from azurefunctions.agents.types import ApprovalDecision, ChatResponse, LLMConfig
from tests.servers.crash import AGENT, PROMPT, CrashSite, Worker, wait_for
from tests.servers.scripted import Reply, ScriptedToolCall
from tests.telemetry.otlp_collector import OTLPCollector

UNFINISHED = ("queued", "running")


def submit(worker: Worker, message: str, session_id: str) -> str:
    """Queue a background turn; returns its status URL."""
    with httpx.Client(base_url=worker.url, timeout=10) as client:
        reply = client.post(f"/api/agents/{AGENT}/chat",
                            json={"message": message, "session_id": session_id, "async": True})
    assert reply.status_code == 202, reply.text
    location: str = reply.json()["location"]
    return location


def status(worker: Worker, location: str) -> dict[str, Any]:
    with httpx.Client(base_url=worker.url, timeout=10) as client:
        reply = client.get(location)
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def settled(worker: Worker, location: str, timeout: float = 45) -> dict[str, Any]:
    """The turn's status once it is neither queued nor running (a take-over waits for the lease to lapse)."""
    found: dict[str, Any] = wait_for(lambda: (s := status(worker, location))["status"] not in UNFINISHED and s,
                                     timeout=timeout, what=f"the end of the turn ({worker.output[-2000:]})")
    return found


def history(worker: Worker, session_id: str) -> list[tuple[str, str]]:
    with httpx.Client(base_url=worker.url, timeout=10) as client:
        reply = client.get(f"/api/sessions/{session_id}")
    assert reply.status_code == 200, reply.text
    return [(m["role"], m.get("content") or ",".join(c["name"] for c in m.get("tool_calls") or []))
            for m in reply.json()["messages"]]


def kill_when(site: CrashSite, worker: Worker, check: Any, what: str) -> None:
    wait_for(check, timeout=30, what=what)
    worker.kill()


def test_killed_after_the_model_asked_for_a_tool_the_turn_resumes_without_asking_the_model_again(
        crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "A1"})]),
                              Reply(text="Order A1 has shipped."))
    site.close_gate()  # the tool is called and waits before it acts
    first = site.worker()
    location = submit(first, "Where is order A1?", "crash-asked")
    kill_when(site, first, lambda: site.effects("lookup.called"), "the tool call")
    assert site.effects("lookup.done") == []

    site.open_gate()
    with OTLPCollector() as collector:  # the second worker's spans, as an OTLP backend receives them
        site.env.update({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                         "OTEL_BSP_SCHEDULE_DELAY": "100"})
        second = site.worker()
        done = settled(second, location)
        turn_span = wait_for(lambda: next((span for span in list(collector.spans)
                                           if span.name == f"invoke_agent {AGENT}"), None),
                             timeout=15, what="the resumed turn's span")
    attributes = {a.key: a.value for a in turn_span.attributes}
    assert attributes["agents.turn.resumed"].bool_value is True
    assert attributes["agents.turn.steps_replayed"].int_value == 1
    replayed = [{a.key: a.value.string_value for a in e.attributes} for e in turn_span.events
                if e.name == "agents.step.replayed"]
    assert replayed == [{"type": "model", "key": f"{AGENT}:m1"}], replayed
    names = [span.name for span in collector.spans]
    assert names.count("chat gpt-4o-mini") == 1, names  # the replayed answer was no model call
    assert done["status"] == "completed", done
    assert done["response"]["response"] == "Order A1 has shipped."
    assert site.model_calls(1) == 1  # the recorded answer was replayed, not asked for again
    assert site.model_calls(2) == 1
    assert len(site.effects("lookup.done")) == 1
    assert history(second, "crash-asked") == [
        ("user", "Where is order A1?"), ("assistant", "lookup"), ("tool", "order A1 shipped"),
        ("assistant", "Order A1 has shipped.")]
    assert done["attempts"] == 2


def test_killed_while_a_non_repeatable_tool_runs_the_turn_waits_for_a_person(crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("refund", {"order": "A2"})]),
                              Reply(text="A second run would refund twice."))
    site.close_gate()  # the refund happens, then the tool waits: it never reports back
    first = site.worker()
    location = submit(first, "Refund order A2", "crash-refund")
    kill_when(site, first, lambda: site.effects("refund.done"), "the refund")

    site.open_gate()
    second = site.worker()
    paused = settled(second, location)
    assert paused["status"] == "awaiting_approval", paused
    approvals = paused["response"]["approvals"]
    assert [(a["tool"], a["kind"]) for a in approvals] == [("refund", "uncertain")], approvals
    assert paused["approvals"] == approvals and "may or may not" in approvals[0]["reason"]
    assert len(site.effects("refund.done")) == 1  # not run blindly again
    assert site.model_calls(1) == 1 and site.model_calls(2) == 0
    # Nothing of the paused turn is in the conversation yet (a first turn: no conversation at all).
    with httpx.Client(base_url=second.url, timeout=10) as client:
        assert client.get("/api/sessions/crash-refund").status_code == 404


def test_killed_while_a_tool_with_an_idempotency_key_runs_it_is_called_again_with_the_same_key(
        crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("pay", {"order": "A3"})]),
                              Reply(text="Order A3 is paid."))
    site.close_gate()
    first = site.worker()
    location = submit(first, "Pay order A3", "crash-pay")
    kill_when(site, first, lambda: site.payments(), "the payment")

    site.open_gate()
    second = site.worker()
    done = settled(second, location)
    assert done["status"] == "completed", done
    assert done["response"]["response"] == "Order A3 is paid."
    calls = site.effects("pay.called")
    assert len(calls) == 2 and calls[0]["key"] == calls[1]["key"] and len(calls[0]["key"]) == 32
    assert calls[0]["pid"] != calls[1]["pid"]  # once per worker
    assert len(site.payments()) == 1  # the payment service applied the key once
    assert site.model_calls(1) == 1 and site.model_calls(2) == 1


def test_killed_after_the_tool_finished_the_tool_does_not_run_again(crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "A4"})]),
                              Reply(text="Never delivered.", delay=30), Reply(text="Order A4 has shipped."))
    first = site.worker()
    location = submit(first, "Where is order A4?", "crash-after-tool")
    # The second model call started: the tool finished and its result was recorded before it.
    kill_when(site, first, lambda: site.model_calls(2) == 1, "the model call after the tool")

    second = site.worker()
    done = settled(second, location)
    assert done["status"] == "completed", done
    assert done["response"]["response"] == "Order A4 has shipped."
    assert len(site.effects("lookup.called")) == 1 and len(site.effects("lookup.done")) == 1
    assert site.model_calls(1) == 1
    assert site.model_calls(2) == 2  # the interrupted call never completed, so it was made again
    assert history(second, "crash-after-tool") == [
        ("user", "Where is order A4?"), ("assistant", "lookup"), ("tool", "order A4 shipped"),
        ("assistant", "Order A4 has shipped.")]


def test_killed_while_the_final_answer_streams_the_answer_is_delivered_once(crash_site: CrashSite) -> None:
    site = crash_site
    cut = "This answer is cut off halfway through its streaming by the kill."
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "A5"})]),
                              Reply(text=cut, chunk_size=2, chunk_delay=0.3), Reply(text="Order A5 has shipped."))
    first = site.worker()
    location = submit(first, "Where is order A5?", "crash-streaming")
    wait_for(lambda: site.model_calls(2) == 1, what="the final answer's model call")
    time.sleep(1.5)  # a few chunks of the answer are out
    first.kill()

    second = site.worker()
    done = settled(second, location)
    assert done["status"] == "completed", done
    assert done["response"]["response"] == "Order A5 has shipped."
    assert len(site.effects("lookup.done")) == 1
    assert site.model_calls(1) == 1
    messages = history(second, "crash-streaming")
    assert [m for m in messages if m[0] == "assistant" and m[1] != "lookup"] == [
        ("assistant", "Order A5 has shipped.")]
    assert cut not in str(messages)
    # A client following the turn's kept events sees one end, with the resumed turn's answer.
    with httpx.Client(base_url=second.url, timeout=10) as client:
        kept = client.get("/api/sessions/crash-streaming/stream").text
    assert kept.count("event: done") == 1 and "Order A5 has shipped." in kept, kept[-2000:]


def test_a_drained_worker_parks_its_turn_at_a_step_boundary_and_the_next_worker_resumes_it(
        crash_site: CrashSite) -> None:
    site = crash_site
    # Platform defaults for the lease and the message's visibility: only a released turn comes back in time.
    site.env.update({"AGENTS_TURN_LEASE_SECONDS": "120", "AGENTS_LOCAL_QUEUE_VISIBILITY_SECONDS": "600"})
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "C1"})], delay=2.0),
                              Reply(text="Order C1 has shipped."))
    first = site.worker()
    location = submit(first, "Where is order C1?", "drain-1")
    wait_for(lambda: site.model_calls(1) == 1, what="the first model call")
    # SIGTERM while the model thinks: the worker waits for the answer, records it and stops before the tool.
    assert first.drain() in (0, -15), first.output[-3000:]
    assert site.effects("lookup.called") == [], "the tool started although the worker was draining"
    assert "parked at a step boundary" in first.output

    started = time.monotonic()
    second = site.worker()
    done = settled(second, location, timeout=30)
    assert done["status"] == "completed", done
    assert done["response"]["response"] == "Order C1 has shipped."
    assert time.monotonic() - started < 30  # nowhere near the 120 s lease or the 600 s visibility
    assert site.model_calls(1) == 1  # the answer received while draining was recorded and replayed
    assert site.model_calls(2) == 1
    assert len(site.effects("lookup.called")) == 1 and len(site.effects("lookup.done")) == 1
    assert done["attempts"] == 1  # parking is not a failed attempt


def test_a_turn_resumed_by_a_version_without_the_tool_it_asked_for_answers_that_the_tool_is_gone(
        crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("lookup", {"code": "D1"})]),
                              Reply(text="I cannot look orders up any more."))
    site.close_gate()
    first = site.worker()
    location = submit(first, "Where is order D1?", "redeployed")
    kill_when(site, first, lambda: site.effects("lookup.called"), "the tool call")

    site.env["CRASH_TOOLS"] = "refund,pay"  # the new version has no lookup tool
    second = site.worker()
    done = settled(second, location)
    assert done["status"] == "completed", done
    assert done["response"]["response"] == "I cannot look orders up any more."
    assert site.model_calls(1) == 1  # the old version's recorded answer is kept
    assert site.effects("lookup.done") == []
    last = site.model.script.requests[-1]
    assert [t["function"]["name"] for t in last["tools"]] == ["refund", "pay"]
    answered = [m for m in last["messages"] if m["role"] == "tool"]
    assert len(answered) == 1 and "not available" in answered[0]["content"], answered


def test_a_person_who_rejects_the_uncertain_call_lets_the_turn_finish_without_running_it(
        crash_site: CrashSite) -> None:
    site = crash_site
    site.model.script.add_for(PROMPT, Reply(tool_calls=[ScriptedToolCall("refund", {"order": "A6"})]),
                              Reply(text="The refund may already have gone out; please check before retrying."))
    site.close_gate()
    first = site.worker()
    location = submit(first, "Refund order A6", "crash-decided")
    kill_when(site, first, lambda: site.effects("refund.done"), "the refund")
    site.open_gate()
    second = site.worker()
    paused = settled(second, location)
    assert paused["status"] == "awaiting_approval", paused
    approval = paused["approvals"][0]

    # The person checked the payment system and says: do not run it again. (The same agent, in this process.)
    async def decide() -> ChatResponse:
        with site.store() as store:
            try:
                agent = Agent(name=AGENT, instructions=PROMPT + ": you look up, refund and pay orders.",
                              tools=[FunctionTool(refund_stand_in, name="refund", repeatable=False)],
                              llm_config=LLMConfig(provider="openai", model_name="gpt-4o-mini", max_retries=0,
                                                   timeout=30, api_key=site.model.api_key,
                                                   base_url=site.model.base_url))
                return await Runner(agent, session_store=store).resume(
                    "crash-decided", paused["turn_id"], [ApprovalDecision(id=approval["id"], approved=False)])
            finally:
                await store.aclose()

    answer = asyncio.run(decide())
    assert answer.status == "success", answer
    assert answer.response == "The refund may already have gone out; please check before retrying."
    assert len(site.effects("refund.done")) == 1  # neither worker nor the decision ran it again
    told = [m for m in site.model.script.requests[-1]["messages"] if m["role"] == "tool"]
    assert len(told) == 1 and "chose not to run it again" in told[0]["content"], told
    assert site.model_calls(1) == 1 and site.model_calls(2) == 1


async def refund_stand_in(order: str) -> str:
    """Refund an order."""
    raise AssertionError("a rejected call must not run")
