"""What streaming costs: time to first event and per-event overhead against a bare SDK stream, and what
streams mode adds to cold start.

    python benchmarks/streaming_bench.py [--turns 20] [--chunks 200] [--cold-runs 7]

Every figure is measured here, against the local OpenAI-compatible test server on 127.0.0.1 (no network):

* bare SDK: ``openai`` ``chat.completions.create(stream=True)``, time to the first content chunk and to the end;
* Runner: ``Runner.run_stream`` on the same model (the loop, no HTTP);
* HTTP: ``POST /api/agents/{name}/chat`` (a ``streaming=True`` agent) through the local host, in a process of its
  own as the Functions worker is, in streams mode, the events kept in its SQLite session store as they stream
  (what a resumable stream costs);
* cold start: a fresh interpreter importing the runtime, building an ``AgentFunctionApp`` and indexing its
  functions (what the Functions worker does at start-up), classic types against streams mode.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.servers.openai_server import OpenAIServer  # noqa: E402
from tests.servers.scripted import Reply  # noqa: E402

#: Turns run first and not measured: imports, connections and caches warm up in every variant alike.
WARM_UP = 3
ROUNDS = 3


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def bare_sdk(server: OpenAIServer, turns: int, chunks: int) -> tuple[list[float], list[float]]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key=server.api_key, base_url=server.base_url, max_retries=0)
    firsts, totals = [], []
    for _ in range(turns + WARM_UP):
        server.script.add(Reply(text="x" * chunks, chunk_size=1))
        started = time.perf_counter()
        first = None
        stream = await client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                      messages=[{"role": "user", "content": "go"}])
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        totals.append(time.perf_counter() - started)
        firsts.append(first or 0.0)
    await client.close()
    return firsts[WARM_UP:], totals[WARM_UP:]


async def runner_stream(server: OpenAIServer, turns: int, chunks: int) -> tuple[list[float], list[float]]:
    from azurefunctions.agents import Agent, Runner
    from azurefunctions.agents.events import TextDelta
    from azurefunctions.agents.sessions import MemorySessionStore
    from azurefunctions.agents.types import LLMConfig

    agent = Agent(name="Bench", llm_config=LLMConfig(provider="openai", model_name="gpt-4o-mini",
                                                      api_key=server.api_key, base_url=server.base_url))
    runner = Runner(agent, session_store=MemorySessionStore())
    firsts, totals = [], []
    for _ in range(turns + WARM_UP):
        server.script.add(Reply(text="x" * chunks, chunk_size=1))
        started = time.perf_counter()
        first = None
        async for event in runner.run_stream({"message": "go"}):
            if first is None and isinstance(event, TextDelta):
                first = time.perf_counter() - started
        totals.append(time.perf_counter() - started)
        firsts.append(first or 0.0)
    await agent.aclose()
    return firsts[WARM_UP:], totals[WARM_UP:]


_BENCH_APP = """
import os
from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig
agent = Agent(name="Bench", streaming=True, llm_config=LLMConfig(
    provider="openai", model_name="gpt-4o-mini", api_key=os.environ["OPENAI_API_KEY"],
    base_url=os.environ["OPENAI_BASE_URL"]))
