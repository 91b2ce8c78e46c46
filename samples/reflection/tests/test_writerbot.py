"""WriterBot served by the local host: the rubric drives improvement and the report reaches the client."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply

SAMPLE = Path(__file__).resolve().parents[1]


def load_rubric():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("writer_rubric", SAMPLE / "rubric.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def writer(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = {"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
           "AGENTS_SESSION_DB": str(tmp_path_factory.mktemp("writer") / "s.sqlite3")}
    with LocalHostProcess(SAMPLE, env=env) as host:
        yield host


def test_rubric_scores_and_explains() -> None:
    rubric = load_rubric()
    score, feedback = rubric.score_answer("q", "Short.")
    assert score == pytest.approx(0.3)
    assert feedback == "it is too short: give at least two full sentences; add a concrete example ('for example ...')"
    good = ("Cold starts happen when a new instance loads your code. For example, importing a large SDK adds "
            "seconds before the first request is served.")
    assert rubric.score_answer("q", good) == (1.0, "clear, concrete and complete")


def test_a_weak_draft_is_improved_and_the_report_is_returned(writer: LocalHostProcess, model: OpenAIServer) -> None:
    model.script.clear()
    better = ("Serverless platforms start new instances on demand. For example, the first request after idle "
              "time waits while the runtime loads your code and its dependencies.")
    model.script.add(Reply(text="Because of startup."), Reply(text=better))
    body = httpx.post(f"{writer.url}/api/agents/WriterBot/chat", json={"message": "Why cold starts?"},
                      timeout=30).json()
    assert body["response"] == better
    report = body["reflection"]
    assert report["iterations"] == 2 and report["threshold_met"] is True and report["best_iteration"] == 2
    assert "too short" in report["history"][0]["feedback"]
    assert "Feedback: it is too short" in model.script.requests[1]["messages"][-1]["content"]


def test_info_describes_the_reflection_settings(writer: LocalHostProcess) -> None:
    info = httpx.get(f"{writer.url}/api/agents/WriterBot/info").json()
    assert info["type"] == "ReflectionAgent"
    assert info["reflection"] == {"max_iterations": 3, "threshold": 0.8, "self_evaluation": False,
                                  "custom_evaluation": True}


def test_offline_model_runs_the_reflection_loop(tmp_path: Path) -> None:
    env = {"AGENTS_SESSION_DB": str(tmp_path / "s.sqlite3")}
    with LocalHostProcess(SAMPLE, env=env) as host:
        body = httpx.post(f"{host.url}/api/agents/WriterBot/chat", json={"message": "Explain caching"},
                          timeout=30).json()
    assert body["response"].startswith("[offline model]")
    history = body["reflection"]["history"]
    assert history[0]["score"] == 0.7 and "concrete example" in history[0]["feedback"]
    assert body["reflection"]["iterations"] == 2 and body["response"] == history[1]["answer"]
