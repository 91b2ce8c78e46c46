"""The turn: its state and final answer (turn.py), the strategy interface (strategy.py), the model/tool loop
(loop.py), handoffs (handoffs.py, overrides.py) and the turn around them with its session (execute.py).

``runner.py`` is the public face; ``Agent.process_request`` runs the turn through execute.py. Nothing here imports
``agent.py``, ``reflection.py`` or ``runner.py`` at runtime (pyproject.toml's import contracts): the agent is
configuration the turn reads, and a strategy (``ReflectionAgent``) meets the loop only through ``TurnStrategy``.
This package exports only what strategies share, so importing it stays cheap.
"""

from .strategy import AnswerLoop, TurnStrategy
from .turn import Final, FinalText, Turn

__all__ = ["AnswerLoop", "Final", "FinalText", "Turn", "TurnStrategy"]
