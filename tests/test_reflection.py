"""ReflectionAgent: evaluate, improve, report honestly, keep per-request state."""

from __future__ import annotations

import asyncio

import pytest

from azurefunctions.agents import ReflectionAgent, Runner
from azurefunctions.agents.events import ReflectionEvaluated
from azurefunctions.agents.types import LLMConfig
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply
from tests.test_seed_readme import run_block

REVIEWER = "You are a strict reviewer"


def evaluation(score: float, feedback: str = "ok") -> Reply:
    return Reply(text=f'{{"score": {score}, "feedback": "{feedback}"}}')


def make(server: OpenAIServer, **kwargs: object) -> ReflectionAgent:
    config = LLMConfig(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    return ReflectionAgent(name="SmartAgent", instructions="You write answers", llm_config=config,
                           **kwargs)  # type: ignore[arg-type]


async def test_a_first_answer_that_passes_is_reported_as_evaluated(openai: OpenAIServer) -> None:
    openai.script.add_for("You write answers", Reply(text="Paris is the capital of France."))
    openai.script.add_for(REVIEWER, evaluation(0.95, "complete"))
    response = await Runner(make(openai)).run("Capital of France?")
    report = response.to_dict()["reflection"]
    assert response.response == "Paris is the capital of France."
    assert report["final_score"] == 0.95 and report["threshold_met"] is True
    assert report["iterations"] == 1 and report["evaluated"] is True
    assert report["history"] == [{"iteration": 1, "answer": "Paris is the capital of France.", "score": 0.95,
                                  "feedback": "complete"}]
    review = next(r for r in openai.script.requests if r["messages"][0]["content"].startswith(REVIEWER))
    assert review["response_format"] == {"type": "json_object"}
    assert "Paris is the capital of France." in review["messages"][1]["content"]


async def test_a_low_then_high_score_improves_and_returns_the_better_answer(openai: OpenAIServer) -> None:
    openai.script.add_for("You write answers", Reply(text="Paris."), Reply(text="Paris, on the Seine."))
    openai.script.add_for(REVIEWER, evaluation(0.3, "too short"), evaluation(0.9, "good"))
    events = [e async for e in Runner(make(openai)).run_stream("Capital of France?")]
    scores = [e.score for e in events if isinstance(e, ReflectionEvaluated)]
    assert scores == [0.3, 0.9]
    done = events[-1].response  # type: ignore[attr-defined]
    assert done.response == "Paris, on the Seine."
    assert done.to_dict()["reflection"]["iterations"] == 2
    improve = [r for r in openai.script.requests if r["messages"][0]["content"] == "You write answers"][1]
    assert "Feedback: too short" in improve["messages"][-1]["content"]


async def test_at_the_limit_the_best_answer_is_returned_not_the_last(openai: OpenAIServer) -> None:
    openai.script.add_for("You write answers", Reply(text="first"), Reply(text="second"), Reply(text="third"))
    openai.script.add_for(REVIEWER, evaluation(0.5), evaluation(0.7), evaluation(0.6))
    response = await Runner(make(openai, max_reflection_iterations=3)).run("q")
    report = response.to_dict()["reflection"]
    assert response.response == "second"
    assert report["threshold_met"] is False and report["final_score"] == 0.7 and report["best_iteration"] == 2
    assert [h["score"] for h in report["history"]] == [0.5, 0.7, 0.6]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_custom_evaluation_function(openai: OpenAIServer, kind: str) -> None:
    seen: list[tuple[str, str]] = []

    def judge(question: str, answer: str) -> tuple[float, str]:
        seen.append((question, answer))
        return (1.0, "long enough") if len(answer) > 10 else (0.2, "longer please")

    async def async_judge(question: str, answer: str) -> tuple[float, str]:
        return judge(question, answer)

    openai.script.add_for("You write answers", Reply(text="short"), Reply(text="a much longer answer"))
    agent = make(openai, evaluation_function=judge if kind == "sync" else async_judge)
    response = await Runner(agent).run("explain")
    assert response.response == "a much longer answer"
    assert seen == [("explain", "short"), ("explain", "a much longer answer")]
    assert not any(r["messages"][0]["content"].startswith(REVIEWER) for r in openai.script.requests)


async def test_an_unparsable_evaluation_is_retried_once_then_reported_failed(openai: OpenAIServer) -> None:
    openai.script.add_for("You write answers", Reply(text="an answer"))
    openai.script.add_for(REVIEWER, Reply(text="I think it is fine"), Reply(text='{"score": "high"}'))
    response = await Runner(make(openai)).run("q")
    report = response.to_dict()["reflection"]
    assert response.status == "success" and response.response == "an answer"
    assert report["evaluated"] is False and report["final_score"] is None and report["threshold_met"] is False
    assert "evaluation failed" in report["history"][0]["feedback"]
    assert sum(r["messages"][0]["content"].startswith(REVIEWER) for r in openai.script.requests) == 2


async def test_concurrent_requests_keep_separate_histories() -> None:
    calls: dict[str, int] = {}

    async def judge(question: str, answer: str) -> tuple[float, str]:
        calls[question] = calls.get(question, 0) + 1
        await asyncio.sleep(0.05)  # both requests are inside their reflection loops at the same time
        return (0.2, "again") if calls[question] == 1 else (0.9, "good")

    agent = ReflectionAgent(name="Twin", llm_config=LLMConfig(provider="offline"), evaluation_function=judge)
    runner = Runner(agent)
    first, second = await asyncio.gather(runner.run("alpha question"), runner.run("beta question"))
    for response, own, other in ((first, "alpha", "beta"), (second, "beta", "alpha")):
        report = response.to_dict()["reflection"]
        assert [h["score"] for h in report["history"]] == [0.2, 0.9]
        assert own in report["history"][0]["answer"] and other not in str(report["history"])
        assert report["best_iteration"] == 2


README_SNIPPET = '''
from azurefunctions.agents import ReflectionAgent
reflection_agent = ReflectionAgent(
name="SmartAgent",
instructions="You are an AI that reflects on and improves responses",
llm_config=llm_config,
# Reflection-specific parameters
max_reflection_iterations=3,
reflection_threshold=0.8,
enable_self_evaluation=True
)
'''


async def test_readme_snippet(openai: OpenAIServer) -> None:
    ns = run_block(README_SNIPPET, {"llm_config": LLMConfig(api_key=openai.api_key, base_url=openai.base_url)})
    agent = ns["reflection_agent"]
    openai.script.add_for("You are an AI that reflects", Reply(text="An answer."))
    openai.script.add_for(REVIEWER, evaluation(0.85))
    assert await agent.chat("Hello") == "An answer."
    assert agent.info()["reflection"] == {"max_iterations": 3, "threshold": 0.8, "self_evaluation": True,
                                          "custom_evaluation": False}


def test_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="reflection_threshold"):
        ReflectionAgent(name="x", reflection_threshold=2, llm_config=LLMConfig(provider="offline"))
    with pytest.raises(ValueError, match="max_reflection_iterations"):
        ReflectionAgent(name="x", max_reflection_iterations=0, llm_config=LLMConfig(provider="offline"))
