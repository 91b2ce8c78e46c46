"""The public names of ``azurefunctions.agents``: exactly these, each resolving to a real object, and the
package marked as typed (PEP 561) so type checkers read its annotations in users' projects."""

from __future__ import annotations

import importlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import azurefunctions.agents as agents

#: Adding a public name is a decision: add it here too. Removing one breaks users' code.
PUBLIC_NAMES = {
    "Agent", "AgentFunctionApp", "AgentMode", "ApprovalDecision", "ChatRequest", "ChatResponse", "ControlReturn",
    "EntraAuth",
    "FunctionTool", "HandoffConfig", "HandoffMode", "HandoffStrategy", "HandoffTarget", "InputRequired",
    "LLMConfig", "LLMProvider", "MCPServer", "MCPServerMode", "MCPServerSseParams", "MCPServerStdioParams",
    "MCPServerStreamableHttpParams", "Message", "ReflectionAgent", "RemoteA2AAgent", "Runner", "SecretRef",
    "Session", "SessionStore", "Usage", "ask_user", "function_tool",
}
ROOT = Path(__file__).resolve().parents[1]


def test_all_is_exactly_the_public_names() -> None:
    assert set(agents.__all__) == PUBLIC_NAMES
    assert len(agents.__all__) == len(PUBLIC_NAMES)


@pytest.mark.parametrize("name", sorted(PUBLIC_NAMES))
def test_each_public_name_resolves_to_the_object_its_module_defines(name: str) -> None:
    value = getattr(agents, name)
    assert value is not None
    home = importlib.import_module(getattr(value, "__module__", "") or "azurefunctions.agents")
    assert home.__name__.startswith("azurefunctions.agents")
    assert getattr(home, name, value) is value


def test_star_import_gives_the_public_names() -> None:
    code = "ns = {}; exec('from azurefunctions.agents import *', ns); print(sorted(n for n in ns if n[0] != '_'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == str(sorted(PUBLIC_NAMES))


def test_the_package_is_marked_typed() -> None:
    assert (Path(agents.__file__).parent / "py.typed").is_file()


def test_the_wheel_ships_py_typed(tmp_path: Path) -> None:
    """Built as CI and users build it (the project's build backend, through ``pip wheel``)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        assert "azurefunctions/agents/py.typed" in archive.namelist()
