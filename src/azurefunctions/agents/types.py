"""Public request, response and model-configuration types."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)

from . import settings
from .messages import SESSION_ID_PATTERN, SESSION_ID_RULE, Usage


class LLMProvider(StrEnum):
    OPENAI = "openai"
    AZURE_OPENAI = "azure_openai"
    ANTHROPIC = "anthropic"
    GOOGLE = "google"
    OLLAMA = "ollama"
    OFFLINE = "offline"


class LLMConfig(BaseModel):
    """Which model an agent talks to, and how.

    Unset keys and endpoints fall back to each SDK's own environment variables when the provider is first
    used, so the same code runs with keys in ``local.settings.json`` locally and in app settings in Azure.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    provider: LLMProvider = LLMProvider.OPENAI
    model_name: str = Field(default="gpt-4o-mini", validation_alias=AliasChoices("model_name", "model"))
    api_key: Any = None  # a string, or a secret reference resolved at first use
    endpoint: str | None = Field(default=None, validation_alias=AliasChoices("endpoint", "azure_endpoint"))
    base_url: str | None = Field(default=None, validation_alias=AliasChoices("base_url", "api_base"))
    api_version: str | None = None
    azure_deployment: str | None = Field(default=None, validation_alias=AliasChoices("azure_deployment",
                                                                                    "deployment"))
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, gt=0)
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=10)
    #: OpenAI and Azure OpenAI: "chat_completions" (default) or "responses" (the Responses API).
    api: Literal["chat_completions", "responses"] = "chat_completions"
    #: How hard a reasoning model thinks: OpenAI ``reasoning_effort``, Anthropic ``output_config.effort``,
    #: Gemini ``thinking_level``, Ollama ``think``. Unset: the model's default.
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _api_of_openai_only(self) -> LLMConfig:
        if self.api == "responses" and self.provider not in (LLMProvider.OPENAI, LLMProvider.AZURE_OPENAI):
            raise ValueError(f"api='responses' is OpenAI's Responses API; provider {self.provider.value!r} "
                             "has no such choice (leave api unset)")
        return self

    @property
    def azure_endpoint(self) -> str | None:
        return self.endpoint

    @classmethod
    def from_env(cls, model_name: str | None = None, **overrides: Any) -> LLMConfig:
        """The samples' model-selection rule (README "Configuration"), implemented once.

        ``AGENT_PROVIDER`` when set; else Azure OpenAI when ``AZURE_OPENAI_ENDPOINT`` is set (managed identity
        when no key); else OpenAI when ``OPENAI_API_KEY`` is set; else the labelled offline model, locally
        only. In Azure with nothing configured the first request fails with an error naming the settings.
        """
        model = settings.AGENT_MODEL.get() or model_name
        chosen = settings.AGENT_PROVIDER.get()
        if chosen:
            try:
                provider = LLMProvider(chosen.lower())
            except ValueError:
                names = ", ".join(p.value for p in LLMProvider)
                raise ValueError(f"AGENT_PROVIDER={chosen!r} is not one of: {names}") from None
        elif settings.AZURE_OPENAI_ENDPOINT.get():
            provider = LLMProvider.AZURE_OPENAI
        elif settings.OPENAI_API_KEY.get():
            provider = LLMProvider.OPENAI
        elif settings.running_in_azure():
            # Never the offline model silently in Azure: Azure OpenAI without an endpoint fails at the first
            # request with an error that names AZURE_OPENAI_ENDPOINT, OPENAI_API_KEY and AGENT_PROVIDER.
            provider = LLMProvider.AZURE_OPENAI
        else:
            provider = LLMProvider.OFFLINE
        if provider is LLMProvider.AZURE_OPENAI:
            model = settings.AZURE_OPENAI_DEPLOYMENT.get() or model
        values: dict[str, Any] = {"provider": provider}
        if model:
            values["model_name"] = model
        values.update(overrides)
        return cls(**values)


# C0 control characters other than tab, line feed and carriage return: model APIs refuse NUL and most JSON
# tooling downstream mishandles the rest, so they are refused at the door rather than failing mid-turn.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Lone UTF-16 surrogates: JSON can carry them ("\\ud800") and Python keeps them, but they cannot be encoded as
# UTF-8, so the provider's SDK (or the store) would fail on them after the turn had started.
_SURROGATE = re.compile("[\ud800-\udfff]")
#: The same rule as JSON Schema patterns (ECMA-262 and Python read these escapes alike), for the OpenAPI
#: description: text without those control characters, and a message that is also not blank.
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f]*$"
MESSAGE_PATTERN = (r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f]*[^\s\u0000-\u0008\u000b\u000c\u000e-\u001f]"
                   r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f]*$")


def check_text(value: str, field: str) -> str:
    """``value`` unchanged when a provider and the store can take it as it is; else ``ValueError`` naming
    ``field``, the offending character and its position."""
    for pattern, what in ((_SURROGATE, "a lone UTF-16 surrogate"), (_CONTROL, "the control character")):
        found = pattern.search(value)
        if found is not None:
            code = f"U+{ord(found.group()):04X}"
            raise ValueError(f"{field} contains {what} {code} at position {found.start()}: "
                             "send valid Unicode text")
    return value


