"""Workflows and shell scripts: actionlint, zizmor (offline) and shellcheck, as CI runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_actionlint() -> None:
    result = run(str(BIN / "actionlint"), "-no-color", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline() -> None:
    result = run(str(BIN / "zizmor"), "--offline", "--no-progress", str(REPO / ".github" / "workflows"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_commit(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        if "uses:" in line and not line.strip().startswith("#"):
            ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
            if not ref.startswith("./"):
                assert len(ref.split("@", 1)[1]) == 40, f"{path.name}: {ref} is not pinned by commit SHA"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_declare_permissions_and_concurrency(path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert document.get("permissions") is not None, f"{path.name}: no top-level permissions"
    assert "concurrency" in document, f"{path.name}: no concurrency group"


def test_dependabot_covers_actions_and_pip() -> None:
    document = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    ecosystems = {(u["package-ecosystem"], u["directory"]) for u in document["updates"]}
    assert {("github-actions", "/"), ("pip", "/"), ("pip", "/infra")} <= ecosystems


def test_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("shellcheck is not installed (apt-get install shellcheck; scripts/ci/infra.sh does it as root)")
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    scripts = sorted(str(p) for p in (REPO / "scripts").rglob("*.sh"))
    assert scripts
    result = run("shellcheck", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr
