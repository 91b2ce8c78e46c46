"""The runners compared, and the virtual environments the peers are installed in (from PyPI, pinned).

The floor and this project run on the interpreter that runs the benchmarks (the project's environment); each
peer gets its own environment under ``benchmarks/.venvs/``, created and installed on first use and reused
while its requirements are unchanged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[1]
VENVS = BENCH_DIR / ".venvs"
RUNNERS_DIR = BENCH_DIR / "runners"
NEUTRAL_DIR = tempfile.gettempdir()  # a working directory that shadows no package


@dataclass
class RunnerSpec:
    name: str
    script: str
    import_statement: str
    requirements: list[str] = field(default_factory=list)  # empty: runs on this interpreter
    packages: list[str] = field(default_factory=list)  # whose versions the report shows
    optional: bool = False
    python: str = sys.executable
    versions: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def path(self) -> Path:
        return RUNNERS_DIR / self.script

    @property
    def available(self) -> bool:
        return self.problem is None


FLOOR = "floor"
OURS = "azurefunctions.agents"


def all_runners() -> list[RunnerSpec]:
    return [
        RunnerSpec(FLOOR, "run_floor.py", "import openai", packages=["openai"]),
        RunnerSpec(OURS, "run_ours.py", "import azurefunctions.agents",
                   packages=["azurefunctions-agent-framework", "openai", "pydantic"]),
        RunnerSpec("openai-agents", "run_openai_agents.py", "import agents",
                   requirements=["openai-agents==0.24.0"], packages=["openai-agents", "openai"]),
        RunnerSpec("agent-framework", "run_agent_framework.py", "import agent_framework",
                   requirements=["agent-framework-core==1.23.0", "agent-framework-openai==1.17.0"],
                   packages=["agent-framework-core", "agent-framework-openai", "openai"]),
        # The seed package leaves openai out of its requirements and breaks with mcp 2 and a2a-sdk 1.
        RunnerSpec("seed 0.0.1a21", "run_seed.py", "import azurefunctions.agents",
                   requirements=["azurefunctions-agent-framework==0.0.1a21", "openai", "mcp==1.23.*",
                                 "a2a-sdk<0.3"],
                   packages=["azurefunctions-agent-framework", "openai"], optional=True),
    ]


def _venv_name(spec: RunnerSpec) -> str:
    return spec.name.split()[0]


def prepare(specs: list[RunnerSpec], *, log: Callable[[str], None] = print) -> None:
    """Create and install the peers' environments (in parallel), then check that every runner imports."""
    VENVS.mkdir(exist_ok=True)
    installs: list[tuple[RunnerSpec, subprocess.Popen[bytes], Path]] = []
    for spec in specs:
        if not spec.requirements:
            continue
        venv = VENVS / _venv_name(spec)
        spec.python = str(venv / "bin" / "python")
        stamp = venv / "benchmark-requirements.txt"
        wanted = "\n".join(spec.requirements) + "\n"
        if stamp.is_file() and stamp.read_text() == wanted and Path(spec.python).exists():
            continue
        log(f"installing {spec.name} into {venv.relative_to(BENCH_DIR.parent)} ({' '.join(spec.requirements)})")
        if not Path(spec.python).exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        stamp.unlink(missing_ok=True)
        logfile = VENVS / f"{_venv_name(spec)}.install.log"
        with logfile.open("wb") as out:
            process = subprocess.Popen(
                [spec.python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
                 *spec.requirements], stdout=out, stderr=subprocess.STDOUT)
        installs.append((spec, process, logfile))
    for spec, process, logfile in installs:
        if process.wait() != 0:
            tail = logfile.read_text(errors="replace").strip().splitlines()[-5:]
            spec.problem = f"pip install failed (see {logfile}): " + " | ".join(tail)
            continue
        (VENVS / _venv_name(spec) / "benchmark-requirements.txt").write_text("\n".join(spec.requirements) + "\n")
    for spec in specs:
        if spec.available:
            check(spec)


def runner_env() -> dict[str, str]:
    """The environment every benchmark process gets: no real model settings, no telemetry export."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "AGENT_", "COSMOS_", "OTEL_", "APPLICATIONINSIGHTS_"))}
    env["OPENAI_AGENTS_DISABLE_TRACING"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def check(spec: RunnerSpec) -> None:
    """Import the runner's framework once (which also writes its bytecode caches) and read its versions."""
    code = (
        "import importlib.metadata as m, json\n"
        f"{spec.import_statement}\n"
        "v = {}\n"
        f"for p in {spec.packages!r}:\n"
        "    try:\n"
        "        v[p] = m.version(p)\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(v))\n"
    )
    done = subprocess.run([spec.python, "-c", code], capture_output=True, text=True, env=runner_env(),
                          cwd=NEUTRAL_DIR, timeout=300)
    if done.returncode != 0:
        spec.problem = f"`{spec.import_statement}` failed: {done.stderr.strip().splitlines()[-1:]}"
        return
    spec.versions = json.loads(done.stdout.strip().splitlines()[-1])
