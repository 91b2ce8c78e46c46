"""The README stays true: its settings table, routes and commands match the code."""

from __future__ import annotations

import re
from pathlib import Path

from azurefunctions.agents import settings
from azurefunctions.agents.http.routes import STANDARD_ROUTES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    table = {m.group(1) for m in re.finditer(r"^\| `([A-Za-z0-9_]+)` \|", section, re.MULTILINE)}
    declared = {s.name for s in settings.all_settings()}
    assert declared - table == set(), "settings missing from README"
    assert table - declared == set(), "README lists unknown settings"


def test_every_route_is_documented() -> None:
    for spec in STANDARD_ROUTES:
        path = "/" + spec.route.replace("{agent_name}", "{name}")
        for method in spec.methods:
            assert f"{method} {path}" in README, f"{method} {path} missing from README"


def test_the_two_setup_commands_are_what_ci_runs() -> None:
    assert "python -m azurefunctions.agents serve samples/single-agent" in README
    assert "bash scripts/test.sh" in README
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_linked_documents_exist() -> None:
    for link in re.findall(r"\]\(((?:docs|infra|samples)/[^)#]+)\)", README):
        assert (ROOT / link).exists(), link
