"""Build the runtime from src/ into a sample's wheels/ folder, so the sample's requirements.txt installs it.

azd runs this as the service's `prepackage` hook (working directory: the sample), before it zips the sample
for the remote build; by hand: `python scripts/package.py samples/<name>`. The sample's requirements.txt
lists `--find-links ./wheels` and the package, so the deployed app installs exactly this repository's code.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DIST_NAME = "azurefunctions_agent_framework"


def build(sample_dir: Path) -> Path:
    """Replace the sample's wheel of the runtime with a fresh build; return the wheel's path."""
    if not (sample_dir / "function_app.py").is_file():
        raise SystemExit(f"error: {sample_dir} is not a Function App folder (no function_app.py)")
    requirements = sample_dir / "requirements.txt"
    if not requirements.is_file() or "./wheels" not in requirements.read_text(encoding="utf-8"):
        raise SystemExit(f"error: {requirements} must contain `--find-links ./wheels` to install the built runtime")
    wheels = sample_dir / "wheels"
    wheels.mkdir(exist_ok=True)
    for old in wheels.glob(f"{DIST_NAME}-*.whl"):
        old.unlink()
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels)]
    if importlib.util.find_spec("hatchling") is not None:
        # The build backend is already here: build offline instead of fetching it into an isolated env.
        command.append("--no-build-isolation")
    command.append(str(REPO_ROOT))
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise SystemExit(f"error: building the wheel failed (exit code {result.returncode})")
    built = sorted(wheels.glob(f"{DIST_NAME}-*.whl"))
    if len(built) != 1:
        raise SystemExit(f"error: expected one wheel in {wheels}, found {len(built)}")
    return built[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sample", nargs="?", default=".", help="the sample folder (default: the current one)")
    args = parser.parse_args(argv)
    wheel = build(Path(args.sample).resolve())
    print(f"built {wheel.relative_to(Path.cwd()) if wheel.is_relative_to(Path.cwd()) else wheel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
