"""The event log kept with a session: the Server-Sent Events of its streamed turns, so a client that lost the
connection can resume a stream (``GET /api/sessions/{session_id}/stream?after=ID``).

A streamed turn gets a *turn key* when it starts: 9 base-36 digits of the writer's clock in milliseconds and 3
random ones, so keys of one session sort in the order their turns started and two turns never share one.
Each event of the turn has the id ``<turn key>-<n>`` (``n`` counts from 1), which is what the SSE ``id:`` field
carries. Ids therefore order by (turn key, n): "after ID" means the rest of that turn, then every later turn.

The writer stores events in *batches* (one item or row per batch, ``pk`` = session id), several events per
write rather than one per token; a batch marked ``final`` closes its turn. Every backend keeps the same
logical record, built and read by the helpers here.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidRequestError

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
EVENT_ID_PATTERN = re.compile(r"^([0-9a-z]{12})-([1-9][0-9]{0,8})$")
EVENT_ID_RULE = ("after (or the Last-Event-ID header) must be an event id of this session's stream, "
                 "such as 0m3x9k2ab7qz-5")
#: How long event batches are kept unless a store is told otherwise: resuming is a short-term need.
DEFAULT_EVENTS_TTL_SECONDS = 24 * 3600


def new_turn_key(clock: Callable[[], float] = time.time) -> str:
    """A new turn key: the clock in milliseconds (9 base-36 digits) and 3 random base-36 digits."""
    value = int(clock() * 1000)
    digits = ""
    while value:
        value, digit = divmod(value, 36)
        digits = _DIGITS[digit] + digits
    return digits.rjust(9, "0")[-9:] + "".join(secrets.choice(_DIGITS) for _ in range(3))


def event_id(turn: str, sequence: int) -> str:
    return f"{turn}-{sequence}"


def parse_event_id(value: str) -> tuple[str, int]:
    """(turn key, sequence) of an event id; ``InvalidRequestError`` for anything else."""
    match = EVENT_ID_PATTERN.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidRequestError(EVENT_ID_RULE)
    return match.group(1), int(match.group(2))


@dataclass(frozen=True)
class StreamEvent:
    """One SSE event as sent and as kept: ``id``, ``event`` name and ``data`` (JSON text, one line)."""

    id: str
    event: str
    data: str

    @property
    def position(self) -> tuple[str, int]:
        return parse_event_id(self.id)


@dataclass
class EventBatch:
    """Events of one turn written together; ``final`` marks the turn's last batch."""

    turn: str
    batch: int
    events: list[StreamEvent]
    owner: str | None
    final: bool
    written_at: float

    def to_record(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "batch": self.batch,
            "owner": self.owner,
            "final": self.final,
            "written_at": self.written_at,
            "last": self.events[-1].position[1] if self.events else 0,
            "events": [[e.id, e.event, e.data] for e in self.events],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> EventBatch:
        return cls(
            turn=str(record["turn"]),
            batch=int(record["batch"]),
            events=[StreamEvent(str(i), str(name), str(data)) for i, name, data in record.get("events") or []],
            owner=record.get("owner"),
            final=bool(record.get("final")),
            written_at=float(record.get("written_at") or 0.0),
        )


def batch_item_id(session_id: str, turn: str, batch: int) -> str:
    """Item id of a batch; ids of one session sort by (turn, batch)."""
    return f"{session_id}:e:{turn}:{batch:06d}"


def turn_prefix(session_id: str, turn: str) -> str:
    return f"{session_id}:e:{turn}:"


@dataclass
class TurnLog:
    """What the log holds of one turn: its owner, whether it ended, and the events asked for."""

    turn: str
    owner: str | None
    complete: bool
    written_at: float
    events: list[StreamEvent] = field(default_factory=list)


def turns_from_batches(batches: Iterable[EventBatch], after: str | None) -> list[TurnLog]:
    """The turns a reader asked for, oldest first.

    ``after`` None: the latest turn with all its events. Otherwise the turn of ``after`` with the events that
    follow it (the turn is listed even when none do, so the reader learns whether it ended), then every later
    turn. ``batches`` may hold more than that (and in any order); the rest is dropped here.
    """
    position = parse_event_id(after) if after is not None else None
    by_turn: dict[str, list[EventBatch]] = {}
    for batch in batches:
        by_turn.setdefault(batch.turn, []).append(batch)
    if not by_turn:
        return []
    wanted = [max(by_turn)] if position is None else sorted(t for t in by_turn if t >= position[0])
    result: list[TurnLog] = []
    for turn in wanted:
        ordered = sorted(by_turn[turn], key=lambda b: b.batch)
        events = [e for b in ordered for e in b.events]
        if position is not None and turn == position[0]:
            events = [e for e in events if e.position[1] > position[1]]
        result.append(TurnLog(
            turn=turn, owner=ordered[0].owner, complete=any(b.final for b in ordered),
            written_at=max(b.written_at for b in ordered), events=events,
        ))
    return result


def check_events(events: Sequence[StreamEvent], turn: str) -> None:
    """Events appended to a turn must carry that turn's ids (so ``after`` filtering stays exact)."""
    for event in events:
        if event.position[0] != turn:
            raise ValueError(f"event {event.id!r} does not belong to turn {turn!r}")
