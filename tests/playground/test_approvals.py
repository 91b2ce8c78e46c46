"""Approving and rejecting tool calls from the playground, against the order-refund sample: an approval card per
pending call (agent, tool, arguments, reason) with Approve / Reject and a message; the decision goes to the
approvals route and the resumed turn's answer is shown, in each answer mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.localhost import LocalHostProcess, app_env
from tests.servers.openai_server import OpenAIServer
from tests.servers.scripted import Reply, Script, ScriptedToolCall

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "order-refund"


@pytest.fixture(scope="module")
def host(model: OpenAIServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHostProcess]:
    with LocalHostProcess(SAMPLE, env=app_env(tmp_path_factory.mktemp("refunds"), model)) as host:
        yield host


def send(page: Any, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.keyboard.press("Enter")


def refund(amount: float, order: str) -> Reply:
    return Reply(tool_calls=[ScriptedToolCall("refund_order", {"order_id": order, "amount": amount})])


@pytest.mark.parametrize("mode", ["stream", "json"])
def test_approve_from_the_card_and_see_the_resumed_answer(host: LocalHostProcess, script: Script,
                                                          page: Any, mode: str) -> None:
    script.add(refund(60, "B2001"), Reply(text=f"Refunded 60 EUR on B2001 ({mode})."))
    page.goto(f"{host.url}/playground")
    page.get_by_label("Agent").wait_for()
    page.locator(f'input[name="mode"][value="{mode}"]').check()
    send(page, "Refund 60 EUR on B2001")
    card = page.locator(".approval-card[data-tool=refund_order]")
    card.wait_for()
    assert "RefundDesk wants to call refund_order" in card.locator(".approval-title").inner_text()
    assert card.locator(".approval-reason").inner_text() == "Refund 60.00 EUR on order B2001."
    assert '"amount": 60' in card.locator(".tool-arguments").inner_text()
    card.get_by_role("button", name="Approve").click()
    page.locator(".bubble.user .text").filter(has_text="Approved refund_order").wait_for()
    page.locator(".bubble.agent .text").filter(has_text=f"Refunded 60 EUR on B2001 ({mode}).").wait_for()
    assert card.locator(".approval-state").inner_text() == "You approved."
    assert card.get_by_role("button", name="Approve").is_disabled()
    tools = [m["content"] for m in script.requests[-1]["messages"] if m.get("role") == "tool"]
    assert tools[-1] == "Refunded 60.00 EUR on B2001 (rain jacket)."


def test_reject_with_a_message_and_the_model_explains(host: LocalHostProcess, script: Script,
                                                      page: Any) -> None:
    script.add(refund(90, "B2001"), Reply(text="The refund was declined; a voucher is on its way."))
    page.goto(f"{host.url}/playground")
    page.get_by_label("Agent").wait_for()
    page.locator('input[name="mode"][value="json"]').check()
    send(page, "Refund 90 EUR on B2001")
    card = page.locator(".approval-card[data-tool=refund_order]")
    card.wait_for()
    card.get_by_label("Message for the model about refund_order").fill("Offer a voucher.")
    card.get_by_role("button", name="Reject").click()
    page.locator(".bubble.agent .text").filter(has_text="a voucher is on its way").wait_for()
    assert page.locator(".bubble.user .text").last.inner_text() == "Rejected refund_order: Offer a voucher."
    [refusal] = [m["content"] for m in script.requests[-1]["messages"] if m.get("role") == "tool"][-1:]
    assert "did not approve" in refusal and "Offer a voucher." in refusal



@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_approval_card_passes_axe(host: LocalHostProcess, script: Script, browser: Any,
                                      scheme: str) -> None:
    """The card's buttons, message box and texts meet WCAG 2.1 AA (axe-core, as tests/playground/
    test_accessibility.py runs it) in both colour schemes."""
    import json

    from tests.playground.conftest import AXE, missing
    from tests.playground.test_accessibility import AXE_TAGS

    if not AXE.exists():
        missing(f"axe-core is not installed ({AXE} is missing; npm ci in tests/playground/node)")
    script.add(refund(70, "B2001"))
    context = browser.new_context(bypass_csp=True, color_scheme=scheme, viewport={"width": 1200, "height": 820})
    try:
        page = context.new_page()
        page.goto(f"{host.url}/playground")
        page.get_by_label("Agent").wait_for()
        send(page, "Refund 70 EUR on B2001")
        page.locator(".approval-card[data-tool=refund_order]").wait_for()
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
        violations = [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]}
                      for v in result["violations"]]
        assert violations == [], json.dumps(violations, indent=1)
    finally:
        context.close()


def test_a_waiting_card_survives_a_reload_and_still_decides(host: LocalHostProcess, script: Script,
                                                            page: Any) -> None:
    script.add(refund(80, "B2001"), Reply(text="Refunded 80 EUR after the reload."))
    page.goto(f"{host.url}/playground")
    page.get_by_label("Agent").wait_for()
    page.locator('input[name="mode"][value="json"]').check()
    send(page, "Refund 80 EUR on B2001")
    page.locator(".approval-card[data-tool=refund_order]").wait_for()
    page.reload()
    card = page.locator(".approval-card[data-tool=refund_order]")
    card.wait_for()
    approve = card.get_by_role("button", name="Approve")
    assert approve.is_enabled()
    approve.click()
    page.locator(".bubble.agent .text").filter(has_text="Refunded 80 EUR after the reload.").wait_for()
    page.reload()  # a decided card stays decided
    decided = page.locator(".approval-card[data-tool=refund_order]")
    decided.wait_for()
    assert decided.get_by_role("button", name="Approve").is_disabled()
    assert decided.locator(".approval-state").inner_text() == "You approved."
