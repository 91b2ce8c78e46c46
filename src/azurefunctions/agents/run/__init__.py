"""The parts of a turn that strategies share: the turn's state, its final answer, the strategy interface.

``runner.py`` drives a turn; handoffs (``handoff/engine.py``) and reflection (``reflection.py``) shape how an
agent answers inside it. They meet here, so neither side imports the other's internals.
"""

from .strategy import AnswerLoop, TurnStrategy
from .turn import Final, FinalText, Turn

__all__ = ["AnswerLoop", "Final", "FinalText", "Turn", "TurnStrategy"]
