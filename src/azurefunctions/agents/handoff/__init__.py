"""Handoffs between agents: configuration types (``HandoffConfig``, ``HandoffTarget``, modes, strategies)."""

from .config import ControlReturn, HandoffConfig, HandoffMode, HandoffStrategy, HandoffTarget

__all__ = ["ControlReturn", "HandoffConfig", "HandoffMode", "HandoffStrategy", "HandoffTarget"]
