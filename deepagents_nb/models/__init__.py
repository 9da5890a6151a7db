"""Chat models: the `ChatModel` protocol, provider adapters and test doubles.

Vendor adapters live in their own modules (`deepagents_nb.models.openai`,
`.anthropic`, `.gemini`) so their SDKs are imported only when used; models
named by "provider:model" strings, dicts or `ModelConfig` are made by
`deepagents_nb.models.registry`.
"""

from deepagents_nb.models._retry import RetryPolicy
from deepagents_nb.models.base import (
    ChatModel,
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)
from deepagents_nb.models.recording import RecordingModel, ReplayModel
from deepagents_nb.models.registry import ModelConfig, get_default_model, resolve_model

__all__ = [
    "ChatModel",
    "ModelConfig",
    "ModelRequest",
    "ModelResponse",
    "RecordingModel",
    "ReplayModel",
    "ResponseComplete",
    "RetryPolicy",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "get_default_model",
    "resolve_model",
]
