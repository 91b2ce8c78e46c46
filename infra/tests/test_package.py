"""Packaging: the runtime wheel built into a sample's wheels/ is what the sample's requirements.txt installs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_wheel_installs_from_the_sample_requirements_and_the_sample_imports(tmp_path: Path) -> None:
    sample = tmp_path / "single-agent"
    shutil.copytree(REPO / "samples" / "single-agent", sample, ignore=shutil.ignore_patterns("wheels", ".agents-data"))
    built = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "package.py"), str(sample)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    wheels = list((sample / "wheels").glob("azurefunctions_agent_framework-*.whl"))
    assert len(wheels) == 1

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # Offline: the runtime must resolve from wheels/ through the requirements file's own --find-links line.
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "-r", "requirements.txt"],
        cwd=sample,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    # Third-party dependencies come from the runtime's development environment (installing them here would
    # need the network); the runtime itself comes only from the fresh environment.
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    deps = REPO / ".venv" / "lib" / version / "site-packages"
    if not (deps / "pydantic").is_dir():
        pytest.skip(f"no runtime environment with the sample's dependencies at {deps}")
    check = (
        "import azurefunctions.agents as a, sys; assert sys.prefix in a.__file__, a.__file__; "
        "import function_app; print(a.__version__)"
    )
    result = subprocess.run(
        [str(python), "-c", check],
        cwd=sample,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": f"{sample}:{deps}", "PATH": "/usr/bin:/bin"},
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
    assert "is not a Function App folder (no function_app.py)" in result.stderr
