"""Python functions as tools: a JSON schema from type hints and docstrings, arguments validated by pydantic.

Arguments are validated before the function runs, and a validation failure or an exception goes back to the
model as an error result, so the model can correct itself and the turn goes on.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable
from typing import Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ..interrupts import InputRequired
from .base import (
    ApprovalPolicy,
    ApprovalReason,
    Tool,
    ToolContext,
    ToolError,
    ToolOutput,
    check_approval_reason,
    check_needs_approval,
    check_repeatable,
)
from .docstrings import parse_docstring

logger = logging.getLogger("azurefunctions.agents.tools")


class FunctionTool(Tool):
    """Wraps a sync or async function. A parameter annotated ``ToolContext`` receives the turn's context; a
    parameter named ``idempotency_key`` receives the call's key (``ToolContext.idempotency_key``). Neither is
    shown to the model.

    ``needs_approval``, ``approval_reason`` and ``repeatable`` are the ``Tool`` declarations (see there).
    """

    #: The parameter that receives ``ToolContext.idempotency_key`` (not an argument the model fills in).
    IDEMPOTENCY_KEY_PARAMETER = "idempotency_key"

    def __init__(self, func: Callable[..., Any], *, name: str | None = None,
                 description: str | None = None, needs_approval: bool | ApprovalPolicy = False,
                 approval_reason: ApprovalReason | None = None, repeatable: bool = True) -> None:
        if not callable(func):
            raise TypeError(f"tool must be callable, got {type(func).__name__}")
        self.func = func
        self.name = name or getattr(func, "__name__", None) or type(func).__name__
        if not self.name.replace("_", "a").replace("-", "a").isalnum() or len(self.name) > 64:
            raise ValueError(f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-'")
        owner = f"tool {self.name!r}:"
        self.needs_approval = check_needs_approval(needs_approval, owner)
        self.approval_reason = check_approval_reason(approval_reason, owner)
        self.repeatable = check_repeatable(repeatable, owner)
        summary, self._param_docs = parse_docstring(inspect.getdoc(func))
        self.description = description or summary or self.name
        self._is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            type(func).__call__)
        self._context_param: str | None = None
        self._key_param: str | None = None
        # The argument model and JSON schema are built on first use: a Function App indexes (imports
        # function_app.py) without paying for pydantic model creation of every tool.
        self._built: tuple[type[BaseModel], dict[str, Any]] | None = None

    @property
    def _model(self) -> type[BaseModel]:
        return self._build()[0]

    def _build(self) -> tuple[type[BaseModel], dict[str, Any]]:
        if self._built is None:
            model = self._build_model(self._param_docs)
            schema = model.model_json_schema()
            schema.pop("title", None)
            _drop_titles(schema)
            self._built = (model, schema)
        return self._built

    def _build_model(self, param_docs: dict[str, str]) -> type[BaseModel]:
        signature = inspect.signature(self.func)
        try:
            hints = get_type_hints(self.func, include_extras=True)
        except Exception:  # unresolvable forward references: fall back to raw annotations
            hints = {}
        fields: dict[str, Any] = {}
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = hints.get(param.name, param.annotation)
            if annotation is inspect.Parameter.empty:
                annotation = Any
            if annotation is ToolContext:
                self._context_param = param.name
                continue
            if param.name == self.IDEMPOTENCY_KEY_PARAMETER:
                self._key_param = param.name
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (annotation, Field(default, description=param_docs.get(param.name)))
        model_name = "".join(part.capitalize() for part in self.name.split("_")) + "Arguments"
        return create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)  # type: ignore[call-overload,no-any-return]

    @property
    def parameters(self) -> dict[str, Any]:
        return self._build()[1]

    @property
    def accepts_idempotency_key(self) -> bool:
        self._build()
        return self._context_param is not None or self._key_param is not None

    async def invoke(self, arguments: dict[str, Any], context: ToolContext) -> ToolOutput:
        try:
            validated = self._model.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}" for err in exc.errors()
            )
            return ToolOutput(f"Invalid arguments for tool {self.name}: {problems}", is_error=True)
        kwargs = {name: getattr(validated, name) for name in type(validated).model_fields}
        if self._context_param is not None:
            kwargs[self._context_param] = context
        if self._key_param is not None:
            kwargs[self._key_param] = context.idempotency_key
        try:
            if self._is_async:
                result = await self.func(**kwargs)
            else:
                result = await asyncio.to_thread(self.func, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except ToolError as exc:
            return ToolOutput(str(exc), is_error=True)
        except InputRequired:
            raise  # not a failure: the Runner ends the turn waiting for the user
        except Exception as exc:
            logger.exception("tool %s raised", self.name)
            return ToolOutput(f"Tool {self.name} failed: {type(exc).__name__}: {exc}", is_error=True)
        return ToolOutput(to_text(result), structured=result if isinstance(result, dict | list) else None)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (tests, reuse)."""
        result = self.func(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result


def to_text(result: Any) -> str:
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    try:
        return json.dumps(result, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(result)


def _drop_titles(schema: Any) -> None:
    """Pydantic adds a ``title`` to every property; models only need names and descriptions."""
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            for prop in props.values():
                if isinstance(prop, dict):
                    prop.pop("title", None)
        for value in schema.values():
            _drop_titles(value)
    elif isinstance(schema, list):
        for item in schema:
            _drop_titles(item)


def as_tool(obj: Any) -> Tool:
    """A ``Tool`` from a tool or a plain function."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return FunctionTool(obj)
    raise TypeError(f"tools must be functions or Tool objects, got {type(obj).__name__}")


@overload
def function_tool(func: Callable[..., Any], /) -> FunctionTool: ...
@overload
def function_tool(*, name: str | None = None, description: str | None = None,
                  needs_approval: bool | ApprovalPolicy = False, approval_reason: ApprovalReason | None = None,
                  repeatable: bool = True) -> Callable[[Callable[..., Any]], FunctionTool]: ...
def function_tool(func: Callable[..., Any] | None = None, /, *, name: str | None = None,
                  description: str | None = None, needs_approval: bool | ApprovalPolicy = False,
                  approval_reason: ApprovalReason | None = None, repeatable: bool = True) -> Any:
    """Decorator turning a function into a ``FunctionTool`` (``@function_tool`` or ``@function_tool(name=...)``)."""
    def make(f: Callable[..., Any]) -> FunctionTool:
        return FunctionTool(f, name=name, description=description, needs_approval=needs_approval,
                            approval_reason=approval_reason, repeatable=repeatable)

    return make(func) if func is not None else make