app = AgentFunctionApp(agents=[agent], http_auth_level="anonymous")
"""


def http_stream(server: OpenAIServer, turns: int, chunks: int) -> tuple[list[float], list[float], int]:
    """Through the local host in a process of its own (as the Functions worker is), SQLite event log."""
    import httpx
    from tests.servers.localhost import LocalHostProcess

    with tempfile.TemporaryDirectory() as folder:
        app_dir = Path(folder)
        (app_dir / "function_app.py").write_text(_BENCH_APP)
        (app_dir / "host.json").write_text('{"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}')
        env = {"OPENAI_API_KEY": server.api_key, "OPENAI_BASE_URL": server.base_url,
               "AGENTS_SESSION_DB": str(app_dir / "sessions.sqlite3")}
        firsts, totals, events = [], [], 0
        with LocalHostProcess(app_dir, env=env) as host, httpx.Client(timeout=60) as client:
            for _ in range(turns + WARM_UP):
                server.script.add(Reply(text="x" * chunks, chunk_size=1))
                started = time.perf_counter()
                first = None
                events = 0
                with client.stream("POST", f"{host.url}/api/agents/Bench/chat", json={"message": "go"}) as response:
                    for line in response.iter_lines():
                        if line.startswith("event: "):
                            events += 1
                            if first is None and line == "event: text_delta":
                                first = time.perf_counter() - started
                totals.append(time.perf_counter() - started)
                firsts.append(first or 0.0)
    return firsts[WARM_UP:], totals[WARM_UP:], events


_COLD = """
import time
started = time.perf_counter()
from azurefunctions.agents import Agent, AgentFunctionApp
from azurefunctions.agents.types import LLMConfig
agent = Agent(name="A", llm_config=LLMConfig(provider="offline"), streaming={streaming})
app = AgentFunctionApp(agents=[agent])
app.get_functions()
import sys
print(time.perf_counter() - started, len(sys.modules))
"""


def cold_start(runs: int) -> dict[str, tuple[float, int]]:
    results: dict[str, tuple[float, int]] = {}
    for mode, streaming in (("classic", False), ("streams", True)):
        times, modules = [], 0
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", _COLD.format(streaming=streaming)], capture_output=True,
                                 text=True, check=True, cwd=tempfile.gettempdir(),
                                 env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
            seconds, count = out.stdout.split()
            times.append(float(seconds))
            modules = int(count)
        results[mode] = (statistics.median(times), modules)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--chunks", type=int, default=200, help="text chunks the model streams per turn")
    parser.add_argument("--cold-runs", type=int, default=7)
    args = parser.parse_args()

    with OpenAIServer() as server:
        # Rounds alternate the variants, so load from other processes on the machine hits them alike.
        sdk_first, sdk_total, run_first, run_total, http_first, http_total = [], [], [], [], [], []
        per_round = max(1, args.turns // ROUNDS)
        events = 0
        for _ in range(ROUNDS):
            first, total = asyncio.run(bare_sdk(server, per_round, args.chunks))
            sdk_first += first
            sdk_total += total
            first, total = asyncio.run(runner_stream(server, per_round, args.chunks))
            run_first += first
            run_total += total
            first, total, events = http_stream(server, per_round, args.chunks)
            http_first += first
            http_total += total

    rows: list[tuple[str, Any, Any]] = [
        ("bare openai SDK stream", median_ms(sdk_first), median_ms(sdk_total)),
        ("Runner.run_stream", median_ms(run_first), median_ms(run_total)),
        ("HTTP SSE (streams mode, events kept in SQLite)", median_ms(http_first), median_ms(http_total)),
    ]
    print(f"{args.turns} turns of {args.chunks} streamed chunks each (medians)")
    print(f"{'':50} {'first event ms':>15} {'whole turn ms':>14}")
    for name, first, total in rows:
        print(f"{name:50} {first:15.1f} {total:14.1f}")
    per_event_runner = (median_ms(run_total) - median_ms(sdk_total)) / args.chunks * 1000
    per_event_http = (median_ms(http_total) - median_ms(sdk_total)) / max(1, events) * 1000
    print(f"overhead per event against the bare SDK: Runner {per_event_runner:+.0f} µs, "
          f"HTTP SSE {per_event_http:+.0f} µs ({events} events per HTTP turn)")

    cold = cold_start(args.cold_runs)
    (classic_s, classic_modules), (streams_s, streams_modules) = cold["classic"], cold["streams"]
    print(f"\ncold start, import + build + index an app (median of {args.cold_runs} fresh interpreters):")
    print(f"  classic types: {classic_s * 1000:7.1f} ms, {classic_modules} modules")
    print(f"  streams mode:  {streams_s * 1000:7.1f} ms, {streams_modules} modules")
    print(f"  streams mode adds {(streams_s - classic_s) * 1000:.1f} ms and "
          f"{streams_modules - classic_modules} modules (fastapi, starlette, the extension)")


if __name__ == "__main__":
    main()
