"""The Agent-to-Agent (A2A) protocol server of ``AgentMode.A2A`` apps, on the official ``a2a-sdk``.

Only ``routes`` and ``server`` are safe to import without the SDK; the other modules import ``a2a`` and are
loaded on the first A2A request, so indexing a Function App never pays for the SDK.
"""
