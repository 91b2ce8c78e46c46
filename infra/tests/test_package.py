"""Packaging: a sample installs the runtime that ships with it, from a fresh clone and in the deployment package.

DESIGN.md, Packaging: another publisher's `azurefunctions-agent-framework` (0.0.1a1-a21) is on the package index,
so a sample must never be able to resolve the runtime from there. In a clone, requirements.txt installs it from
the repository's source (`../..[extras]`); scripts/package.py writes the deployment package with the wheel built
from the same source, pinned by file (tests/test_azd_contract.py runs that as azd does and checks the zip).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p.parent for p in REPO.glob("samples/*/function_app.py"))
RUNTIME_LINE = re.compile(r"^\.\./\.\.(\[[a-z0-9,]+\])?$")


def requirement_lines(sample: Path) -> list[str]:
    lines = (sample / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_a_sample_can_only_install_the_runtime_from_the_repository(sample: Path) -> None:
    lines = requirement_lines(sample)
    runtime = [line for line in lines if RUNTIME_LINE.match(line)]
    assert len(runtime) == 1, f"{sample.name}: one `../..[extras]` line installs the runtime, found {runtime}"
    # No name the index could answer for the runtime, and no option that points pip at other sources for it.
    assert not [line for line in lines if "agent-framework" in line or "agent_framework" in line]
    assert not [line for line in lines if line.startswith(("--find-links", "-f ", "--extra-index-url", "-i "))]


def test_a_sample_installs_from_a_fresh_clone_with_its_readme_command(tmp_path: Path, fresh_clone: Path) -> None:
    """`cd samples/single-agent && pip install -r requirements.txt` in a new virtual environment."""
    sample = fresh_clone / "samples" / "single-agent"
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # pip runs with the machine's own configuration (index, cache), as a user's would.
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"],
        cwd=sample,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, timeout=120, check=True
    )
    versions = {p["name"].lower(): p["version"] for p in json.loads(listed.stdout)}
    assert versions["azurefunctions-agent-framework"] == "0.1.0"
    check = (
        "import sys, azurefunctions.agents as a; assert a.__file__.startswith(sys.prefix), a.__file__; "
        "import function_app; print(a.__version__)"
    )
    result = subprocess.run(
        [str(python), "-c", check],
        cwd=sample,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.1.0"


def test_package_refuses_a_folder_that_is_not_a_function_app(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "package.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path} is not a Function App folder (no function_app.py)\n"


def test_package_refuses_a_sample_that_would_take_the_runtime_from_the_index(tmp_path: Path) -> None:
    sample = REPO / "samples" / "single-agent"
    copy = tmp_path / "samples" / "mine"
    copy.mkdir(parents=True)
    (copy / "function_app.py").write_text((sample / "function_app.py").read_text())
    (copy / "requirements.txt").write_text("azurefunctions-agent-framework[openai]>=0.1.0\n")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "package.py"), str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "must install the runtime from this repository exactly once" in result.stderr
    assert not (copy / ".deploy").exists()


@pytest.mark.parametrize("sample", [s for s in SAMPLES if (s / "README.md").is_file()], ids=lambda p: p.name)
def test_a_readme_installs_the_requirements_from_the_sample_folder(sample: Path) -> None:
    # `../..` in requirements.txt is resolved by pip from the working directory, so the README must cd first.
    readme = sample / "README.md"
    lines = readme.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.strip().startswith("pip install -r requirements.txt"):
            block = lines[max(0, number - 5) : number]
            assert f"cd samples/{sample.name}" in block, f"{readme.relative_to(REPO)}:{number + 1} installs without cd"
