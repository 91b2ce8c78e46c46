"""Errors the runtime raises, each with the HTTP status and error code clients see.

The HTTP layer maps these to the JSON error envelope; everything else becomes a 500 whose details go only to
the log. Messages here are written for the client: they say what to do, and never carry secrets or stack text.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The public message of an unexpected failure: the details go to the log only.
INTERNAL_ERROR_MESSAGE = "The request failed; the error was logged."
#: The public message of a turn that failed unexpectedly (the model, a tool or the runtime raised).
AGENT_FAILED_MESSAGE = "The agent failed to answer; the error was logged."
#: The code of a turn error nothing more specific describes.
AGENT_ERROR = "agent_error"
#: The code of an unexpected failure (the default of ``AgentFrameworkError``).
INTERNAL_ERROR = "internal_error"


class AgentFrameworkError(Exception):
    """Base of every error the runtime raises on purpose."""

    status: int = 500
    code: str = INTERNAL_ERROR

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ConfigurationError(AgentFrameworkError, ValueError):
    """Configuration is missing or wrong; the message names the setting or argument to fix."""

    status = 500
    code = "configuration_error"


class InvalidRequestError(AgentFrameworkError, ValueError):
    status = 400
    code = "invalid_request"


class AgentNotFoundError(AgentFrameworkError, LookupError):
    """No agent of the app has the requested name; the message lists the names there are."""

    status = 404
    code = "agent_not_found"

    @classmethod
    def named(cls, name: str, known: Iterable[str]) -> AgentNotFoundError:
        return cls(f"No agent named {name[:64]!r}. Agents: {', '.join(known) or 'none'}.")


class NotFoundError(AgentFrameworkError, LookupError):
    """No route serves the path."""

    status = 404
    code = "not_found"


class MethodNotAllowedError(AgentFrameworkError):
    """The route does not answer this method; ``allow`` lists the ones it does (the ``Allow`` header)."""

    status = 405
    code = "method_not_allowed"

    def __init__(self, method: str, allow: Iterable[str]) -> None:
        self.allow = tuple(allow)
        super().__init__(f"{method.upper()} is not allowed here; use {', '.join(self.allow)}.")


class PayloadTooLargeError(AgentFrameworkError):
    status = 413
    code = "payload_too_large"


class SessionNotFoundError(AgentFrameworkError, LookupError):
    """The session does not exist or belongs to someone else (the two are not told apart)."""

    status = 404
    code = "session_not_found"

    @classmethod
    def for_id(cls, session_id: str) -> SessionNotFoundError:
        return cls(f"Session {session_id} was not found.")


def owned_by(record_owner: str | None, caller: str | None) -> bool:
    """Whether ``caller`` may see a session, turn or stream owned by ``record_owner``: records without an owner
    are anyone's; the others only their owner's."""
    return record_owner is None or record_owner == caller


class SessionBusyError(AgentFrameworkError):
    """Another turn changed the session first; the client may retry."""

    status = 409
    code = "session_busy"


class FeatureNotAvailableError(AgentFrameworkError):
    """A documented feature this build does not provide; the message names it."""

    status = 501
    code = "not_available"


class MaxTurnsExceededError(AgentFrameworkError):
    status = 500
    code = "max_turns_exceeded"


class MessageTooLongError(AgentFrameworkError):
    """A message over the app's length limit (limits.py)."""

    status = 400
    code = "message_too_long"


class TooBusyError(AgentFrameworkError):
    """Every turn slot of this instance is taken; the client may retry (with ``Retry-After``)."""

    status = 503
    code = "too_busy"


class TurnTimeoutError(AgentFrameworkError):
    """The turn ran past the app's time limit."""

    status = 504
    code = "turn_timeout"


class ProviderError(AgentFrameworkError):
    """The model provider failed or answered something unusable."""

    status = 502
    code = "provider_error"


