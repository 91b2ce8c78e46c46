"""What the session store costs a turn as a conversation grows: 10, 100 and 1,000 turns of history.

    python benchmarks/sessions_bench.py [--turns 1000] [--backends memory,sqlite,cosmos] [--window 50]

Each backend holds one conversation that grows turn by turn exactly as the runner drives it: load the window
the model sees (``load_recent``, the last ``--window`` messages), then append what the turn added (a question
and an answer of about 1.2 KB together). Ten turns are measured around each checkpoint (turns 1-10, 91-100,
991-1,000); the others only build the history. A turn's cost should not grow with the history.

Backends: memory; SQLite (a temporary file); Cosmos DB through the local ``@vercel/cosmosdb-server`` (needs
Node and ``npm ci`` in tests/node), or a real account when ``COSMOS_ENDPOINT`` is set (``COSMOS_DATABASE``,
``COSMOS_CONTAINER``, credential ``DefaultAzureCredential``).

Columns: ``RT`` round trips per turn (SQL statements for SQLite, HTTP requests for Cosmos DB); ``KB written``
what reached the database (SQLite: pages its write-ahead log gained, counted by SQLite; Cosmos DB: request
bodies); ``KB read`` (Cosmos DB: response bodies). ``-`` where a backend has no such count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from azurefunctions.agents.messages import Message  # noqa: E402
from azurefunctions.agents.sessions import MemorySessionStore, Session, SessionStore  # noqa: E402

CHECKPOINTS = (10, 100, 1000)
MEASURED = 10  # turns measured at each checkpoint (the last of them metered, the others timed)


@dataclass
class Counts:
    """What a backend reports about the work it did; ``None`` where it cannot tell."""

    round_trips: int = 0
    written: int | None = None
    read: int | None = None
    before_turn: Callable[[], None] = field(default=lambda: None)
    after_turn: Callable[[], None] = field(default=lambda: None)


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
async def memory_backend() -> AsyncIterator[tuple[SessionStore, Counts]]:
    yield MemorySessionStore(), Counts()


@asynccontextmanager
async def sqlite_backend() -> AsyncIterator[tuple[SessionStore, Counts]]:
    from azurefunctions.agents.sessions.sqlite import SqliteSessionStore

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sessions.sqlite3"
        store = SqliteSessionStore(path, ttl_seconds=None)
        counts = Counts(written=0)
        db = await store._connection()  # opened first, so set-up statements are not counted

        def statement(*_: Any) -> None:
            counts.round_trips += 1

        await db.set_trace_callback(statement)
        page_size = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]

        def frames(mode: str) -> int:
            with sqlite3.connect(path) as check:
                return int(check.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[1])

        def before() -> None:
            frames("TRUNCATE")  # an empty log: what the turn adds to it is what it wrote

        def after() -> None:
            counts.written = (counts.written or 0) + frames("PASSIVE") * page_size

        counts.before_turn, counts.after_turn = before, after
        try:
            yield store, counts
        finally:
            await store.aclose()


@asynccontextmanager
async def cosmos_backend() -> AsyncIterator[tuple[SessionStore, Counts]]:
    from azurefunctions.agents.sessions.cosmos import CosmosSessionStore

    counts = Counts(written=0, read=0)

    def on_request(request: Any) -> None:
        counts.round_trips += 1
        body = getattr(request.http_request, "body", None) or b""
        counts.written = (counts.written or 0) + len(body)

    def on_response(response: Any) -> None:
        with contextlib.suppress(Exception):  # a streamed body: not counted
            counts.read = (counts.read or 0) + len(response.http_response.body() or b"")

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
        endpoint, ttl_seconds=None,
        client_options={"raw_request_hook": on_request, "raw_response_hook": on_response}, **options,
    )
    try:
        await store.load("warm-up")  # connection, token and container metadata, outside the measurement
        yield store, counts
    finally:
        await store.aclose()
        if server is not None:
            server.stop()


BACKENDS = {"memory": memory_backend, "sqlite": sqlite_backend, "cosmos": cosmos_backend}


def turn_messages(turn: int) -> list[Message]:
    return [Message(role="user", content=f"question {turn} " + "lorem ipsum " * 25),
            Message(role="assistant", content=f"answer {turn} " + "lorem ipsum " * 70, agent="bench")]


async def take_turn(store: SessionStore, session_id: str, turn: int, window: int) -> None:
    session = await store.load_recent(session_id, window) or Session(id=session_id, user_id="bench")
    await store.append(session, turn_messages(turn))


async def bench(name: str, turns: int, window: int) -> list[tuple[str, ...]]:
    rows = []
    checkpoints = [c for c in CHECKPOINTS if c <= turns] or [turns]
    measured = {t for c in checkpoints for t in range(max(1, c - MEASURED + 1), c + 1)}
    async with BACKENDS[name]() as (store, counts):
        session_id = f"bench-{uuid.uuid4().hex}"
        samples: dict[int, list[tuple[float, int, int | None, int | None]]] = {c: [] for c in checkpoints}
        for turn in range(1, max(checkpoints) + 1):
            if turn not in measured:
                await take_turn(store, session_id, turn, window)
                continue
            # The checkpoint's own turn is metered (the backend's counts read around it, which may cost I/O);
            # the turns before it are timed.
            metered = turn in checkpoints
            if metered:
                counts.before_turn()
            trips, written, read = counts.round_trips, counts.written, counts.read
            start = time.perf_counter()
            await take_turn(store, session_id, turn, window)
            elapsed = (time.perf_counter() - start) * 1000
            if metered:
                counts.after_turn()
            checkpoint = min(c for c in checkpoints if c >= turn)
            samples[checkpoint].append((
                float("nan") if metered else elapsed, counts.round_trips - trips,
                None if written is None or counts.written is None or not metered else counts.written - written,
                None if read is None or counts.read is None else counts.read - read,
            ))
        for checkpoint in checkpoints:
            rows.append(row(name, checkpoint, samples[checkpoint]))
        await store.delete(session_id)
    return rows


def row(name: str, checkpoint: int, samples: list[tuple[float, int, int | None, int | None]]) -> tuple[str, ...]:
    times = sorted(s[0] for s in samples if s[0] == s[0])  # the metered turn's time is not kept (NaN)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]

    def kb(values: list[int | None]) -> str:
        known = [v for v in values if v is not None]
        return f"{statistics.fmean(known) / 1024:.1f}" if known else "-"

    return (name, f"{checkpoint}", f"{statistics.median(times):.2f}", f"{p95:.2f}",
            f"{statistics.fmean(s[1] for s in samples):.1f}", kb([s[2] for s in samples]),
            kb([s[3] for s in samples]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000, help="history length to grow to (default 1000)")
    parser.add_argument("--window", type=int, default=50, help="messages the model sees (Agent.history_window)")
    parser.add_argument("--backends", default="memory,sqlite,cosmos")
    args = parser.parse_args()

    header = ("backend", "turns of history", "ms/turn", "p95", "RT", "KB written", "KB read")
    table = [header]
    for name in args.backends.split(","):
        try:
            table += asyncio.run(bench(name.strip(), args.turns, args.window))
        except (ImportError, RuntimeError) as error:
            table.append((name, "skipped", str(error)[:60], "", "", "", ""))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
