"""The turn-strategy interface: how an agent's answer is shaped around a loop it is given.

A strategy never sees a ``Runner``. It gets the turn's state and the loop it wraps (an ``AnswerLoop``), and
yields the same items that loop yields: events, ending with one ``Final``. ``ReflectionAgent`` wraps the
model/tool loop (answer, evaluate, answer again); ``HandoffEngine`` wraps the agent's own answer (route before
the model, chain the targets) and reaches a target through the full answer loop it was built with.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..agent import Agent
    from ..messages import Message
    from .turn import Turn

#: ``loop(turn, agent, history, stream)``: an agent's answer as events ending with a ``Final``. It appends
#: what the agent said to ``history``.
AnswerLoop = Callable[["Turn", "Agent", "list[Message]", bool], AsyncIterator[Any]]


@runtime_checkable
class TurnStrategy(Protocol):
    """Shapes an agent's answer around ``loop``; yields events and ends with one ``Final``."""

    def answer_turn(self, turn: Turn, agent: Agent, history: list[Message], stream: bool,
                    loop: AnswerLoop) -> AsyncIterator[Any]: ...
