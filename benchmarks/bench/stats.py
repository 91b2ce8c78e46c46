"""Medians with their spread, paired differences, and how figures are printed."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100): a value that was actually observed."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Spread:
    """The median of per-round figures and the range they covered."""

    median: float
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no rounds to summarise")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def fmt(self, digits: int = 1, signed: bool = False, suffix: str = "") -> str:
        sign = "+" if signed else ""
        if self.rounds == 1:
            return f"{self.median:{sign}.{digits}f}{suffix}"
        return (f"{self.median:{sign}.{digits}f}{suffix} "
                f"({self.low:{sign}.{digits}f}…{self.high:{sign}.{digits}f})")


def paired(values: dict[int, float], floor: dict[int, float], *, ratio: bool = False) -> Spread | None:
    """Per-round differences (or ratios) against the floor's figure from the same round.

    Rounds interleave the runners, so a slow moment of the machine hits both figures of a pair alike: the
    paired difference is steadier than the difference of the two medians.
    """
    rounds = sorted(set(values) & set(floor))
    if not rounds:
        return None
    if ratio:
        return Spread.of([values[r] / floor[r] for r in rounds if floor[r]])
    return Spread.of([values[r] - floor[r] for r in rounds])
