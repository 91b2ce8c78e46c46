"""A2A JSON as peers expect it: whole numbers as integers.

Metadata and data parts are protobuf ``Struct`` values, whose numbers are all doubles, so the SDK's ProtoJSON
writes a token count of 25 as ``25.0``. Every A2A JSON body this app sends (responses, stream events, push
notifications) goes through ``whole_numbers`` first, which writes such numbers as ``25``. JSON does not tell
``25`` from ``25.0`` apart, so nothing is lost; numbers beyond 2**53 (not exact as doubles) are left alone.
"""

from __future__ import annotations

import json
from typing import Any

_EXACT = 2**53


def whole_numbers(data: Any) -> Any:
    """``data`` with every float that holds a whole number (within 2**53) turned into an int."""
    if isinstance(data, float):
        return int(data) if data.is_integer() and -_EXACT <= data <= _EXACT else data
    if isinstance(data, dict):
        return {key: whole_numbers(value) for key, value in data.items()}
    if isinstance(data, list):
        return [whole_numbers(value) for value in data]
    return data


def rewrite_json(body: bytes | str) -> bytes:
    """A JSON document with ``whole_numbers`` applied (the body unchanged when it is not JSON)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body.encode("utf-8") if isinstance(body, str) else body
    return json.dumps(whole_numbers(data), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
