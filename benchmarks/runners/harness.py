"""What every runner process does, whatever framework it drives (standard library only: it runs in each
runner's own virtual environment).

A runner module defines ``build(base_url) -> agent`` (its imports happen inside, so they are timed),
``turn(agent, message) -> answer`` (async) and optionally ``close(agent)`` (async), then calls ``main``.
Phases (the first argument):

- ``first-answer``: import, build and answer one turn, then exit (the orchestrator times the whole process);
- ``turns``: ``--warmup`` turns, then ``--turns`` sequential turns, each timed (wall and process CPU);
- ``concurrency``: one warm-up turn, then ``--turns`` turns with ``--concurrency`` in flight;
- ``serve-check``: build only (used to check that a runner installs and imports).

Every answer must quote the tool's output, or the run fails. The result is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

STARTED = time.perf_counter()

MODEL = "gpt-4o-mini"
API_KEY = "benchmark-key"
MESSAGE = "What is the weather in Paris?"
INSTRUCTIONS = "You answer weather questions with the get_weather tool and quote what it says."


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: the city to look up.
    """
    return f"Sunny, 21 C in {city}"


TOOL_OUTPUT = get_weather("Paris")


def _check(answer: Any) -> None:
    if TOOL_OUTPUT not in str(answer):
        raise SystemExit(f"the answer does not quote the tool's output: {answer!r}")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def _run(phase: str, args: argparse.Namespace, build: Callable[[str], Any],
               turn: Callable[[Any, str], Awaitable[Any]],
               close: Callable[[Any], Awaitable[None]] | None) -> dict[str, Any]:
    agent = build(args.base_url)
    result: dict[str, Any] = {"phase": phase}
    try:
        if phase == "first-answer":
            _check(await turn(agent, MESSAGE))
            result["in_process_ms"] = (time.perf_counter() - STARTED) * 1000
        elif phase == "turns":
            for _ in range(args.warmup):
                _check(await turn(agent, MESSAGE))
            walls, cpus = [], []
            for _ in range(args.turns):
                w0, c0 = time.perf_counter(), time.process_time()
                answer = await turn(agent, MESSAGE)
                cpus.append(time.process_time() - c0)
                walls.append(time.perf_counter() - w0)
                _check(answer)
            result.update(walls_ms=[w * 1000 for w in walls], cpus_ms=[c * 1000 for c in cpus])
        elif phase == "concurrency":
            _check(await turn(agent, MESSAGE))
            remaining = args.turns
            answers: list[Any] = []

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    answers.append(await turn(agent, MESSAGE))

            w0, c0 = time.perf_counter(), time.process_time()
            await asyncio.gather(*(worker() for _ in range(args.concurrency)))
            result.update(wall_s=time.perf_counter() - w0, cpu_s=time.process_time() - c0)
            for answer in answers:
                _check(answer)
            result["answers"] = len(answers)
        elif phase != "serve-check":
            raise SystemExit(f"unknown phase {phase!r}")
    finally:
        if close is not None:
            await close(agent)
    result["peak_rss_mib"] = _peak_rss_mib()
    return result


def main(build: Callable[[str], Any], turn: Callable[[Any, str], Awaitable[Any]],
         close: Callable[[Any], Awaitable[None]] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["first-answer", "turns", "concurrency", "serve-check"])
    parser.add_argument("--base-url", required=True, help="the model server's OpenAI base URL (…/v1)")
    parser.add_argument("--turns", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    result = asyncio.run(_run(args.phase, args, build, turn, close))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
