"""Turn an MCP ``CallToolResult`` into the text a model reads.

Models receive tool results as text, so every content block becomes text: text blocks as they are, embedded
text resources with their URI, and binary content (images, audio, blobs) and resource links as a one-line
description, so the model knows they exist rather than silently losing them. Structured content is kept on
``ToolOutput.structured`` and, when the server sent no text, serialised as JSON for the model.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ..tools.base import ToolOutput


def _size_of_base64(data: Any) -> str:
    if not isinstance(data, str):
        return "unknown size"
    try:
        return f"{len(base64.b64decode(data, validate=False))} bytes"
    except (binascii.Error, ValueError):
        return "unknown size"


def _describe_resource(resource: Any) -> str:
    uri = str(getattr(resource, "uri", ""))
    mime = getattr(resource, "mime_type", None) or "unknown type"
    text = getattr(resource, "text", None)
    if isinstance(text, str):
        return f"[resource {uri} ({mime})]\n{text}"
    return f"[binary resource {uri}: {mime}, {_size_of_base64(getattr(resource, 'blob', None))}]"


def describe_block(block: Any) -> str:
    """One content block as text for the model."""
    kind = getattr(block, "type", None)
    if kind == "text":
        return str(getattr(block, "text", ""))
    if kind in ("image", "audio"):
        mime = getattr(block, "mime_type", None) or "unknown type"
        return f"[{kind}: {mime}, {_size_of_base64(getattr(block, 'data', None))}]"
    if kind == "resource_link":
        name = getattr(block, "name", "") or ""
        parts = [f"[resource link: {name} <{getattr(block, 'uri', '')}>"]
        if getattr(block, "mime_type", None):
            parts.append(f" ({block.mime_type})")
        parts.append("]")
        if getattr(block, "description", None):
            parts.append(f" {block.description}")
        return "".join(parts)
    if kind == "resource":
        return _describe_resource(getattr(block, "resource", None))
    return f"[{kind or 'unknown'} content]"


def to_tool_output(result: Any) -> ToolOutput:
    """Map a ``CallToolResult`` (any protocol version the SDK speaks) to a ``ToolOutput``."""
    blocks = list(getattr(result, "content", None) or [])
    structured = getattr(result, "structured_content", None)
    text = "\n".join(describe_block(block) for block in blocks)
    if not text and structured is not None:
        text = json.dumps(structured, ensure_ascii=False, default=str)
    is_error = bool(getattr(result, "is_error", False))
    if not text and is_error:
        text = "The tool reported an error without details."
    return ToolOutput(content=text, is_error=is_error, structured=structured)
