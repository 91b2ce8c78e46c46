"""Handoffs between agents: configuration types (``HandoffConfig``, ``HandoffTarget``, modes, strategies) and the
tools the model sees for them (tools.py). Running a handoff is part of the turn: run/handoffs.py."""

from .config import ControlReturn, HandoffConfig, HandoffMode, HandoffStrategy, HandoffTarget

__all__ = ["ControlReturn", "HandoffConfig", "HandoffMode", "HandoffStrategy", "HandoffTarget"]
