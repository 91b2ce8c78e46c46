"""The process is being stopped (SIGTERM, the host's drain before a redeploy or a scale-in): background turns
park instead of running on.

A turn parks at its next *step boundary*: when the model has answered and that answer is recorded in the turn's
journal, before any tool of it runs. Stopping there loses nothing (the next worker replays the recorded answer
and runs the tools) and starts nothing that could be cut half way. The worker then gives the turn back: its
claim is released without counting as a failed attempt and its queue message is sent again, so the next worker
(the new version, after a redeploy) resumes it at once instead of waiting out the lease. A turn that reaches no
boundary before the host's grace period ends is cancelled; its completed steps are in the journal all the same.

The flag is per process: one process is one worker, whatever apps it serves.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("azurefunctions.agents.background")

_requested = False


def request_drain() -> None:
    """Stop taking new background turns and park the running ones at their next step boundary."""
    global _requested
    if not _requested:
        logger.info("draining: background turns park at their next step boundary")
    _requested = True


def drain_requested() -> bool:
    return _requested


def reset_drain() -> None:
    """Take turns again (a test, or a host that cancelled its stop)."""
    global _requested
    _requested = False
