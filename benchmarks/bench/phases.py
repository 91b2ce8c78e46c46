"""The phases. Each interleaves the runners in a rotating order over several rounds, one process per runner
per round, so that a slow moment of the machine falls on every runner alike."""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .procs import ModelServer, cpu_seconds, local_host, run_json, time_command
from .runners import BENCH_DIR, FLOOR, NEUTRAL_DIR, OURS, RunnerSpec, runner_env
from .stats import percentile

REPO = BENCH_DIR.parent
MESSAGE = "What is the weather in Paris?"
TOOL_OUTPUT = "Sunny, 21 C in Paris"
PROVIDER_SDKS = ["openai", "anthropic", "google.genai", "ollama"]
WATCHED = [*PROVIDER_SDKS, "azure.identity", "azure.cosmos", "azure.keyvault.secrets", "mcp", "a2a", "fastapi",
           "httpx", "httpx2", "aiosqlite", "opentelemetry", "pydantic", "azure.functions", "uvicorn"]

T = TypeVar("T")


@dataclass
class Plan:
    """How much each phase does (``--quick`` shrinks it for smoke runs)."""

    rounds: int = 4
    import_rounds: int = 7
    turns: int = 200
    warmup: int = 20
    concurrency_turns: int = 200
    concurrency: int = 50
    latency_ms: float = 100.0
    http_requests: int = 200
    http_warmup: int = 20
    http_concurrent_requests: int = 200

    @classmethod
    def quick(cls) -> Plan:
        return cls(rounds=1, import_rounds=2, turns=30, warmup=5, concurrency_turns=100, concurrency=25,
                   http_requests=30, http_warmup=5, http_concurrent_requests=50)


@dataclass
class Results:
    """phase -> runner -> round -> metric -> value, plus what is not per round."""

    data: dict[str, dict[str, dict[int, dict[str, float]]]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def add(self, phase: str, runner: str, rnd: int, **metrics: float) -> None:
        self.data.setdefault(phase, {}).setdefault(runner, {})[rnd] = metrics

    def series(self, phase: str, runner: str, metric: str) -> dict[int, float]:
        return {r: m[metric] for r, m in self.data.get(phase, {}).get(runner, {}).items() if metric in m}

    def runners(self, phase: str) -> list[str]:
        return list(self.data.get(phase, {}))


def rotate(items: list[T], rnd: int) -> list[T]:
    k = rnd % len(items) if items else 0
    return items[k:] + items[:k]


def _rounds(rounds: int, items: list[T], step: Callable[[int, T], None], log: Callable[[str], None],
            title: str) -> None:
    for rnd in range(rounds):
        started = time.perf_counter()
        for item in rotate(items, rnd):
            step(rnd, item)
        log(f"  {title}: round {rnd + 1}/{rounds} ({time.perf_counter() - started:.1f} s)")


# Cold start -----------------------------------------------------------------------------------------------
def cold_import(specs: list[RunnerSpec], plan: Plan, results: Results, log: Callable[[str], None]) -> None:
    def step(rnd: int, spec: RunnerSpec) -> None:
        base = time_command(spec.python, "pass")
        took = time_command(spec.python, spec.import_statement)
        results.add("import", spec.name, rnd, ms=(took - base) * 1000, python_ms=base * 1000)

    _rounds(plan.import_rounds, specs, step, log, "import")


INDEX_CODE = """
import json, sys, time
sys.path.insert(0, {directory!r})
started = time.perf_counter()
import function_app
took = (time.perf_counter() - started) * 1000
print(json.dumps({{"ms": took, "loaded": [m for m in {watched!r} if m in sys.modules]}}))
"""


def indexing(plan: Plan, results: Results, log: Callable[[str], None]) -> None:
    """``import function_app`` as the Functions worker does when it indexes, in a fresh process."""
    apps = [("floor app (bare azure.functions)", BENCH_DIR / "apps" / "floor"),
            ("single-agent sample", REPO / "samples" / "single-agent")]
    data_dir = Path(tempfile.mkdtemp(prefix="bench-index-"))
    env = runner_env()
    env.update(OPENAI_API_KEY="benchmark-key", OPENAI_BASE_URL="http://127.0.0.1:9/v1",
               AGENTS_SESSION_DB=str(data_dir / "sessions.db"))

    def step(rnd: int, app: tuple[str, Path]) -> None:
        name, directory = app
        code = INDEX_CODE.format(directory=str(directory), watched=WATCHED)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                              cwd=directory, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"indexing {name} failed: {done.stderr.strip()[-800:]}")
        found = json.loads(done.stdout.strip().splitlines()[-1])
        results.add("indexing", name, rnd, ms=found["ms"])
        results.notes.setdefault("indexing_loaded", {})[name] = found["loaded"]

    _rounds(plan.import_rounds, apps, step, log, "indexing")


