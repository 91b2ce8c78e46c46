"""Kinds of background work other than a chat turn, and the registry the worker finds them in.

A turn record's ``kind`` names what the worker runs for it. ``chat`` is built in (``worker.run_turn``); any
other kind is a ``TurnKind``: it runs the turn from the record (its own details in ``record.data``) and hears
when the worker gives a turn up without running it, so whatever the kind keeps elsewhere (an A2A task's
state) never stays "running" forever. The worker keeps the claim, the lease, retries and poison handling the
same for every kind.

Built-in kinds are named by import path and loaded on first use, so an app that never runs one never imports
it, and a worker instance needs no set-up beyond the app itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..runner import Runner
    from ..sessions.base import SessionStore
    from ..types import ChatResponse
    from .records import TurnRecord

#: The kind of a turn of the chat route (run by ``worker.run_turn``).
CHAT = "chat"

#: Kinds shipped with the runtime: name -> ``module:attribute`` of their ``TurnKind``.
BUILT_IN: dict[str, str] = {
    "a2a": "azurefunctions.agents.a2a.work:A2A_TASKS",
    "approval": "azurefunctions.agents.background.approvals:APPROVED_TURNS",
}


class TurnKind(Protocol):
    """How one kind of background work runs."""

    async def run(self, runner: Runner, record: TurnRecord, store: SessionStore,
                  recovered: ChatResponse | None) -> ChatResponse:
        """Run the turn to its end and return its answer (``status`` ``error`` for a failed one).

        ``recovered`` is the answer an earlier worker saved to the session before it stopped: the kind should
        finish from it instead of running the agent again. Cancelling the coroutine stops the turn.
        """
        ...

    async def abandoned(self, record: TurnRecord, store: SessionStore, error: dict[str, str]) -> None:
        """The worker ended the turn ``failed`` without running it (gave up after ``max_attempts``, poison
        queue, unknown agent); ``error`` is the record's ``{"code", "message"}``."""
        ...


_REGISTERED: dict[str, TurnKind] = {}


def register_kind(name: str, kind: TurnKind) -> None:
    """Make ``kind`` the handler of turn records whose ``kind`` is ``name``."""
    if not isinstance(name, str) or not name or name == CHAT:
        raise ValueError(f"kind name must be a non-empty string other than {CHAT!r}, got {name!r}")
    _REGISTERED[name] = kind


def kind_for(name: str) -> TurnKind | None:
    """The handler of ``name`` (registered, else built in), or ``None`` when no such kind exists."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    target = BUILT_IN.get(name)
    if target is None:
        return None
    module, _, attribute = target.partition(":")
    kind: TurnKind = getattr(importlib.import_module(module), attribute)
    _REGISTERED[name] = kind
    return kind
