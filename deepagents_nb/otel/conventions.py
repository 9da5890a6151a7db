"""The GenAI semantic conventions' names, and the attributes each event gives a span.

Names are spelled out rather than taken from `opentelemetry.semconv._incubating`,
a private module whose contents change between releases.
"""

from __future__ import annotations

import json
from typing import Any

from deepagents_nb.events import AgentStarted, TokenUsage, ToolStarted

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
AGENT_NAME = "gen_ai.agent.name"
CONVERSATION_ID = "gen_ai.conversation.id"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
REASONING_TOKENS = "gen_ai.usage.reasoning.output_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"

# What the conventions do not name is under the project's own prefix.
COST = "deepagents.cost_usd"
RUN_ID = "deepagents.run_id"
DEPTH = "deepagents.depth"
PAUSED = "deepagents.paused"
RESUMED = "deepagents.resumed"
TOOL_SOURCE = "deepagents.tool.source"

PROVIDERS = {"gemini": "gcp.gemini", "google": "gcp.gemini"}
"""Our provider names where the conventions spell them differently."""


def provider_name(provider: str) -> str:
    return PROVIDERS.get(provider, provider)


def agent_attributes(event: AgentStarted, capture_content: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        OPERATION: "invoke_agent",
        AGENT_NAME: event.agent_name,
        CONVERSATION_ID: event.thread_id,
        RUN_ID: event.run_id,
        DEPTH: event.depth,
    }
    if capture_content and event.message is not None:
        attributes[INPUT_MESSAGES] = text_message("user", event.message)
    return attributes


def chat_attributes(event: TokenUsage, capture_content: bool) -> dict[str, Any]:
    usage = event.usage
    attributes: dict[str, Any] = {
        OPERATION: "chat",
        PROVIDER: provider_name(event.provider),
        REQUEST_MODEL: event.request_model or event.model,
        RESPONSE_MODEL: event.model,
        INPUT_TOKENS: usage.input_tokens,
        OUTPUT_TOKENS: usage.output_tokens,
        CONVERSATION_ID: event.thread_id,
    }
    for name, count in (
        (CACHE_READ_TOKENS, usage.cache_read_tokens),
        (CACHE_CREATION_TOKENS, usage.cache_write_tokens),
        (REASONING_TOKENS, usage.reasoning_tokens),
    ):
        if count:
            attributes[name] = count
    if event.finish_reason:
        attributes[FINISH_REASONS] = [event.finish_reason]
    if event.estimated_cost is not None:
        attributes[COST] = event.estimated_cost
    if capture_content and event.content is not None:
        attributes[OUTPUT_MESSAGES] = messages_json(
            "assistant", event.content, finish_reason=event.finish_reason
        )
    return attributes


def tool_attributes(event: ToolStarted, capture_content: bool) -> dict[str, Any]:
    attributes = call_attributes(event.tool_name, event.call_id, event.source)
    if capture_content:
        attributes[TOOL_ARGUMENTS] = json.dumps(event.args, ensure_ascii=False, default=str)
    return attributes


def call_attributes(tool: str, call_id: str, source: str | None = None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        OPERATION: "execute_tool",
        TOOL_NAME: tool,
        TOOL_CALL_ID: call_id,
        # A tool served elsewhere (an MCP server) is an "extension" in the conventions.
        TOOL_TYPE: "extension" if source else "function",
    }
    if source:
        attributes[TOOL_SOURCE] = source
    return attributes


def messages_json(role: str, parts: list[dict[str, Any]], finish_reason: str | None = None) -> str:
    """One message in the conventions' JSON form (`gen_ai.input/output.messages`)."""
    message: dict[str, Any] = {"role": role, "parts": parts}
    if finish_reason is not None:
        message["finish_reason"] = finish_reason
    return json.dumps([message], ensure_ascii=False, default=str)


def text_message(role: str, content: str) -> str:
    """A message of one text part, in the same form."""
    return messages_json(role, [{"type": "text", "content": content}])
