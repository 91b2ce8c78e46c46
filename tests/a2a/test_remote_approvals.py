"""A remote A2A agent used as a tool carries the approval declarations to its tool (the loop reads them there)."""

from __future__ import annotations

import pytest

from azurefunctions.agents import RemoteA2AAgent


def test_the_declarations_reach_the_remote_agents_tool() -> None:
    policy = lambda args, ctx: "refund" in args.get("message", "")  # noqa: E731
    remote = RemoteA2AAgent("http://127.0.0.1:9/", name="billing", needs_approval=policy,
                            approval_reason="Billing changes money", repeatable=False)
    tool = remote.as_tool()
    assert tool.needs_approval is policy and tool.approval_reason == "Billing changes money"
    assert tool.repeatable is False and tool.accepts_idempotency_key is False
    plain = RemoteA2AAgent("http://127.0.0.1:9/", name="faq").as_tool()
    assert (plain.needs_approval, plain.approval_reason, plain.repeatable) == (False, None, True)


@pytest.mark.parametrize(("option", "value"), [("needs_approval", "always"), ("repeatable", 0),
                                               ("approval_reason", 3)])
def test_a_wrong_declaration_names_itself(option: str, value: object) -> None:
    with pytest.raises(TypeError, match=option):
        RemoteA2AAgent("http://127.0.0.1:9/", name="billing", **{option: value})  # type: ignore[arg-type]
