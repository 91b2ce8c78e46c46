"""Cost of the session store per turn: one load and one save, for each backend.

    python benchmarks/sessions_bench.py [--turns 200] [--large-mb 2.5]

Backends: memory; SQLite (a temporary file); Cosmos DB through the local ``@vercel/cosmosdb-server`` (needs
Node and ``npm ci`` in tests/node), or a real account when ``COSMOS_ENDPOINT`` is set (``COSMOS_DATABASE``,
``COSMOS_CONTAINER``, credential ``DefaultAzureCredential``). Two conversations each: a short one that
grows by two messages a turn, and a large one (``--large-mb`` of history, which Cosmos DB spills into
further items).
Round trips are SQL statements for SQLite and HTTP requests for Cosmos DB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from azurefunctions.agents.messages import Message  # noqa: E402
from azurefunctions.agents.sessions import MemorySessionStore, Session, SessionStore  # noqa: E402


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def hit(self, *_: Any, **__: Any) -> None:
        self.count += 1


class StaticToken:
    """A credential for the local server, which checks no tokens (a real account uses Entra ID)."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("local-benchmark-token", int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticToken:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


@asynccontextmanager
async def memory_backend() -> AsyncIterator[tuple[Callable[[], SessionStore], Counter]]:
    store = MemorySessionStore()
    yield (lambda: store), Counter()


@asynccontextmanager
async def sqlite_backend() -> AsyncIterator[tuple[Callable[[], SessionStore], Counter]]:
    from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

    with tempfile.TemporaryDirectory() as folder:
        store = SqliteSessionStore(Path(folder) / "sessions.sqlite3", ttl_seconds=None)
        counter = Counter()
        db = await store._connection()  # opened first, so set-up statements are not counted
        await db.set_trace_callback(counter.hit)
        try:
            yield (lambda: store), counter
        finally:
            await store.aclose()


@asynccontextmanager
async def cosmos_backend() -> AsyncIterator[tuple[Callable[[], SessionStore], Counter]]:
    from azurefunctions.agents.sessions.cosmos import CosmosSessionStore

    counter = Counter()
    endpoint = os.environ.get("COSMOS_ENDPOINT", "").strip()
    server = None
    if endpoint:
        options: dict[str, Any] = {}
    else:
        from tests.servers.cosmos import CosmosServer

        server = CosmosServer().start()
        endpoint = server.endpoint
        options = {
            "credential": StaticToken(),
            "database": f"bench-{uuid.uuid4().hex[:8]}",
            "create_if_missing": True,
            "enable_endpoint_discovery": False,
        }
    store = CosmosSessionStore(
        endpoint, ttl_seconds=None, client_options={"raw_request_hook": counter.hit}, **options
    )
    try:
        await store.load("warm-up")  # connection, token and container metadata, outside the measurement
        yield (lambda: store), counter
    finally:
        await store.aclose()
        if server is not None:
            server.stop()


BACKENDS = {"memory": memory_backend, "sqlite": sqlite_backend, "cosmos": cosmos_backend}


async def run_turns(
    store: SessionStore, counter: Counter, session_id: str, turns: int
) -> tuple[list[float], float, float]:
    """Per-turn milliseconds, and mean round trips of a load and of a save."""
    times: list[float] = []
    loads = saves = 0
    for turn in range(turns):
        start = time.perf_counter()
        before = counter.count
        session = await store.load(session_id) or Session(id=session_id, user_id="bench")
        loaded = counter.count
        session.messages += [
            Message(role="user", content=f"question {turn}"),
            Message(role="assistant", content=f"answer {turn} " + "lorem ipsum " * 20, agent="bench"),
        ]
        await store.save(session)
        times.append((time.perf_counter() - start) * 1000)
        loads += loaded - before
        saves += counter.count - loaded
    return times, loads / turns, saves / turns


async def bench(name: str, turns: int, large_mb: float) -> list[tuple[str, ...]]:
    rows = []
    async with BACKENDS[name]() as (make, counter):
        store = make()
        short_id = f"bench-{uuid.uuid4().hex}"
        times, loads, saves = await run_turns(store, counter, short_id, turns)
        rows.append(row(name, "short", times, loads, saves))

        large_id = f"bench-{uuid.uuid4().hex}"
        chunk = "x" * 50_000
        history = [Message(role="tool", content=chunk, tool_call_id=f"c{n}", name="fetch")
                   for n in range(int(large_mb * 1024 * 1024 / len(chunk)))]
        await store.save(Session(id=large_id, messages=history))
        times, loads, saves = await run_turns(store, counter, large_id, max(10, turns // 10))
        rows.append(row(name, f"{large_mb:g} MB", times, loads, saves))
        await store.delete(short_id)
        await store.delete(large_id)
    return rows


def row(name: str, history: str, times: list[float], loads: float, saves: float) -> tuple[str, ...]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (name, history, f"{statistics.mean(times):.2f}", f"{statistics.median(times):.2f}", f"{p95:.2f}",
            f"{loads:.1f}", f"{saves:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--large-mb", type=float, default=2.5)
    parser.add_argument("--backends", default="memory,sqlite,cosmos")
    args = parser.parse_args()

    header = ("backend", "history", "ms/turn", "p50", "p95", "RT load", "RT save")
    table = [header]
    for name in args.backends.split(","):
        try:
            table += asyncio.run(bench(name.strip(), args.turns, args.large_mb))
        except (ImportError, RuntimeError) as error:
            table.append((name, "skipped", str(error)[:60], "", "", "", ""))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
