"""Each limit has a safe default, a documented setting and a clear error when it is reached."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from azurefunctions.agents import limits, settings
from tests.security.conftest import SURFACE_APP, surface_env
from tests.servers.localhost import LocalHostProcess
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply

DOC = (Path(__file__).resolve().parents[2] / "docs" / "limits.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    env = surface_env(model, tmp_path_factory.mktemp("limits"), AGENTS_MAX_MESSAGE_CHARS="200",
                      AGENTS_MAX_CONCURRENT_TURNS="1", AGENTS_TURN_TIMEOUT_SECONDS="2")
    with LocalHostProcess(SURFACE_APP, env=env) as process:
        model.script.add(Reply(text="warm"))  # the first turn imports the model SDK; keep it out of the timings
        httpx.post(f"{process.url}/api/agents/Orders/chat", json={"message": "warm up"}, timeout=30)
        yield process


def test_every_limit_is_documented_with_its_setting_and_default() -> None:
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| ([a-z ]+) \|.*$", DOC, re.MULTILINE)}
    for limit in limits.LIMITS:
        assert limit.name in rows, f"{limit.name} missing from docs/limits.md"
        assert f"`{limit.setting}`" in rows[limit.name] and f"`{limit.default}`" in rows[limit.name]
        assert f"`{limit.code}`" in rows[limit.name]
    assert set(rows) - {"Limit"} == {limit.name for limit in limits.LIMITS}


def test_limit_settings_must_be_positive_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.MAX_CONCURRENT_TURNS.name, "many")
    with pytest.raises(ValueError, match="AGENTS_MAX_CONCURRENT_TURNS must be an integer"):
        limits.Limits.from_settings()
    monkeypatch.setenv(settings.MAX_CONCURRENT_TURNS.name, "0")
    with pytest.raises(ValueError, match="AGENTS_MAX_CONCURRENT_TURNS must be a positive integer"):
        limits.Limits.from_settings()
    monkeypatch.delenv(settings.MAX_CONCURRENT_TURNS.name)
    defaults = limits.Limits.from_settings(max_body_bytes=10)
    assert (defaults.max_body_bytes, defaults.max_message_chars, defaults.max_concurrent_turns) == (10, 100000, 64)


def test_tool_calls_beyond_the_limit_are_split_off_with_an_error_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.MAX_TOOL_CALLS_PER_MODEL_TURN.name, raising=False)
    assert limits.tool_call_limit() == 16
    monkeypatch.setenv(settings.MAX_TOOL_CALLS_PER_MODEL_TURN.name, "2")
    run, refused = limits.split_tool_calls(["a", "b", "c"], limits.tool_call_limit())
    assert (run, refused) == (["a", "b"], ["c"])
    assert "AGENTS_MAX_TOOL_CALLS_PER_MODEL_TURN" in limits.too_many_tool_calls_result(2)


def test_a_message_over_the_limit_is_400_message_too_long(host: LocalHostProcess, script) -> None:  # type: ignore[no-untyped-def]
    url = f"{host.url}/api/agents/Orders/chat"
    too_long = httpx.post(url, json={"message": "x" * 201})
    assert too_long.status_code == 400
    error = too_long.json()["error"]
    assert error["code"] == "message_too_long" and "AGENTS_MAX_MESSAGE_CHARS" in error["message"]
    assert script.calls == 0  # refused before any model call
    script.add(Reply(text="ok"))
    assert httpx.post(url, json={"message": "x" * 200}).status_code == 200


def test_a_turn_over_the_concurrency_limit_is_503_with_retry_after(host: LocalHostProcess, script) -> None:  # type: ignore[no-untyped-def]
    script.add(Reply(text="slow answer", delay=0.7))
    first: dict[str, httpx.Response] = {}
    worker = threading.Thread(target=lambda: first.setdefault(
        "r", httpx.post(f"{host.url}/api/agents/Orders/chat", json={"message": "one"}, timeout=10)))
    worker.start()
    deadline = time.monotonic() + 5
    while script.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    busy = httpx.post(f"{host.url}/api/agents/Admin/chat", json={"message": "two"})
    mcp_busy = httpx.post(f"{host.url}/api/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                          headers={"accept": "application/json, text/event-stream"})
    worker.join(timeout=10)
    assert busy.status_code == 503 and busy.json()["error"]["code"] == "too_busy"
    assert busy.headers["retry-after"] == "2" and "AGENTS_MAX_CONCURRENT_TURNS" in busy.json()["error"]["message"]
    assert mcp_busy.status_code == 503
    assert first["r"].status_code == 200
    assert httpx.get(f"{host.url}/api/health").status_code == 200  # non-turn routes are never refused
    script.add(Reply(text="again"))
    assert httpx.post(f"{host.url}/api/agents/Orders/chat", json={"message": "three"}).status_code == 200


def test_a_streamed_turn_holds_its_slot_until_the_stream_ends(host: LocalHostProcess, script) -> None:  # type: ignore[no-untyped-def]
    script.add(Reply(text="streamed answer"), Reply(text="next"))
    with httpx.stream("POST", f"{host.url}/api/agents/Orders/chat",
                      json={"message": "stream it", "stream": True}) as streamed:
        assert streamed.status_code == 200
        body = b"".join(streamed.iter_bytes())
    assert b"event: done" in body
    assert httpx.post(f"{host.url}/api/agents/Orders/chat", json={"message": "after"}).status_code == 200


def test_a_turn_over_the_time_limit_is_504_and_saves_nothing(host: LocalHostProcess, script) -> None:  # type: ignore[no-untyped-def]
    script.add(Reply(text="too late", delay=3.5))
    started = time.monotonic()
    slow = httpx.post(f"{host.url}/api/agents/Orders/chat",
                      json={"message": "slow", "session_id": "limits-timeout-1", "user_id": "tim"}, timeout=10)
    assert time.monotonic() - started < 3.4
    assert slow.status_code == 504
    assert slow.json()["error"]["code"] == "turn_timeout"
    assert "AGENTS_TURN_TIMEOUT_SECONDS" in slow.json()["error"]["message"]
    saved = httpx.get(f"{host.url}/api/sessions/limits-timeout-1", params={"user_id": "tim"})
    assert saved.status_code == 404
    # the slot is free again at once, while the model server is still sleeping on the abandoned call
    script.add(Reply(text="quick"))
    assert httpx.post(f"{host.url}/api/agents/Orders/chat", json={"message": "quick"}).status_code == 200
