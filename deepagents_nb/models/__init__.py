"""Chat models: the `ChatModel` protocol, provider adapters and test doubles.

Vendor adapters live in their own modules (`deepagents_nb.models.openai`, ...)
so their SDKs are imported only when used.
"""

from deepagents_nb.models.base import (
    ChatModel,
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    StreamEvent,
    TextDelta,
)

__all__ = [
    "ChatModel",
    "ModelRequest",
    "ModelResponse",
    "ResponseComplete",
    "StreamEvent",
    "TextDelta",
]
