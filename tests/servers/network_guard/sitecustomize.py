"""Guards a child Python process started by a test: on ``PYTHONPATH`` with ``AGENTS_NETWORK_GUARD_LOG`` set,
Python imports this at start-up (the ``site`` module's ``sitecustomize`` hook), before the app's own code."""

import os

if os.environ.get("AGENTS_NETWORK_GUARD_LOG"):
    import loopback_only

    loopback_only.install()
