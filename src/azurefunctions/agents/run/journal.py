"""A turn's persisted state: its head document and one document per completed step (the journal).

Every turn an app runs with a session store that has a document store (memory, SQLite, Cosmos DB) is journaled
in its session's partition (a turn without a session: the partition ``turn:<turn id>``):

* the head ``turnstate:<turn id>`` (kind ``turn_state``): the request, who owns the turn, its status
  (``running`` | ``awaiting_approval`` | ``completed`` | ``failed``), the lease of the worker running it, the
  approvals it asked for, and its response once finished;
* a step ``turnstep:<turn id>:<seq>`` (kind ``turn_step``) per model answer, tool result, started
  non-repeatable tool and decision, each written once with ``if_match=NEW``: of two workers racing on one
  step, the second gets ``DocumentConflictError`` and stops, it no longer owns the turn;
* while a turn waits for approval, the pointer ``turnpending`` (kind ``turn_pending``) names it, so a new
  message in the session is answered ``approval_pending`` after one point read (not a scan of the session's
  turns, whose number grows with the conversation).

Running the turn again with the same id replays it (``run/replay.py``): recorded steps give their recorded
results instead of calling the model or the tool again. Writes are one document per step, never a rewrite of
the session; the head is replaced only with ``if_match`` its etag, which is what makes its lease a lease.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .. import settings
from ..storage import NEW, Document, DocumentConflictError, DocumentStore

HEAD_KIND: Final = "turn_state"
STEP_KIND: Final = "turn_step"
PENDING_KIND: Final = "turn_pending"
#: The id of a session's pointer to its turn waiting for approval.
PENDING_ID: Final = "turnpending"

TurnStatus = Literal["running", "awaiting_approval", "completed", "failed"]
StepType = Literal["model", "tool_started", "tool", "decision"]
STEP_TYPES: Final = frozenset({"model", "tool_started", "tool", "decision"})

_STEP_SEQ = re.compile(r"^\d{6,}$")


def journal_partition(session_id: str | None, turn_id: str) -> str:
    """Where a turn's documents live: its session's partition, or ``turn:<turn id>`` for a turn without one."""
    return session_id if session_id else f"turn:{turn_id}"


def head_id(turn_id: str) -> str:
    return f"turnstate:{turn_id}"


def step_id(turn_id: str, seq: int) -> str:
    return f"turnstep:{turn_id}:{seq:06d}"


def idempotency_key(partition: str, turn_id: str, agent: str, call_id: str) -> str:
    """``ToolContext.idempotency_key``: stable per tool call, the same on every replay of the turn."""
    digest = hashlib.sha256(f"{partition}\n{turn_id}\n{agent}\n{call_id}".encode()).hexdigest()
    return digest[:32]


def new_approval_id() -> str:
    """An approval's id: unguessable, since it is what a decision names."""
    return secrets.token_urlsafe(24)


