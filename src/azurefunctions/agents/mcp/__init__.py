"""Model Context Protocol: MCP servers' tools for agents, and agents served as MCP tools.

The public configuration (``MCPServer`` and its parameter classes) lives in ``config`` and imports no MCP
SDK; the ``mcp`` package is loaded only when an agent first lists or calls an MCP server's tools, or when
the ``/api/mcp`` endpoint serves its first request.
"""
