"""A transparent scoring rubric for drafts: length, a concrete example, and a direct opening."""

from __future__ import annotations


def score_answer(question: str, answer: str) -> tuple[float, str]:
    """Score 0-1 with feedback naming what is missing."""
    text = answer.strip()
    problems: list[str] = []
    score = 1.0
    if len(text.split()) < 12:
        score -= 0.4
        problems.append("it is too short: give at least two full sentences")
    if not any(marker in text.lower() for marker in ("for example", "e.g.", "such as")):
        score -= 0.3
        problems.append("add a concrete example ('for example ...')")
    if text.lower().startswith(("i think", "maybe", "well")):
        score -= 0.2
        problems.append("open with the answer, not a hedge")
    return max(0.0, round(score, 2)), "; ".join(problems) or "clear, concrete and complete"
