"""The package's public surface: every name the seed README imports, and a cheap import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = {"openai", "anthropic", "google", "ollama", "mcp", "a2a", "fastapi", "pydantic", "aiosqlite",
         "opentelemetry"}


def test_import_loads_no_sdk() -> None:
    code = ("import azurefunctions.agents, sys, json; print(json.dumps(sorted(m for m in sys.modules "
            f"if m.split('.')[0] in {HEAVY!r} or m.startswith('azure.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_issue_check_command_prints_empty_list() -> None:
    code = ("import azurefunctions.agents, sys; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'openai','anthropic','google','ollama','mcp','a2a','fastapi'} or m.startswith('azure.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("module", "names"), [
    ("azurefunctions.agents", ["Agent", "ReflectionAgent", "AgentFunctionApp", "AgentMode", "Runner", "MCPServer",
                               "MCPServerMode", "MCPServerStdioParams", "MCPServerSseParams",
                               "MCPServerStreamableHttpParams"]),
    ("azurefunctions.agents.types", ["LLMConfig", "LLMProvider", "ChatRequest", "ChatResponse"]),
    ("azurefunctions.agents.runner", ["Runner"]),
    ("azurefunctions.agents.handoff", ["HandoffConfig", "HandoffTarget", "HandoffMode", "HandoffStrategy"]),
])
def test_seed_readme_names_exist(module: str, names: list[str]) -> None:
    imported = __import__(module, fromlist=names)
    for name in names:
        assert getattr(imported, name) is not None, f"{module}.{name}"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import azurefunctions.agents as agents

    with pytest.raises(AttributeError, match="NoSuchThing"):
        agents.NoSuchThing  # noqa: B018


def test_building_an_openai_agent_does_not_import_other_sdks() -> None:
    code = ("import sys\nfrom azurefunctions.agents import Agent\nfrom azurefunctions.agents.types import "
            "LLMConfig\nAgent(name='a', llm_config=LLMConfig(api_key='k'))\n"
            "print(sorted(m for m in ('openai','anthropic','google.genai','ollama','mcp','fastapi') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # not even openai: the SDK loads at the first request
