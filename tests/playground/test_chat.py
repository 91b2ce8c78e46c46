"""Chatting from the playground with the streaming travel-guide sample: the streamed answer, the tool call card
with its arguments and result, usage and timing, errors with their code, sessions, and a reload mid-stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "advanced-features"


@pytest.fixture(scope="module")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLE, env=app_env(tmp_path_factory.mktemp("guide"), model)) as host:
        yield host


def send(page: Any, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.keyboard.press("Enter")


def test_page_is_served_with_the_api_base_and_a_strict_policy(host: LocalHostProcess) -> None:
    reply = httpx.get(f"{host.url}/playground", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta name="agents-api-base" content="/api">' in reply.text
    policy = reply.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "unsafe-inline" not in policy
    assert "Playground: " in host.output


def test_streamed_answer_and_tool_card(host: LocalHostProcess, script: Script, page: Any,
                                      screenshot: Any) -> None:
    script.add(
 Reply(tool_calls=[ScriptedToolCall("convert_temperature", {"value": 21, "to_unit": "fahrenheit"})],
       input_tokens=40, output_tokens=9),
 Reply(text="21 °C is 69.8 °F: a light jacket is enough for the evening.", chunk_delay=0.03,
       input_tokens=60, output_tokens=15))
    page.goto(f"{host.url}/playground")
    assert page.get_by_label("Agent").input_value() == "TravelGuide"
    page.get_by_text("Tools: local_time, convert_temperature").wait_for()
    send(page, "Is 21 degrees warm in Fahrenheit?")
    card = page.locator(".tool-card[data-tool=convert_temperature]")
    card.wait_for()
    assert '"to_unit": "fahrenheit"' in card.locator(".tool-arguments").inner_text()
    page.wait_for_function("document.querySelector('.tool-card .tool-state').textContent === 'done'")
    assert card.locator(".tool-result").inner_text() == "21 °C = 69.8 °F"
    answer = page.locator(".bubble.agent[data-agent=TravelGuide] .text")
    answer.filter(has_text="a light jacket is enough for the evening.").wait_for()
    meta = page.locator(".turn .meta").last
    meta.filter(has_text="Tokens: 100 in, 24 out").wait_for()
    assert "first event" in meta.inner_text() and "total" in meta.inner_text()
    session = page.get_by_label("Session id").input_value()
    assert len(session) >= 8
    # The same session continues: the model sees the first turn in the second turn's request.
    script.add(Reply(text="You are welcome."))
    send(page, "Thanks!")
    page.locator(".bubble.agent .text", has_text="You are welcome.").wait_for()
    assert page.get_by_label("Session id").input_value() == session
    assert any("Is 21 degrees warm" in str(m.get("content")) for m in script.requests[-1]["messages"])
    screenshot(page, "playground-chat.png")


def test_reload_mid_stream_resumes_the_answer(host: LocalHostProcess, script: Script, page: Any) -> None:
    words = " ".join(f"word{i}" for i in range(40))
    script.add(Reply(text=words, chunk_size=6, chunk_delay=0.12))
    page.goto(f"{host.url}/playground")
    page.get_by_label("Agent").wait_for()
    page.get_by_text("Tools: local_time").wait_for()
    send(page, "Count slowly")
    answer = page.locator(".bubble.agent .text")
    answer.filter(has_text="word3").wait_for()
    assert "word39" not in answer.inner_text()  # still streaming when the page goes away
    send(page, "A second message while the first is answered")  # one turn at a time: not sent
    assert page.locator(".turn").count() == 1
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.reload()
    page.locator(".turn .meta", has_text="resumed after reload").wait_for()
    page.locator(".bubble.agent .text", has_text="word39").wait_for()
    # Every piece once: what was shown before the reload, then the rest from ?after=<last event id>.
    assert page.locator(".bubble.agent .text").inner_text() == words
    assert page.locator(".turn .agent-turn").get_attribute("aria-busy") == "false"
    session = page.get_by_label("Session id").input_value()
    assert any(f"/api/sessions/{session}/stream?user_id=playground&after=" in url for url in requested), requested


def test_error_shows_its_code_and_message(host: LocalHostProcess, script: Script, page: Any) -> None:
    script.add(*[Reply(status=400) for _ in range(3)])
    page.goto(f"{host.url}/playground")
    page.get_by_text("Tools: local_time").wait_for()
    send(page, "Fail please")
    card = page.get_by_role("alert")
    card.wait_for()
    assert card.locator("code").inner_text() == "provider_error"
    assert "Error provider_error:" in card.inner_text()


def test_background_turn_on_an_app_without_background_work(host: LocalHostProcess, page: Any) -> None:
    page.goto(f"{host.url}/playground")
    page.get_by_text("Tools: local_time").wait_for()
    page.get_by_label("Background turn").check()
    send(page, "Later, please")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.locator("code").inner_text() == "async_not_enabled"
    assert "background=True" in alert.inner_text()


def test_json_mode_and_opening_a_session(host: LocalHostProcess, script: Script, page: Any) -> None:
    script.add(Reply(tool_calls=[ScriptedToolCall("local_time", {"timezone": "Asia/Tokyo"})]),
               Reply(text="It is evening in Tokyo."))
    page.goto(f"{host.url}/playground")
    page.get_by_text("Tools: local_time").wait_for()
    page.get_by_label("One JSON response").check()
    send(page, "Time in Tokyo?")
    page.locator(".bubble.agent .text", has_text="It is evening in Tokyo.").wait_for()
    assert page.locator(".tool-card[data-tool=local_time] .tool-result").inner_text().startswith("Asia/Tokyo: ")
    session = page.get_by_label("Session id").input_value()
    # A new session clears the transcript; opening the old one by id shows its history from the store.
    page.get_by_role("button", name="New session").click()
    assert page.locator(".turn").count() == 0
    assert page.get_by_label("Session id").input_value() == ""
    page.get_by_label("Session id").fill(session)
    page.get_by_role("button", name="Open session").click()
    page.locator(".bubble.agent .text", has_text="It is evening in Tokyo.").wait_for()
    assert page.locator(".bubble.user .text").inner_text() == "Time in Tokyo?"
    assert page.locator(".tool-card[data-tool=local_time]").count() == 1
    page.get_by_label("Session id").fill("no-such-session")
    page.get_by_role("button", name="Open session").click()
    page.locator("#app-status", has_text="session_not_found").wait_for()


def test_reload_during_a_json_turn_points_to_the_session(host: LocalHostProcess, script: Script,
                                                         page: Any) -> None:
    script.add(Reply(text="First answer."), Reply(text="Slow answer.", delay=2.5))
    page.goto(f"{host.url}/playground")
    page.get_by_text("Tools: local_time").wait_for()
    page.get_by_label("One JSON response").check()
    send(page, "First")
    page.locator(".bubble.agent .text", has_text="First answer.").wait_for()
    send(page, "Second, slowly")
    page.locator(".agent-turn[aria-busy=true]").wait_for(state="attached")
    page.reload()
    page.get_by_text("The page was reloaded before this answer arrived").wait_for()
    session = page.get_by_label("Session id").input_value()
    for _ in range(100):  # the turn goes on in the app: wait until it saved its answer
        history = httpx.get(f"{host.url}/api/sessions/{session}", params={"user_id": "playground"}, timeout=10)
        if history.json()["messages"][-1]["content"] == "Slow answer.":
            break
        time.sleep(0.1)
    page.get_by_role("button", name="Open session").click()
    page.locator(".bubble.agent .text", has_text="Slow answer.").wait_for()
    assert page.locator(".bubble.user .text").all_inner_texts() == ["First", "Second, slowly"]
