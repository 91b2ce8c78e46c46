"""Paging of ``GET /api/sessions/{session_id}``: a long conversation's history is read a page at a time.

``offset`` (default 0) is the position of the first message; ``limit`` (default and most
``MAX_HISTORY_PAGE``) how many. The reply says ``message_count`` (the whole history) and ``next_offset``
(``null`` after the last page), so a client reads everything by following ``next_offset``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InvalidRequestError

#: Most messages one read of the sessions route returns (and how many it returns unless asked for fewer).
MAX_HISTORY_PAGE = 1000


def history_page_query(query: Mapping[str, str]) -> tuple[int, int]:
    """``(offset, limit)`` from the query string; ``InvalidRequestError`` naming a bad parameter."""
    return _integer(query, "offset", 0, None), _integer(query, "limit", MAX_HISTORY_PAGE, MAX_HISTORY_PAGE)


def _integer(query: Mapping[str, str], name: str, default: int, most: int | None) -> int:
    raw = (query.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or (most is not None and int(raw) > most):
        bound = f"from 0 to {most}" if most is not None else "of 0 or more"
        raise InvalidRequestError(f"{name} must be an integer {bound}, got {raw[:40]!r}")
    return int(raw)
