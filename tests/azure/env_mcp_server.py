"""A stdio MCP server (the ``mcp`` SDK's own) whose tool reports a digest of the secret in its environment.

The digest, not the value, so that a test can check the secret arrived without the secret being printed.
"""

from __future__ import annotations

import hashlib
import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("env")


@server.tool(description="SHA-256 of the MCP_TOKEN environment variable ('unset' when absent).")
def token_digest() -> str:
    value = os.environ.get("MCP_TOKEN")
    return hashlib.sha256(value.encode()).hexdigest() if value is not None else "unset"


if __name__ == "__main__":
    server.run("stdio")