def _check_nested_text(value: Any, field: str, depth: int = 0) -> None:
    if depth > 32:
        raise ValueError(f"{field} is nested too deeply")
    if isinstance(value, str):
        check_text(value, field)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{check_text(key, field) if isinstance(key, str) else key}"
            _check_nested_text(item, name, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_nested_text(item, f"{field}[{index}]", depth + 1)


#: A turn id (``ChatRequest.turn_id``, the ``Idempotency-Key`` header): safe in a document id and a URL path.
TURN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
TURN_ID_RULE = ("turn_id must be 1-128 characters: letters, digits, '.', '_', ':' or '-', starting with a letter "
                "or digit")


class ApprovalDecision(BaseModel):
    """A person's answer to one pending approval (``Runner.resume``). Only yes or no and a note for the model:
    the call's arguments cannot be changed by a decision."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr = Field(min_length=1, max_length=128)
    approved: StrictBool
    message: StrictStr | None = Field(default=None, max_length=4000)

    @field_validator("message")
    @classmethod
    def _message_text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value, "message")


class ChatRequest(BaseModel):
    """One user turn. Known fields of the wrong type are rejected; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    message: StrictStr
    user_id: StrictStr | None = Field(default=None, max_length=256)
    session_id: StrictStr | None = Field(default=None, validation_alias=AliasChoices("session_id",
                                                                                    "conversation_id"))
    context: dict[str, Any] = Field(default_factory=dict)
    stream: StrictBool = False
    #: Names the turn: the same id again gets the finished turn's answer, or resumes it after its last
    #: completed step, instead of running it twice (a client's retry, a redelivered queue message).
    turn_id: StrictStr | None = None

    @field_validator("message")
    @classmethod
    def _message_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must not be empty")
        return check_text(value, "message")

    @field_validator("user_id")
    @classmethod
    def _user_id_text(cls, value: str | None) -> str | None:
        return None if value is None else check_text(value, "user_id")

    @field_validator("session_id")
    @classmethod
    def _session_id_shape(cls, value: str | None) -> str | None:
        if value is not None and not SESSION_ID_PATTERN.match(value):
            raise ValueError(SESSION_ID_RULE)
        return value

    @field_validator("turn_id")
    @classmethod
    def _turn_id_shape(cls, value: str | None) -> str | None:
        if value is not None and not TURN_ID_PATTERN.match(value):
            raise ValueError(TURN_ID_RULE)
        return value

    @field_validator("context", mode="before")
    @classmethod
    def _context_is_object(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("context must be a JSON object")
        _check_nested_text(value, "context")
        return value


@dataclass
class ToolCallRecord:
    """A tool call made during a turn, as the response reports it."""

    id: str
    name: str
    arguments: dict[str, Any]
    result: str | None = None
    is_error: bool = False
    agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
            "result": self.result,
            "is_error": self.is_error,
            "agent": self.agent,
        }


@dataclass
class ChatResponse:
    """The outcome of one turn: the answer, or an error message, with what happened on the way."""

    status: Literal["success", "error", "awaiting_approval"] = "success"
    response: str | None = None
    agent: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_code: str | None = None
    session_id: str | None = None
    usage: Usage = field(default_factory=Usage)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    handoff_path: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The typed answer of an agent with ``output_type`` (an instance of that type); ``response`` holds its JSON.
    output: Any = None
    #: The turn's id: a retry with it gets this answer again; a paused turn is resumed under it.
    turn_id: str | None = None
    #: ``status="awaiting_approval"``: the tool calls waiting for a person's decision (``Runner.resume``).
    approvals: list[dict[str, Any]] = field(default_factory=list)
    #: HTTP status of a failed turn and the provider's Retry-After, for the HTTP layer; not serialised.
    status_code: int | None = field(default=None, repr=False)
    retry_after: float | None = field(default=None, repr=False)

    @property
    def conversation_id(self) -> str | None:
        return self.session_id

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "status": self.status,
            "response": self.response,
            "agent": self.agent,
            "session_id": self.session_id,
            "conversation_id": self.session_id,
            "context": self.context,
            "usage": self.usage.to_dict(),
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "handoff_path": list(self.handoff_path),
        }
        if self.output is not None:
            from pydantic_core import to_jsonable_python

            data["output"] = to_jsonable_python(self.output)
        if self.error is not None:
            data["error"] = self.error
            data["error_code"] = self.error_code
        if self.turn_id is not None:
            data["turn_id"] = self.turn_id
        if self.approvals:
            data["approvals"] = [dict(approval) for approval in self.approvals]
        data.update(self.metadata)
        return data

    def to_record(self) -> dict[str, Any]:
        """The response as JSON to keep (a finished turn's answer in its journal); ``from_record`` reads it."""
        data = self.to_dict()
        data.pop("conversation_id", None)
        known = {"status", "response", "agent", "session_id", "context", "usage", "tool_calls",
                 "handoff_path", "output", "error", "error_code", "turn_id", "approvals"}
        data["metadata"] = {key: data.pop(key) for key in list(data) if key not in known}
        data["status_code"] = self.status_code
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> ChatResponse:
        usage = data.get("usage") or {}
        return cls(
            status=data.get("status", "success"), response=data.get("response"), agent=data.get("agent"),
            context=dict(data.get("context") or {}), error=data.get("error"), error_code=data.get("error_code"),
            session_id=data.get("session_id"),
            usage=Usage(input_tokens=int(usage.get("input_tokens", 0)),
                        output_tokens=int(usage.get("output_tokens", 0)), requests=int(usage.get("requests", 0)),
                        reasoning_tokens=int(usage.get("reasoning_tokens", 0))),
            tool_calls=[ToolCallRecord(id=c["id"], name=c["name"], arguments=dict(c.get("arguments") or {}),
                                       result=c.get("result"), is_error=bool(c.get("is_error")), agent=c.get("agent"))
                        for c in data.get("tool_calls") or []],
            handoff_path=list(data.get("handoff_path") or []), metadata=dict(data.get("metadata") or {}),
            output=data.get("output"), turn_id=data.get("turn_id"), approvals=list(data.get("approvals") or []),
            status_code=data.get("status_code"),
        )

    def __str__(self) -> str:
        return self.response if self.status == "success" and self.response is not None else f"Error: {self.error}"
