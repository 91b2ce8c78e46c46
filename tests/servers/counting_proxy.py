"""A TCP proxy on 127.0.0.1 that counts the bytes each way: how much a client really sends and receives.

It forwards the connection byte for byte (TLS included, so the client still talks to the real server and
verifies nothing differently); the counts are what crossed the wire, headers and TLS framing included.
Used to measure what a session store reads and writes per turn against the local Cosmos DB server, which
reports a constant request charge and so cannot be asked for request units.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass


@dataclass
class Counts:
    sent: int = 0  # client -> server
    received: int = 0  # server -> client


class CountingProxy:
    """``async with CountingProxy(host, port) as proxy``: clients connect to ``proxy.port``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.counts = Counts()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> Counts:
        """The counts so far; counting starts again from zero."""
        counts, self.counts = self.counts, Counts()
        return counts

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        up = asyncio.create_task(self._pump(client_reader, server_writer, upstream=True))
        down = asyncio.create_task(self._pump(server_reader, client_writer, upstream=False))
        self._tasks.update((up, down))
        up.add_done_callback(self._tasks.discard)
        down.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, upstream: bool) -> None:
        try:
            while data := await reader.read(65536):
                if upstream:
                    self.counts.sent += len(data)
                else:
                    self.counts.received += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
