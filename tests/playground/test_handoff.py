"""Following a handoff from the playground: the weather advisory swarm sample, each agent scripted by its
instructions, its tools running for real on the sample's climate table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "handoff-swarm"
WEATHER, ADVICE = "You are the weather", "You are the travel advice"


@pytest.fixture(scope="module")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLE, env=app_env(tmp_path_factory.mktemp("swarm"), model)) as host:
        yield host


def call(name: str, **arguments: Any) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall(name, arguments)])


@pytest.mark.parametrize("mode", ["Stream (server-sent events)", "One JSON response"])
def test_handoff_path_tools_and_answer(host: LocalHostProcess, script: Script, page: Any, mode: str,
                                       screenshot: Any) -> None:
    script.add_for(WEATHER, call("get_weather_outlook", city="Paris", month="July"),
                   call("transfer_to_advice", reason="the user asks what to pack"))
    script.add_for(ADVICE, call("packing_advice", high_c=26, low_c=16, rain_days=7),
                   Reply(text="Pack light: t-shirts, sunglasses and sun cream."))
    page.goto(f"{host.url}/playground")
    assert page.get_by_label("Agent").input_value() == "weather"
    page.get_by_text("Hands off to: temperature_converter, advice (swarm)").wait_for()
    page.get_by_label(mode).check()
    page.get_by_label("Message", exact=True).fill("Paris in July: what should I pack?")
    page.get_by_role("button", name="Send").click()
    page.locator(".bubble.agent[data-agent=advice] .text", has_text="Pack light").wait_for()
    handoff = page.locator(".handoff")
    assert handoff.count() == 1
    assert handoff.get_attribute("data-from") == "weather" and handoff.get_attribute("data-to") == "advice"
    if mode.startswith("Stream"):  # the stream carries the model's reason; a JSON answer only the path
        assert handoff.inner_text() == "Handoff: weather → advice (the user asks what to pack)"
    outlook = page.locator(".tool-card[data-tool=get_weather_outlook] .tool-result")
    assert outlook.inner_text().startswith("Paris in July")
    assert page.locator(".tool-card[data-tool=get_weather_outlook] .tool-state").inner_text() == "done"
    assert page.locator(".tool-card[data-tool=packing_advice] .tool-state").inner_text() == "done"
    page.locator(".turn .meta", has_text="Path: weather → advice").wait_for()
    if mode.startswith("Stream"):
        page.set_viewport_size({"width": 1200, "height": 900})
        screenshot(page, "playground-handoff.png")