@dataclass
class TurnHead:
    """The head document of a turn: what it was asked, who owns it, where it stands."""

    turn_id: str
    partition: str
    session_id: str | None
    agent: str
    user_id: str | None
    #: The ``ChatRequest`` as JSON (``model_dump``), so any worker can run the turn again.
    request: dict[str, Any]
    status: TurnStatus = "running"
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    #: Until when the worker named by ``lease_owner`` runs the turn; a lapsed lease means that worker is gone.
    lease_until: float = 0.0
    lease_owner: str | None = None
    #: Messages the session held when the turn began (a resumed turn sees the history it began with).
    history_length: int = 0
    #: Approvals asked for by the turn, pending or decided (see ``run/approvals.py`` for their fields).
    approvals: list[dict[str, Any]] = field(default_factory=list)
    #: The final ``ChatResponse`` (``to_record()``) once ``completed`` or ``failed``.
    response: dict[str, Any] | None = None
    #: How many times the turn was taken up again (a resume after a decision, a crash or a retry).
    resumes: int = 0
    etag: str = ""

    def to_body(self) -> dict[str, Any]:
        return {
            "turn_id": self.turn_id, "session_id": self.session_id, "agent": self.agent, "user_id": self.user_id,
            "request": self.request, "status": self.status, "created_at": self.created_at,
            "updated_at": self.updated_at, "lease_until": self.lease_until, "lease_owner": self.lease_owner,
            "history_length": self.history_length, "approvals": self.approvals, "response": self.response,
            "resumes": self.resumes,
        }

    @classmethod
    def from_document(cls, document: Document) -> TurnHead:
        body = document.body
        return cls(
            turn_id=str(body["turn_id"]), partition=document.partition, session_id=body.get("session_id"),
            agent=str(body.get("agent") or ""), user_id=body.get("user_id"), request=dict(body.get("request") or {}),
            status=body.get("status", "running"), created_at=float(body.get("created_at") or 0.0),
            updated_at=float(body.get("updated_at") or 0.0), lease_until=float(body.get("lease_until") or 0.0),
            lease_owner=body.get("lease_owner"), history_length=int(body.get("history_length") or 0),
            approvals=[dict(a) for a in body.get("approvals") or []], response=body.get("response"),
            resumes=int(body.get("resumes") or 0), etag=document.etag,
        )

    def approval(self, approval_id: str) -> dict[str, Any] | None:
        return next((a for a in self.approvals if a.get("id") == approval_id), None)


@dataclass
class TurnStep:
    """One completed step of a turn, in the order it was written."""

    seq: int
    type: StepType
    body: dict[str, Any]

    @property
    def key(self) -> str | None:
        """What the step answers: ``<agent>:m<n>`` (a model call) or ``<agent>:m<n>:t:<call id>`` (a tool
        call); ``None`` for a decision."""
        key = self.body.get("key")
        return key if isinstance(key, str) else None


