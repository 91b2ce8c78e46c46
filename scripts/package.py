"""Write a sample's deployment package: `python scripts/package.py samples/<name>` -> `samples/<name>/.deploy/`.

A sample's requirements.txt installs the runtime from this repository's source (`../..[extras]`), which works
in a clone but not in Azure's remote build, which only gets the deployed folder. So the package is a copy of the
sample (without what its .funcignore lists) plus the runtime's wheel built from the same source, with the
requirement rewritten to that wheel's file: the remote build installs exactly the code that ships, and never
looks the runtime up on the package index (another publisher's package there has the same name).

azd runs this as the service's `prepackage` hook, in the service folder, and zips `.deploy/` (azure.yaml
`dist: .deploy`). Needs pip (`python3 -m pip`); the build backend comes from the package index like any build's.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.util
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DIST_NAME = "azurefunctions_agent_framework"
PACKAGE_DIR = ".deploy"
# Never copied into the package, whatever .funcignore says.
ALWAYS_EXCLUDED = (PACKAGE_DIR + "/", "wheels/", ".venv/", ".azure/", "__pycache__/", "local.settings.json")
_PATH_REQUIREMENT = re.compile(r"^(?P<path>\.{1,2}(?:/[^\s\[;#]*)?)(?P<extras>\[[^\]]*\])?\s*$")


class PackageError(Exception):
    """A problem with the sample folder; the message names it and the fix."""


def runtime_requirement(requirements: str, sample_dir: Path) -> tuple[int, str]:
    """The line index and extras (`[a,b]` or '') of the requirement that installs the runtime from this repo."""
    found = []
    for index, raw in enumerate(requirements.splitlines()):
        line = raw.split(" #", 1)[0].strip()
        match = _PATH_REQUIREMENT.match(line)
        if match and (sample_dir / match["path"]).resolve() == REPO_ROOT:
            found.append((index, match["extras"] or ""))
    if len(found) != 1:
        raise PackageError(
            f"{sample_dir / 'requirements.txt'} must install the runtime from this repository exactly once, with a "
            f"line like `{_relative_repo(sample_dir)}[openai,keyvault,cosmos,monitor]` (found {len(found)})"
        )
    return found[0]


def _relative_repo(sample_dir: Path) -> str:
    try:
        depth = len(sample_dir.resolve().relative_to(REPO_ROOT).parts)
    except ValueError:
        return "<path to the repository>"
    return "/".join([".."] * depth) or "."


def _ignore_patterns(sample_dir: Path) -> list[str]:
    funcignore = sample_dir / ".funcignore"
    lines = funcignore.read_text(encoding="utf-8").splitlines() if funcignore.is_file() else []
    patterns = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return [*ALWAYS_EXCLUDED, *patterns]


def _ignored(relative: Path, is_dir: bool, patterns: list[str]) -> bool:
    """.funcignore matching for the patterns samples use: `name`, `dir/`, globs, and `/rooted` paths."""
    for pattern in patterns:
        directory_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        if directory_only and not is_dir:
            continue
        if pattern.startswith("/") or "/" in pattern:
            if fnmatch.fnmatch(relative.as_posix(), pattern.lstrip("/")):
                return True
        elif fnmatch.fnmatch(relative.name, pattern):
            return True
    return False


def _copy_app(sample_dir: Path, target: Path) -> None:
    patterns = _ignore_patterns(sample_dir)
    for path in sorted(sample_dir.rglob("*")):
        relative = path.relative_to(sample_dir)
        if any(_ignored(Path(*relative.parts[: i + 1]), True, patterns) for i in range(len(relative.parts) - 1)):
            continue
        if _ignored(relative, path.is_dir(), patterns):
            continue
        destination = target / relative
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def _build_wheel(into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(into)]
    if importlib.util.find_spec("hatchling") is not None:
        # The build backend is already here: build offline instead of fetching it into an isolated env.
        command.append("--no-build-isolation")
    command.append(str(REPO_ROOT))
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        if "No module named pip" in detail:
            raise PackageError(
                f"{sys.executable} has no pip: install it (python3 -m ensurepip, or apt install python3-pip)"
            )
        raise PackageError(f"building the runtime wheel failed (exit code {result.returncode}):\n{detail}")
    built = sorted(into.glob(f"{DIST_NAME}-*.whl"))
    if len(built) != 1:
        raise PackageError(f"expected one {DIST_NAME} wheel, found {len(built)}")
    return built[0]


def build(sample_dir: Path) -> Path:
    """Write `<sample>/.deploy/` and return its path."""
    sample_dir = sample_dir.resolve()
    if not (sample_dir / "function_app.py").is_file():
        raise PackageError(f"{sample_dir} is not a Function App folder (no function_app.py)")
    requirements_path = sample_dir / "requirements.txt"
    if not requirements_path.is_file():
        raise PackageError(f"{requirements_path} is missing")
    requirements = requirements_path.read_text(encoding="utf-8")
    line_index, extras = runtime_requirement(requirements, sample_dir)

    target = sample_dir / PACKAGE_DIR
    with tempfile.TemporaryDirectory() as scratch:
        wheel = _build_wheel(Path(scratch))
        if target.exists():
            shutil.rmtree(target)
        target.mkdir()
        _copy_app(sample_dir, target)
        (target / "wheels").mkdir()
        shutil.copy2(wheel, target / "wheels" / wheel.name)
    lines = requirements.splitlines()
    lines[line_index] = f"./wheels/{wheel.name}{extras}"
    (target / "requirements.txt").write_text(
        "# Written by scripts/package.py: the runtime is the wheel beside this file, built from the repository.\n"
        + "\n".join(lines)
        + "\n",
        encoding="utf-8",
    )
    # azd zips this folder with its .funcignore (or, without one, its defaults). The copy above already left out
    # what the sample's .funcignore lists; the sample's own file would also drop wheels/ if it listed it.
    (target / ".funcignore").write_text(
        "# Written by scripts/package.py: this folder is already the deployment package.\n__pycache__/\n*.py[cod]\n",
        encoding="utf-8",
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("sample", type=Path, help="the sample folder (azd passes the service folder)")
    args = parser.parse_args(argv)
    try:
        target = build(args.sample)
    except PackageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote the deployment package {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