def first_answer(specs: list[RunnerSpec], plan: Plan, model: ModelServer, results: Results,
                 log: Callable[[str], None]) -> None:
    def step(rnd: int, spec: RunnerSpec) -> None:
        model.reset()
        found, wall = run_json(spec.python, [str(spec.path), "first-answer", "--base-url", model.base_url])
        model.expect_turns(1, spec.name)
        results.add("first", spec.name, rnd, ms=wall * 1000, in_process_ms=found["in_process_ms"])

    _rounds(plan.rounds, specs, step, log, "import + build + first answer")


# Steady state ---------------------------------------------------------------------------------------------
def per_turn(specs: list[RunnerSpec], plan: Plan, model: ModelServer, results: Results,
             log: Callable[[str], None]) -> None:
    def step(rnd: int, spec: RunnerSpec) -> None:
        model.reset()
        found, _ = run_json(spec.python, [str(spec.path), "turns", "--base-url", model.base_url,
                                          "--turns", str(plan.turns), "--warmup", str(plan.warmup)])
        model.expect_turns(plan.turns + plan.warmup, spec.name)
        walls, cpus = found["walls_ms"], found["cpus_ms"]
        results.add("turns", spec.name, rnd, median_ms=statistics.median(walls), p99_ms=percentile(walls, 99),
                    cpu_ms=statistics.fmean(cpus))

    _rounds(plan.rounds, specs, step, log, "per turn")


def concurrency(specs: list[RunnerSpec], plan: Plan, model: ModelServer, results: Results,
                log: Callable[[str], None]) -> None:
    def step(rnd: int, spec: RunnerSpec) -> None:
        model.reset()
        found, _ = run_json(spec.python, [str(spec.path), "concurrency", "--base-url", model.base_url,
                                          "--turns", str(plan.concurrency_turns),
                                          "--concurrency", str(plan.concurrency)])
        model.expect_turns(plan.concurrency_turns + 1, spec.name)
        results.add("concurrency", spec.name, rnd, wall_s=found["wall_s"],
                    tps=plan.concurrency_turns / found["wall_s"], rss_mib=found["peak_rss_mib"],
                    cpu_ms=found["cpu_s"] * 1000 / plan.concurrency_turns)

    _rounds(plan.rounds, specs, step, log, "concurrency")


