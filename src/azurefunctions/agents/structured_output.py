"""Typed answers: ``Agent(output_type=...)`` turned into a schema for the model and a validator for its answer.

Any type pydantic can validate works (a ``BaseModel``, a dataclass, a ``TypedDict``, ``list[str]``, a
``Literal``...). Providers want an object at the root of a response schema (OpenAI's ``json_schema`` format and
Anthropic's tool ``input_schema`` require one), so a type whose schema is not an object is wrapped as
``{"result": <schema>}`` on the wire and unwrapped before validation; users never see the wrapper.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .providers.base import OutputSpec

#: The property that carries a non-object answer on the wire.
WRAPPER_KEY = "result"
_NAME = re.compile(r"[^A-Za-z0-9_-]")


class OutputInvalid(ValueError):
    """The model's answer does not match the schema; the message says where, for the model and the client."""


class StructuredOutput:
    """One agent's ``output_type``: the schema sent to the model, and the validation of its answer."""

    def __init__(self, output_type: Any) -> None:
        try:
            self.adapter: TypeAdapter[Any] = TypeAdapter(output_type)
            schema = self.adapter.json_schema()
        except Exception as exc:  # pydantic raises several kinds for a type it cannot handle
            first = (str(exc).splitlines() or [""])[0].split(". Set `arbitrary_types_allowed")[0]
            raise TypeError(f"output_type={output_type!r} is not a type pydantic can validate: {first}") from None
        self.output_type = output_type
        self.schema = schema
        self.wrapped = schema.get("type") != "object"
        wire = schema
        if self.wrapped:
            inner = {key: value for key, value in schema.items() if key != "$defs"}
            wire = {"type": "object", "properties": {WRAPPER_KEY: inner}, "required": [WRAPPER_KEY]}
            if "$defs" in schema:
                wire["$defs"] = schema["$defs"]
        raw_name = getattr(output_type, "__name__", None) or "output"
        name = _NAME.sub("_", str(raw_name))[:64] or "output"
        description = (getattr(output_type, "__doc__", None) or "") if hasattr(output_type, "model_fields") else ""
        self.spec = OutputSpec(name=name, schema=wire, description=" ".join(description.split()))

    @property
    def name(self) -> str:
        return self.spec.name

    def validate(self, text: str) -> Any:
        """The typed value in the model's answer ``text``; raises ``OutputInvalid`` naming what is wrong."""
        try:
            data = json.loads(_strip_fence(text))
        except json.JSONDecodeError as exc:
            raise OutputInvalid(f"the answer is not valid JSON ({exc.msg} at position {exc.pos})") from None
        if self.wrapped:
            if not isinstance(data, dict) or WRAPPER_KEY not in data:
                raise OutputInvalid(f'the answer must be a JSON object with the key "{WRAPPER_KEY}"')
            data = data[WRAPPER_KEY]
        try:
            return self.adapter.validate_python(data)
        except ValidationError as exc:
            raise OutputInvalid(describe(exc)) from None

    def dump_json(self, value: Any) -> str:
        """The validated value as JSON text (the reply's ``response``)."""
        return self.adapter.dump_json(value).decode()

    def to_jsonable(self, value: Any) -> Any:
        """The validated value as JSON-ready data (the reply's ``output``)."""
        return self.adapter.dump_python(value, mode="json")

    def correction(self, problem: OutputInvalid) -> str:
        """What the model is told when its answer did not validate (it gets one more try)."""
        return (f"Your answer did not match the required JSON schema {self.name}: {problem}. "
                "Answer again with only the corrected JSON.")


def describe(exc: ValidationError) -> str:
    """Each problem as ``location: message``, without echoing the values (they may be long or private)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:10]:
        where = ".".join(str(part) for part in error["loc"]) or "(root)"
        problems.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def _strip_fence(text: str) -> str:
    """The JSON inside a Markdown code fence, which some models add even when asked for JSON only."""
    stripped = text.strip()
    match = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", stripped, flags=re.DOTALL)
    return match.group(1) if match else stripped
