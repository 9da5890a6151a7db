"""deepagents-nb: Jupyter-native deep agents.

    from deepagents_nb import create_deep_agent, tool
    from deepagents_nb.models.testing import ScriptedModel

What a user needs daily is importable from here; provider adapters, optional
checkpointer backends and the notebook layer are imported from their modules,
so `import deepagents_nb` loads no vendor SDK, pandas, plotly or IPython.
"""

from deepagents_nb.agent import AgentRun, DeepAgent, SyncAgentRun
from deepagents_nb.broadcast import EventBroadcaster, EventDispatcher
from deepagents_nb.builder import ConfigurableAgentBuilder, create_deep_agent
from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.costs import TokenCosts
from deepagents_nb.events import (
    AgentCompleted,
    AgentEvent,
    AgentFailed,
    AgentStarted,
    EventBase,
    InterruptRaised,
    InterruptResolved,
    OutputDelta,
    PlanningComplete,
    StateCheckpointed,
    StreamingToken,
    SubAgentCompleted,
    SubAgentStarted,
    TodosUpdated,
    TokenUsage,
    ToolCompleted,
    ToolFailed,
    ToolStarted,
)
from deepagents_nb.exceptions import (
    AgentRunError,
    BudgetExceededError,
    CheckpointConflictError,
    CheckpointerError,
    ConfigurationError,
    DeepAgentsError,
    HitlError,
    InterruptClaimedError,
    MaxTurnsExceededError,
    MissingAPIKeyError,
    ModelAPIError,
    NoPendingInterruptError,
    OutputValidationError,
    PendingInterruptError,
    ToolArgumentsError,
    ToolDefinitionError,
)
from deepagents_nb.hitl import AgentInterrupt, HitlAction, HitlPolicy
from deepagents_nb.ledger import UsageLedger
from deepagents_nb.messages import Image, Message, ToolCall
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.middleware.fs_backends import DirectoryBackend
from deepagents_nb.middleware.subagents import SubAgentConfig
from deepagents_nb.middleware.summarization import SummarizationConfig
from deepagents_nb.models.base import ChatModel, ModelRequest, ModelResponse
from deepagents_nb.models.fallback import FallbackModel
from deepagents_nb.models.registry import ModelConfig, get_default_model
from deepagents_nb.persistence.base import Checkpoint, Checkpointer
from deepagents_nb.persistence.memory import InMemoryCheckpointer
from deepagents_nb.persistence.sqlite import SqliteCheckpointer
from deepagents_nb.results import AgentResult
from deepagents_nb.state import AgentStateSnapshot, StateUpdate, TodoItem
from deepagents_nb.tools import Tool, ToolOutcome, tool
from deepagents_nb.tracking import Budget, TokenTrackingConfig
from deepagents_nb.usage import Usage

__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """`%load_ext deepagents_nb`: registers the `%%agent` and `%agent` magics."""
    from deepagents_nb.notebook.magics import load_ipython_extension as load

    load(ipython)


__all__ = [
    "AgentCompleted",
    "AgentEvent",
    "AgentFailed",
    "AgentInterrupt",
    "AgentResult",
    "AgentRun",
    "AgentRunError",
    "AgentStarted",
    "AgentStateSnapshot",
    "Budget",
    "BudgetExceededError",
    "ChatModel",
    "Checkpoint",
    "CheckpointConflictError",
    "Checkpointer",
    "CheckpointerError",
    "ConfigurableAgentBuilder",
    "ConfigurationError",
    "DeepAgent",
    "DeepAgentsError",
    "DirectoryBackend",
    "EventBase",
    "EventBroadcaster",
    "EventDispatcher",
    "FallbackModel",
    "HitlAction",
    "HitlError",
    "HitlPolicy",
    "Image",
    "InMemoryCheckpointer",
    "InterruptClaimedError",
    "InterruptRaised",
    "InterruptResolved",
    "MaxTurnsExceededError",
    "Message",
    "Middleware",
    "MissingAPIKeyError",
    "ModelAPIError",
    "ModelConfig",
    "ModelRequest",
    "ModelResponse",
    "NoPendingInterruptError",
    "OutputDelta",
    "OutputValidationError",
    "PendingInterruptError",
    "PlanningComplete",
    "RunContext",
    "SqliteCheckpointer",
    "StateCheckpointed",
    "StateUpdate",
    "StreamingToken",
    "SubAgentCompleted",
    "SubAgentConfig",
    "SubAgentStarted",
    "SummarizationConfig",
    "SyncAgentRun",
    "TodoItem",
    "TodosUpdated",
    "TokenCosts",
    "TokenTrackingConfig",
    "TokenUsage",
    "Tool",
    "ToolArgumentsError",
    "ToolCall",
    "ToolCompleted",
    "ToolContext",
    "ToolDefinitionError",
    "ToolFailed",
    "ToolOutcome",
    "ToolStarted",
    "Usage",
    "UsageLedger",
    "create_deep_agent",
    "get_default_model",
    "load_ipython_extension",
    "tool",
]
