"""Tools an agent can call: Python functions, and anything else shaped as a ``Tool``."""

from .base import Tool, ToolContext, ToolError, ToolOutput
from .function_tool import FunctionTool, as_tool, function_tool

__all__ = ["FunctionTool", "Tool", "ToolContext", "ToolError", "ToolOutput", "as_tool", "function_tool"]