class TurnJournal:
    """The repository of turn heads and steps on a ``DocumentStore``.

    ``ttl_seconds``: the documents expire that long after their last write (with the session: pass the session
    store's idle TTL). ``lease_seconds``: how long a worker's claim on a running turn lasts without renewal.
    """

    def __init__(self, documents: DocumentStore, *, ttl_seconds: float | None = None,
                 lease_seconds: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self.documents = documents
        self.ttl_seconds = ttl_seconds if ttl_seconds is not None and ttl_seconds > 0 else None
        lease = lease_seconds if lease_seconds is not None else float(settings.get_int(settings.TURN_LEASE_SECONDS))
        if not lease > 0:
            raise ValueError(f"lease_seconds must be above 0, got {lease!r}")
        self.lease_seconds = float(lease)
        self.clock = clock

    @classmethod
    def for_store(cls, sessions: Any, *, clock: Callable[[], float] = time.time) -> TurnJournal | None:
        """The journal kept with a ``SessionStore``'s data, or ``None`` for a store without a document store.

        Documents expire with the store's sessions; for a store whose sessions never expire, after
        ``AGENTS_TURN_TTL_SECONDS`` (a turn without a session would otherwise stay for ever). Never sooner than
        ``AGENTS_APPROVAL_TIMEOUT_SECONDS``, so a pending approval outlives its deadline.
        """
        documents = sessions.documents()
        if documents is None:
            return None
        ttl = sessions.idle_ttl_seconds
        if ttl is None:
            ttl = float(settings.get_int(settings.TURN_TTL_SECONDS))
        if ttl is not None and ttl > 0:
            ttl = max(ttl, float(approval_timeout_seconds()) + 3600.0)
        return cls(documents, ttl_seconds=ttl, clock=clock)

    # Heads ------------------------------------------------------------------------------------------------
    async def get(self, partition: str, turn_id: str) -> TurnHead | None:
        document = await self.documents.get(partition, head_id(turn_id))
        if document is None or document.kind != HEAD_KIND:
            return None
        return TurnHead.from_document(document)

    async def create(self, head: TurnHead) -> TurnHead:
        """Store a new head; ``DocumentConflictError`` when the turn exists (another request made it first)."""
        return await self._put(head, NEW)

    async def replace(self, head: TurnHead) -> TurnHead:
        """Write ``head`` over the version it was read at; ``DocumentConflictError`` when someone else wrote
        it since (another worker took the turn over, or decided an approval first)."""
        if not head.etag:
            raise DocumentConflictError(f"turn {head.turn_id} was never stored")
        return await self._put(head, head.etag)

    async def _put(self, head: TurnHead, if_match: Any) -> TurnHead:
        head.updated_at = self.clock()
        stored = await self.documents.put(head.partition, head_id(head.turn_id), head.to_body(), kind=HEAD_KIND,
                                          if_match=if_match, ttl_seconds=self.ttl_seconds)
        return TurnHead.from_document(stored)

    def lease_live(self, head: TurnHead) -> bool:
        """Whether the worker that claimed a running turn may still be running it."""
        return head.status == "running" and head.lease_until > self.clock()

    def claim(self, head: TurnHead, owner: str) -> None:
        """Make ``owner`` the turn's runner for one lease (written by the next ``replace``/``create``)."""
        head.status = "running"
        head.lease_owner = owner
        head.lease_until = self.clock() + self.lease_seconds

    # Steps ------------------------------------------------------------------------------------------------
    async def steps(self, partition: str, turn_id: str) -> list[TurnStep]:
        """The turn's steps in the order they were written."""
        prefix = f"turnstep:{turn_id}:"
        found: list[TurnStep] = []
        for document in await self.documents.list(partition, prefix):
            seq = document.id[len(prefix):]
            # A turn id may contain ':': "a" must not read the steps of turn "a:b".
            if document.kind != STEP_KIND or not _STEP_SEQ.match(seq):
                continue
            step_type = document.body.get("step")
            if step_type in STEP_TYPES:
                found.append(TurnStep(int(seq), step_type, dict(document.body)))
        found.sort(key=lambda step: step.seq)
        return found

    async def add_step(self, partition: str, turn_id: str, seq: int, step_type: StepType,
                       body: dict[str, Any]) -> TurnStep:
        """Write step ``seq`` once; ``DocumentConflictError`` when it exists (another worker wrote it: that
        worker runs the turn now)."""
        if step_type not in STEP_TYPES:
            raise ValueError(f"step_type must be one of {sorted(STEP_TYPES)}, got {step_type!r}")
        data = {**body, "step": step_type}  # "type" is a key the store keeps for itself
        await self.documents.put(partition, step_id(turn_id, seq), data, kind=STEP_KIND, if_match=NEW,
                                 ttl_seconds=self.ttl_seconds)
        return TurnStep(seq, step_type, data)

    # The session's paused turn ------------------------------------------------------------------------------
    async def paused_turn(self, session_id: str) -> str | None:
        """The id of the session's turn waiting for approval, if any."""
        document = await self.documents.get(session_id, PENDING_ID)
        if document is None or document.kind != PENDING_KIND:
            return None
        turn_id = document.body.get("turn_id")
        return turn_id if isinstance(turn_id, str) else None

    async def set_paused(self, session_id: str, turn_id: str) -> None:
        await self.documents.put(session_id, PENDING_ID, {"turn_id": turn_id}, kind=PENDING_KIND,
                                 ttl_seconds=self.ttl_seconds)

    async def clear_paused(self, session_id: str, turn_id: str) -> None:
        """Remove the pointer if it still names ``turn_id`` (a later pause of another turn stays)."""
        document = await self.documents.get(session_id, PENDING_ID)
        if document is None or document.body.get("turn_id") != turn_id:
            return
        with contextlib.suppress(DocumentConflictError):
            await self.documents.delete(session_id, PENDING_ID, if_match=document.etag)


def approval_timeout_seconds() -> int:
    """``AGENTS_APPROVAL_TIMEOUT_SECONDS``: how long a pending approval waits before it counts as refused."""
    value = settings.get_int(settings.APPROVAL_TIMEOUT_SECONDS)
    if value <= 0:
        raise ValueError(f"{settings.APPROVAL_TIMEOUT_SECONDS.name} must be above 0, got {value}")
    return value
