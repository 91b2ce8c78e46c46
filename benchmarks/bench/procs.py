"""Processes the benchmarks start: the model server, the local Functions host, and timed runner processes."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .runners import BENCH_DIR, NEUTRAL_DIR, runner_env


class ModelServer:
    """``benchmarks/model_server.py`` in its own process (so its CPU is not the client's)."""

    def __init__(self, latency_ms: float) -> None:
        self.latency_ms = latency_ms
        self.process = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "model_server.py"), "--port", "0", "--latency-ms", str(latency_ms)],
            stdout=subprocess.PIPE, text=True, env=runner_env())
        line = self.process.stdout.readline() if self.process.stdout else ""
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"the model server did not start: {line!r}")
        self.port = int(found.group(1))
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def _call(self, method: str, path: str) -> dict[str, int]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, headers={"connection": "close"})
            return json.loads(conn.getresponse().read())  # type: ignore[no-any-return]
        finally:
            conn.close()

    def reset(self) -> None:
        self._call("POST", "/counters/reset")

    def expect_turns(self, turns: int, who: str) -> None:
        """Every turn made exactly two model calls: one answered with a tool call, one with the answer."""
        counters = self._call("GET", "/counters")
        want = {"requests": 2 * turns, "tool_calls": turns, "answers": turns, "unexpected": 0}
        if counters != want:
            raise RuntimeError(f"{who}: the model server counted {counters}, expected {want}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_json(python: str, args: list[str], *, timeout: float = 300) -> tuple[dict[str, Any], float]:
    """Run a runner process; its JSON result and the process's wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run([python, *args], capture_output=True, text=True, env=runner_env(), cwd=NEUTRAL_DIR,
                          timeout=timeout)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def time_command(python: str, code: str) -> float:
    """Wall seconds of ``python -c code`` (interpreter start included)."""
    started = time.perf_counter()
    subprocess.run([python, "-c", code], check=True, env=runner_env(), cwd=NEUTRAL_DIR, timeout=120)
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from ``/proc`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def local_host(app_dir: Path, model: ModelServer, data_dir: Path) -> Iterator[tuple[int, int]]:
    """``python -m azurefunctions.agents serve APP_DIR`` on a free port; yields (port, pid) once it answers."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    env = runner_env()
    env.update(OPENAI_API_KEY="benchmark-key", OPENAI_BASE_URL=model.base_url,
               AGENTS_SESSION_DB=str(data_dir / "sessions.db"))
    process = subprocess.Popen(
        [sys.executable, "-m", "azurefunctions.agents", "serve", str(app_dir), "--port", str(port),
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=NEUTRAL_DIR)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"the local host for {app_dir.name} exited: {err[-800:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the local host for {app_dir.name} did not listen within 60 s") from None
                time.sleep(0.05)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
