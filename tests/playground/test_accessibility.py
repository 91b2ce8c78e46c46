"""Accessibility of the playground: axe-core (Deque's rules engine, from npm) run in the page on a transcript
with every kind of card, in the light and dark colour schemes; keyboard-only use; a narrow (phone) window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.playground.conftest import AXE, missing
from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "advanced-features"
#: WCAG 2.1 A and AA: labels, names, roles, contrast, landmarks, language.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture(scope="module")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLE, env=app_env(tmp_path_factory.mktemp("a11y"), model)) as host:
        yield host


def converse(page: Any, script: Script) -> None:
    """A turn with a tool card and an answer, then a failed turn with its error card."""
    script.add(Reply(tool_calls=[ScriptedToolCall("local_time", {"timezone": "Europe/Paris"})]),
               Reply(text="It is mid-afternoon in Paris."), *[Reply(status=400) for _ in range(3)])
    page.get_by_label("Message", exact=True).fill("Time in Paris?")
    page.keyboard.press("Enter")
    page.locator(".bubble.agent .text", has_text="mid-afternoon").wait_for()
    page.get_by_label("Message", exact=True).fill("And now fail")
    page.keyboard.press("Enter")
    page.get_by_role("alert").wait_for()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violations(host: LocalHostProcess, script: Script, browser: Any, scheme: str) -> None:
    if not AXE.exists():
        missing(f"axe-core is not installed ({AXE} is missing; npm ci in tests/playground/node)")
    # The page's policy admits only its own script; axe is injected by the test, so this context bypasses it.
    context = browser.new_context(bypass_csp=True, color_scheme=scheme, viewport={"width": 1200, "height": 820})
    try:
        page = context.new_page()
        page.goto(f"{host.url}/playground")
        page.get_by_text("Tools: local_time").wait_for()
        converse(page, script)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
        violations = [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
                      for v in result["violations"]]
        assert violations == [], json.dumps(violations, indent=1)
        assert result["passes"], "axe ran no checks"
        assert any(p["id"] == "color-contrast" for p in result["passes"])
    finally:
        context.close()


def test_keyboard_only(host: LocalHostProcess, script: Script, page: Any) -> None:
    script.add(Reply(text="Hello from the keyboard test."))
    page.goto(f"{host.url}/playground")
    page.get_by_text("Tools: local_time").wait_for()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the message box"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "message"
    page.keyboard.type("Hi")
    page.keyboard.press("Shift+Enter")  # a new line, not a send
    page.keyboard.type("there")
    assert page.get_by_label("Message", exact=True).input_value() == "Hi\nthere"
    page.keyboard.press("Enter")
    page.locator(".bubble.agent .text", has_text="Hello from the keyboard test.").wait_for()
    assert page.locator(".bubble.user .text").inner_text() == "Hi\nthere"
    assert page.evaluate("document.activeElement.id") == "message"  # ready for the next message
    # Every control is reachable with Tab, in reading order, and shows where the focus is.
    page.locator("#agent").focus()
    order = []
    for _ in range(9):
        order.append(page.evaluate("document.activeElement.id || document.activeElement.value || "
                                   "document.activeElement.textContent"))
        assert page.evaluate("getComputedStyle(document.activeElement, ':focus-visible').outlineStyle") != "none"
        page.keyboard.press("Tab")
    assert order == ["agent", "stream", "user-id", "session-id", "open-session", "new-session", "Function key",
                     "message", "send"]


def test_narrow_window(host: LocalHostProcess, script: Script, browser: Any, screenshot: Any) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{host.url}/playground")
        page.get_by_text("Tools: local_time").wait_for()
        converse(page, script)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the page scrolls sideways: {width}"
        send = page.get_by_role("button", name="Send")
        send.scroll_into_view_if_needed()
        box = send.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 360 and box["height"] >= 40  # a touch-sized target
        page.locator(".tool-card").first.scroll_into_view_if_needed()
        screenshot(page, "playground-narrow.png")
    finally:
        context.close()
