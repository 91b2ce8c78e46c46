"""Shared set-up of the infrastructure tests: import paths, and the program run under Pulumi mocks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

INFRA_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = INFRA_DIR.parent
# The program's package, and the runtime's settings module (standard library only) for the name contract.
for path in (INFRA_DIR, REPO_ROOT / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from tests.harness import Deployment, run_stack  # noqa: E402


@pytest.fixture(scope="session")
def default_stack() -> Deployment:
    """The stack with only the required config: what `azd up` provisions out of the box."""
    return run_stack()


def clone_repository(into: Path) -> Path:
    """`git clone` of this repository, with the working tree's uncommitted changes laid over it.

    On CI's clean checkout that is exactly a fresh clone; on a developer's machine a change is tested before it is
    committed. Nothing git ignores comes along: no virtual environment, no built wheel, no .azure/ state.
    """
    import shutil
    import subprocess

    clone = into / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], check=True, timeout=120)

    def listed(*options: str) -> list[str]:
        out = subprocess.run(
            ["git", "ls-files", "-z", *options], cwd=REPO_ROOT, capture_output=True, check=True, timeout=60
        ).stdout.decode()
        return [name for name in out.split("\0") if name]

    for name in listed("--modified", "--others", "--exclude-standard"):
        source = REPO_ROOT / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    for name in listed("--deleted"):
        (clone / name).unlink(missing_ok=True)
    return clone


@pytest.fixture(scope="session")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clean clone of the repository for the tests that run hooks and installs in it."""
    return clone_repository(tmp_path_factory.mktemp("fresh"))
