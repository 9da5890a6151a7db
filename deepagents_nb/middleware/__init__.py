"""Middleware: tools, prompt sections and hooks around model and tool calls."""

from deepagents_nb.middleware.base import Middleware, ToolHandler

__all__ = ["Middleware", "ToolHandler"]
