"""A streamed turn: the Runner's events sent to the client as they happen and kept with the session.

The turn runs in a task of its own, not inside the HTTP response. The response only listens: when the client
goes away mid-turn, the listener stops and the turn goes on to the end, so the session is saved and the event
log is complete for a client that reconnects (``GET /api/sessions/{id}/stream``). Nothing is cancelled half
way, so a session never holds half a turn.

Events are kept in batches, not one write per token: a batch is written when the first event in it is
``flush_interval`` old, at once for the events a reconnecting client most needs (turn start, tool calls and
results, handoffs, the end), and whenever it grows past ``max_batch_bytes``. Writes run beside the stream and
never delay it; a failed write is logged and the stream goes on. The final batch is written before the live
stream closes, so a client that reconnects after the end finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ..events import AgentEvent, TurnStarted
from ..sessions.event_log import event_log_for
from ..sessions.events import StreamEvent, event_id, new_turn_key
from .sse import KEEP_ALIVE, encode, to_stream_event

if TYPE_CHECKING:
    from ..sessions.base import SessionStore

logger = logging.getLogger("azurefunctions.agents.streaming")

#: Event types written without waiting for the batch interval.
URGENT = frozenset({"turn_started", "tool_call", "tool_result", "handoff", "done", "error"})
#: Turns still running after their client left; a reference keeps each task alive until it ends.
_RUNNING: set[asyncio.Task[None]] = set()


class StreamedTurn:
    """Runs ``events`` (a ``Runner.run_stream``) to the end, feeding ``body()`` and the session's event log.

    ``store`` None keeps nothing (stateless agents). ``owner`` is the user the turn runs for: only they may
    resume it.
    """

    def __init__(self, events: AsyncIterator[AgentEvent], store: SessionStore | None, *, owner: str | None,
                 flush_interval: float = 0.25, max_batch_bytes: int = 256 * 1024,
                 keep_alive_seconds: float = 15.0) -> None:
        self._events = events
        self._store = store
        self._owner = owner
        self._flush_interval = flush_interval
        self._max_batch_bytes = max_batch_bytes
        self._keep_alive = keep_alive_seconds
        self.turn = new_turn_key()
        self.session_id: str | None = None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._listening = True
        self._pending: list[StreamEvent] = []
        self._pending_bytes = 0
        self._changed = asyncio.Event()
        self._urgent = asyncio.Event()
        self._closed = False
        self._batch = 0
        self._writer: asyncio.Task[None] | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> StreamedTurn:
        self.task = asyncio.create_task(self._run(), name=f"turn-{self.turn}")
        _RUNNING.add(self.task)
        self.task.add_done_callback(_RUNNING.discard)
        return self

    async def body(self) -> AsyncIterator[bytes]:
        """The live SSE body: events as they come, keep-alive comments while none do."""
        getter: asyncio.Future[bytes | None] | None = None
        try:
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait({getter}, timeout=self._keep_alive)
                if not done:
                    yield KEEP_ALIVE
                    continue
                chunk, getter = getter.result(), None
                if chunk is None:
                    return
                yield chunk
        finally:
            # The client left (or the stream ended): stop queueing for it; the turn itself carries on.
            self._listening = False
            if getter is not None:
                getter.cancel()

    # The turn ---------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        sequence = 0
        try:
            async for event in self._events:
                if isinstance(event, TurnStarted) and self._store is not None and event.session_id:
                    self.session_id = event.session_id
                    self._writer = asyncio.create_task(self._write_batches())
                sequence += 1
                kept = to_stream_event(event_id(self.turn, sequence), event)
                if self._listening:
                    self._queue.put_nowait(encode(kept))
                if self._writer is not None:
                    self._keep(kept)
        except Exception:
            logger.exception("streamed turn %s failed", self.turn)
        finally:
            with contextlib.suppress(Exception):
                await self._events.aclose()  # type: ignore[attr-defined]
            self._closed = True
            self._changed.set()
            self._urgent.set()
            if self._writer is not None:
                await asyncio.shield(self._writer)
            self._queue.put_nowait(None)

    # The event log ----------------------------------------------------------------------------------------
    def _keep(self, event: StreamEvent) -> None:
        self._pending.append(event)
        self._pending_bytes += len(event.data)
        self._changed.set()
        if event.event in URGENT or self._pending_bytes >= self._max_batch_bytes:
            self._urgent.set()

    async def _write_batches(self) -> None:
        assert self.session_id is not None
        while True:
            await self._changed.wait()
            if not self._closed and not self._urgent.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), self._flush_interval)
            self._changed.clear()
            self._urgent.clear()
            batch, self._pending, self._pending_bytes = self._pending, [], 0
            final = self._closed
            if batch or final:
                await self._write(batch, final)
            if final:
                return

    async def _write(self, events: list[StreamEvent], final: bool) -> None:
        assert self.session_id is not None and self._store is not None
        started = time.perf_counter()
        try:
            await event_log_for(self._store).append(self.session_id, self.turn, self._batch, events,
                                                    owner=self._owner, final=final)
        except Exception as exc:
            logger.warning("could not keep %d stream events of session %s (turn %s) for resuming: %s",
                           len(events), self.session_id, self.turn, exc)
        else:
            logger.debug("kept %d events of turn %s in %.1f ms", len(events), self.turn,
                         (time.perf_counter() - started) * 1000)
        self._batch += 1
