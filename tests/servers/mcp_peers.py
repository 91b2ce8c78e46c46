"""Real MCP servers from the registries, started by tests on 127.0.0.1.

- npm ``@modelcontextprotocol/server-everything`` (installed under tests/node) in its ``stdio``, ``sse`` and
  ``streamableHttp`` modes. It listens on every interface by itself, so it runs under ``node --require
  loopback_preload.cjs``, which makes ``listen`` bind 127.0.0.1.
- PyPI ``mcp-server-time`` (stdio, pinned), installed by the test command (``python -m tests.servers.mcp_peers``)
  into its own virtual environment under ``.test-cache`` so its ``mcp`` pin cannot move the client's; tests
  never install it themselves.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

from .base import free_port

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "tests" / "node"
EVERYTHING_BIN = NODE_DIR / "node_modules" / ".bin" / "mcp-server-everything"
PRELOAD = Path(__file__).with_name("loopback_preload.cjs")
CACHE_DIR = Path(os.environ.get("AGENTS_TEST_CACHE", REPO / ".test-cache"))
TIME_VENV = CACHE_DIR / "venv-time"
TIME_PACKAGE = "mcp-server-time==2026.10.19"


def node() -> str:
    path = shutil.which("node")
    if path is None:
        raise RuntimeError("node is required for the MCP reference server (tests/node)")
    return path


def everything_available() -> bool:
    return EVERYTHING_BIN.exists() and shutil.which("node") is not None


def everything_stdio_command() -> tuple[str, list[str]]:
    """command and args that start server-everything over stdio (the client spawns it)."""
    return node(), [str(EVERYTHING_BIN.resolve()), "stdio"]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"MCP test server exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"MCP test server did not listen on 127.0.0.1:{port} within {timeout} s")


class EverythingServer:
    """server-everything over HTTP (``sse`` or ``streamableHttp``) on a free loopback port.

    ``stop()`` kills it (as a crash would); ``start()`` again brings it back on the same port.
    """

    def __init__(self, mode: str, port: int | None = None) -> None:
        if mode not in ("sse", "streamableHttp"):
            raise ValueError(f"mode: sse or streamableHttp, got {mode!r}")
        self.mode = mode
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        path = "/sse" if self.mode == "sse" else "/mcp"
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> EverythingServer:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
               "PORT": str(self.port)}
        self.process = subprocess.Popen(
            [node(), "--require", str(PRELOAD), str(EVERYTHING_BIN.resolve()), self.mode],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.kill()
        process.wait(timeout=10)

    def __enter__(self) -> EverythingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _venv_python(path: Path) -> Path:
    return path / ("Scripts" if os.name == "nt" else "bin") / "python"


def time_server_command() -> str:
    """Path of the ``mcp-server-time`` executable that the test command installed (pinned)."""
    executable = TIME_VENV / "bin" / "mcp-server-time"
    pinned = TIME_VENV / "pinned.txt"
    if not executable.exists() or not pinned.exists() or pinned.read_text().strip() != TIME_PACKAGE:
        raise RuntimeError(f"{TIME_PACKAGE} is not installed in {TIME_VENV}: scripts/test.sh installs it "
                           "(or run: python -m tests.servers.mcp_peers)")
    return str(executable)


def install_time_server() -> str:
    """Install the pinned ``mcp-server-time`` into its own venv (idempotent, under a file lock); its path."""
    executable = TIME_VENV / "bin" / "mcp-server-time"
    pinned = TIME_VENV / "pinned.txt"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / "venv-time.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if executable.exists() and pinned.exists() and pinned.read_text().strip() == TIME_PACKAGE:
            return str(executable)
        if not _venv_python(TIME_VENV).exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(TIME_VENV)
        subprocess.run(
            [str(_venv_python(TIME_VENV)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             TIME_PACKAGE],
            check=True, timeout=600, stdout=subprocess.DEVNULL,
        )
        if not executable.exists():
            raise RuntimeError(f"{TIME_PACKAGE} did not install into {TIME_VENV}")
        pinned.write_text(TIME_PACKAGE + "\n")
    return str(executable)


def child_pids(parent: int | None = None) -> list[int]:
    """Direct children of ``parent`` (this process by default), read from /proc."""
    parent = os.getpid() if parent is None else parent
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                pids.append(int(entry.name))
    return pids


def process_cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


if __name__ == "__main__":  # the test command prepares the cache ahead of the run: python -m tests.servers.mcp_peers
    print(install_time_server(), file=sys.stdout)