class ProviderRateLimitError(ProviderError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderTimeoutError(ProviderError):
    status = 504
    code = "provider_timeout"


class ProviderAuthenticationError(ProviderError):
    """The provider refused the credentials (a rotated or wrong key)."""

    status = 502
    code = "provider_authentication_failed"


#: The distribution whose extras install the optional dependencies.
DISTRIBUTION = "azurefunctions-agent-framework"


class MissingExtraError(ConfigurationError):
    """An optional dependency is not installed. The message names the feature, the extra that installs it and
    the command; the HTTP layer shows the same message (501 ``missing_extra``), so the caller of a deployed app
    learns what its operator must add to ``requirements.txt``."""

    status = 501
    code = "missing_extra"

    def __init__(self, feature: str, extra: str, missing: str | None = None) -> None:
        self.feature = feature
        self.extra = extra
        self.missing = missing
        detail = f" ({missing} is not installed)" if missing else ""
        super().__init__(f"{feature} needs the '{extra}' extra{detail}: pip install '{DISTRIBUTION}[{extra}]'")


def missing_extra(feature: str, extra: str, error: BaseException | None = None) -> MissingExtraError:
    """The error for a failed optional import: ``raise missing_extra("MCP servers", "mcp", exc) from exc``."""
    return MissingExtraError(feature, extra, getattr(error, "name", None))


def require_extra(module: str, feature: str, extra: str) -> None:
    """Raise ``MissingExtraError`` unless ``module`` can be imported; finds it without importing it."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing too
        found = False
    if not found:
        raise MissingExtraError(feature, extra, module)
class InvalidOutputError(ProviderError):
    """The model's answer did not match the agent's ``output_type``, also after one retry with the error."""

    status = 502
    code = "invalid_output"


# Persisted turns: approvals and resumed turns (run/journal.py, the Runner's resume) --------------------------
class TurnNotFoundError(AgentFrameworkError, LookupError):
    """The turn does not exist, has expired, or belongs to someone else (the three are not told apart)."""

    status = 404
    code = "turn_not_found"


class TurnInProgressError(AgentFrameworkError):
    """Another worker runs this turn now (its lease is live); the client may retry later."""

    status = 409
    code = "turn_in_progress"


class TurnIdReusedError(AgentFrameworkError):
    """A turn id (``Idempotency-Key``) sent again with another message: ids name one turn each."""

    status = 409
    code = "turn_id_reused"


class TurnNotAwaitingApprovalError(AgentFrameworkError):
    """A decision for a turn that is not waiting for one (it finished, or is running)."""

    status = 409
    code = "turn_not_awaiting_approval"


class ApprovalNotFoundError(AgentFrameworkError, LookupError):
    """A decision names an approval the turn does not have."""

    status = 404
    code = "approval_not_found"


class ApprovalDecidedError(AgentFrameworkError):
    """The approval was decided already; a decision is accepted once."""

    status = 409
    code = "approval_decided"


class ApprovalExpiredError(AgentFrameworkError):
    """The approval expired before the decision came (``AGENTS_APPROVAL_TIMEOUT_SECONDS``); it counts as
    refused."""

    status = 410
    code = "approval_expired"


class ApprovalPendingError(AgentFrameworkError):
    """A new message in a session whose last turn waits for approval: decide that turn first.

    ``turn_id``, ``session_id`` and ``approvals`` (the pending ones, as the paused turn's response lists them)
    let the HTTP layer name the turn and the decision route in its JSON body."""

    status = 409
    code = "approval_pending"

    def __init__(self, message: str, *, turn_id: str, session_id: str | None,
                 approvals: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.turn_id = turn_id
        self.session_id = session_id
        self.approvals = list(approvals or [])


class TurnParkedError(AgentFrameworkError):
    """This instance is stopping (drain): the turn stopped at a step boundary, every completed step kept; a turn
    run again with its id (another worker, a retry) continues after them."""

    status = 503
    code = "turn_parked"
