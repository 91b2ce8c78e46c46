"""The labelled offline model: deterministic answers with no network, for demos and tests.

It is chosen explicitly (``LLMProvider.OFFLINE``) or by ``LLMConfig.from_env()`` when nothing is configured
locally, never silently in Azure. It still runs a real tool loop: it calls the agent's tool that best matches
the message, with arguments taken from the message, and then answers quoting the tool's result. Every answer
starts with ``LABEL`` so nobody mistakes it for a model.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from ..messages import Message, ToolCall, Usage
from ..types import LLMConfig
from .base import ModelDelta, ModelProvider, ModelRequest, ModelResponse, ModelStreamItem, ToolSpec

LABEL = "[offline model]"
_WORD = re.compile(r"[A-Za-z]{3,}")
_PLACE = re.compile(r"\b(?:in|for|at|of|about|to)\s+([A-Z][\w' -]*?|[\w' -]+?)\s*(?:[?.!,;]|$)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class OfflineProvider(ModelProvider):
    provider_name = "offline"

    def __init__(self, config: LLMConfig | None = None) -> None:
        self.config = config

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelStreamItem]:
        response = self._respond(request)
        if response.text:
            words = response.text.split(" ")
            for i, word in enumerate(words):
                yield ModelDelta(word if i == len(words) - 1 else word + " ")
        yield response

    def _respond(self, request: ModelRequest) -> ModelResponse:
        last_user = next((i for i in range(len(request.messages) - 1, -1, -1)
                          if request.messages[i].role == "user"), None)
        user_text = request.messages[last_user].content if last_user is not None else ""
        since_user = request.messages[last_user + 1:] if last_user is not None else []
        results = [m for m in since_user if m.role == "tool"]
        usage = Usage(input_tokens=sum(len(m.content.split()) for m in request.messages), requests=1)
        if results:
            quoted = "; ".join(f"{m.name or 'tool'} returned: {m.content}" for m in results)
            text = f"{LABEL} {quoted}"
            return ModelResponse(text=text, finish_reason="stop", usage=_out(usage, text), model="offline")
        tool = _pick_tool(request.tools, user_text)
        if tool is not None:
            arguments = _arguments(tool, user_text)
            if arguments is not None:
                call = ToolCall(id=f"offline-call-{len(request.messages)}", name=tool.name, arguments=arguments)
                return ModelResponse(tool_calls=[call], finish_reason="tool_calls", usage=usage, model="offline")
        text = (f"{LABEL} You said: {user_text.strip()} (No model provider is configured: set "
                "OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT or AGENT_PROVIDER for real answers.)")
        if request.json_output:
            text = '{"score": 1.0, "feedback": "offline evaluation", "agent": null}'
        if request.output is not None:
            # A typed answer: an example that matches the schema, its texts labelled as offline.
            schema = request.output.schema
            text = json.dumps(example_of(schema, schema.get("$defs") or {}, 0))
        return ModelResponse(text=text, finish_reason="stop", usage=_out(usage, text), model="offline")


def _out(usage: Usage, text: str) -> Usage:
    usage.output_tokens = len(text.split())
    return usage


def _pick_tool(tools: list[ToolSpec], text: str) -> ToolSpec | None:
    if not tools:
        return None
    words = {w.lower() for w in _WORD.findall(text)}
    best, best_score = None, 0
    for tool in tools:
        vocabulary = {w.lower() for w in _WORD.findall(f"{tool.name.replace('_', ' ')} {tool.description}")}
        score = len(words & vocabulary)
        if score > best_score:
            best, best_score = tool, score
    if best is None and len(tools) == 1:
        return tools[0]
    return best


def _arguments(tool: ToolSpec, text: str) -> dict[str, Any] | None:
    """Arguments for the required parameters, drawn from the message; None if one cannot be filled."""
    properties: dict[str, Any] = tool.parameters.get("properties", {})
    required = tool.parameters.get("required", [])
    place = _PLACE.search(text)
    phrase = place.group(1).strip() if place else text.strip().rstrip("?.!")
    numbers = _NUMBER.findall(text)
    arguments: dict[str, Any] = {}
    for name in required:
        schema = properties.get(name, {})
        kind = schema.get("type")
        if schema.get("enum"):
            arguments[name] = schema["enum"][0]
        elif kind == "string" or kind is None:
            arguments[name] = phrase
        elif kind in ("number", "integer"):
            if not numbers:
                return None
            value = numbers.pop(0)
            arguments[name] = int(float(value)) if kind == "integer" else float(value)
        elif kind == "boolean":
            arguments[name] = False
        else:
            return None
    return arguments


def is_offline_answer(message: Message) -> bool:
    return message.content.startswith(LABEL)


def example_of(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> Any:
    """A value matching ``schema``: defaults and first enum values where given, else the simplest value."""
    if depth > 8:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return example_of(defs.get(ref.rsplit("/", 1)[-1], {}), defs, depth + 1)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        variants = [v for v in schema.get(key) or [] if isinstance(v, dict) and v.get("type") != "null"]
        if variants:
            return example_of(variants[0], defs, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {name: example_of(sub, defs, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        items = schema.get("items")
        item: dict[str, Any] = items if isinstance(items, dict) else {}
        return [example_of(item, defs, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = low + 1 if "exclusiveMinimum" in schema else low
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    if kind == "string":
        return LABEL
    return None
