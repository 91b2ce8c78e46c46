"""Prepares the real-worker harness (the test command runs this before the tests): a Python 3.13 virtual
environment under ``.test-cache/venv-worker313`` with the worker library ``azure-functions-runtime`` (pinned)
and this project (every extra the samples use), and ``FunctionRpc.proto`` compiled with grpcio-tools into
``.test-cache/worker-protos``. Idempotent: a ready environment with the same pins is reused.

    python -m tests.worker.prepare        # prints the venv's python; exits 1 when Python 3.13 is missing
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("AGENTS_TEST_CACHE", REPO / ".test-cache"))
VENV = CACHE / "venv-worker313"
PROTOS_OUT = CACHE / "worker-protos"
PROTOS_SRC = Path(__file__).with_name("protos")
PINS = ["azure-functions-runtime==1.3.0", "grpcio-tools==1.85.4"]
EXTRAS = "openai,anthropic,google,ollama,azure,a2a,mcp,sqlite,local,streaming"
STAMP = " ".join([*PINS, EXTRAS])


def python313() -> str | None:
    """Python 3.13: PYTHON313, python3.13 on PATH, or a pyenv installation."""
    candidates = [os.environ.get("PYTHON313") or "", shutil.which("python3.13") or "",
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13")), reverse=True)]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 13)"],
                                        capture_output=True).returncode == 0:
            return candidate
    return None


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ready() -> str | None:
    """Why the harness cannot run, or None when it can."""
    stamp = VENV / "prepared.txt"
    if not venv_python().exists() or not stamp.exists() or stamp.read_text().strip() != STAMP:
        return f"the Python 3.13 worker environment is not prepared ({VENV}): python -m tests.worker.prepare"
    if not (PROTOS_OUT / "FunctionRpc_pb2.py").exists():
        return f"FunctionRpc.proto is not compiled into {PROTOS_OUT}: python -m tests.worker.prepare"
    return None


def prepare() -> str:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "venv-worker313.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready() is None:
            return str(venv_python())
        interpreter = python313()
        if interpreter is None:
            raise SystemExit("Python 3.13 is needed for the real-worker harness (set PYTHON313)")
        if not venv_python().exists():
            subprocess.run([interpreter, "-m", "venv", str(VENV)], check=True)
        pip = [str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *PINS, "-e", f"{REPO}[{EXTRAS}]"], check=True, timeout=1800)
        PROTOS_OUT.mkdir(parents=True, exist_ok=True)
        sources = [str(p.relative_to(PROTOS_SRC)) for p in sorted(PROTOS_SRC.rglob("*.proto"))]
        subprocess.run([str(venv_python()), "-m", "grpc_tools.protoc", f"-I{PROTOS_SRC}",
                        f"--python_out={PROTOS_OUT}", *sources], check=True, cwd=PROTOS_SRC)
        (VENV / "prepared.txt").write_text(STAMP + "\n")
    return str(venv_python())


if __name__ == "__main__":
    print(prepare(), file=sys.stdout)