def http_route(plan: Plan, model: ModelServer, results: Results, log: Callable[[str], None]) -> None:
    """The chat route through the local host: this project's app against the floor app, same server."""
    apps = [(FLOOR, BENCH_DIR / "apps" / "floor"), (OURS, BENCH_DIR / "apps" / "agents")]
    body = json.dumps({"message": MESSAGE}).encode()
    path = "/api/agents/WeatherBot/chat"

    def post(conn: http.client.HTTPConnection) -> None:
        conn.request("POST", path, body=body, headers={"content-type": "application/json"})
        reply = conn.getresponse()
        data = reply.read()
        if reply.status != 200 or TOOL_OUTPUT.encode() not in data:
            raise RuntimeError(f"POST {path} answered {reply.status}: {data[:300]!r}")

    def step(rnd: int, _: None) -> None:
        # Both hosts run at once and requests alternate between them (in a rotating order), so each pair of
        # requests meets the same moment of a shared machine.
        model.reset()
        order = rotate(apps, rnd)
        with tempfile.TemporaryDirectory(prefix="bench-http-") as data_dir, contextlib.ExitStack() as stack:
            hosts = {name: stack.enter_context(local_host(directory, model, Path(data_dir) / name))
                     for name, directory in order}
            conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                     for name, (port, _) in hosts.items()}
            for _ in range(plan.http_warmup):
                for name, _ in order:
                    post(conns[name])
            latencies: dict[str, list[float]] = {name: [] for name, _ in order}
            cpu0 = {name: cpu_seconds(pid) for name, (_, pid) in hosts.items()}
            for i in range(plan.http_requests):
                for name, _ in rotate(order, i):
                    t0 = time.perf_counter()
                    post(conns[name])
                    latencies[name].append((time.perf_counter() - t0) * 1000)
            cpu = {name: cpu_seconds(pid) - cpu0[name] for name, (_, pid) in hosts.items()}
            for conn in conns.values():
                conn.close()
        model.expect_turns(len(apps) * (plan.http_requests + plan.http_warmup), "HTTP")
        for name, values in latencies.items():
            results.add("http", name, rnd, rps=1000 / statistics.fmean(values),
                        median_ms=statistics.median(values), p99_ms=percentile(values, 99),
                        host_cpu_ms=cpu[name] * 1000 / plan.http_requests)

    _rounds(plan.rounds, [None], step, log, "HTTP")


def http_concurrency(plan: Plan, model: ModelServer, results: Results, log: Callable[[str], None]) -> None:
    """The chat route under load: ``plan.http_concurrent_requests`` requests, ``plan.concurrency`` in flight,
    against a model that answers after ``plan.latency_ms``; this project's app and the floor app, one after
    the other in a rotating order, each on its own local host."""
    import asyncio

    import httpx

    apps = [(FLOOR, BENCH_DIR / "apps" / "floor"), (OURS, BENCH_DIR / "apps" / "agents")]
    body = {"message": MESSAGE}
    path = "/api/agents/WeatherBot/chat"

    async def load(port: int, requests: int) -> float:
        """Seconds for ``requests`` POSTs with at most ``plan.concurrency`` in flight."""
        limits = httpx.Limits(max_connections=plan.concurrency, max_keepalive_connections=plan.concurrency)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client:
            gate = asyncio.Semaphore(plan.concurrency)

            async def one() -> None:
                async with gate:
                    reply = await client.post(path, json=body)
                if reply.status_code != 200 or TOOL_OUTPUT not in reply.text:
                    raise RuntimeError(f"POST {path} answered {reply.status_code}: {reply.text[:300]}")

            started = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(requests)))
            return time.perf_counter() - started

    def step(rnd: int, app: tuple[str, Path]) -> None:
        name, directory = app
        model.reset()
        with tempfile.TemporaryDirectory(prefix="bench-http-load-") as data_dir, \
                local_host(directory, model, Path(data_dir)) as (port, pid):
            asyncio.run(load(port, plan.concurrency))  # warm-up: first-request imports, connections
            cpu0 = cpu_seconds(pid)
            wall = asyncio.run(load(port, plan.http_concurrent_requests))
            cpu = cpu_seconds(pid) - cpu0
        model.expect_turns(plan.http_concurrent_requests + plan.concurrency, f"HTTP under load ({name})")
        results.add("http_concurrency", name, rnd, wall_s=wall, rps=plan.http_concurrent_requests / wall,
                    host_cpu_ms=cpu * 1000 / plan.http_concurrent_requests)

    _rounds(plan.rounds, apps, step, log, "HTTP under load")


# Benchmarks of their own ------------------------------------------------------------------------------------
def companion(script: str, args: list[str], results: Results, log: Callable[[str], None]) -> None:
    """Run another benchmark script of this folder, when present, and keep what it printed."""
    path = BENCH_DIR / script
    if not path.is_file():
        return
    log(f"  {script} {' '.join(args)}")
    try:
        done = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True,
                              env=runner_env(), cwd=NEUTRAL_DIR, timeout=600)
        output = done.stdout.strip() if done.returncode == 0 else (
            f"exited {done.returncode}:\n{done.stderr.strip()[-1500:]}")
    except subprocess.TimeoutExpired:
        output = "did not finish within 600 s"
    results.notes.setdefault("companions", {})[script] = {"args": args, "output": output}
