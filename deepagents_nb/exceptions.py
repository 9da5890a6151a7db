"""The one exception tree of deepagents-nb.

Failures (something is wrong and a person or program must act) derive from
`DeepAgentsError`. Control-flow signals (an approval is needed, a call should be
retried) are not failures: they are values on results (`AgentResult.interrupt`)
or the separate `AgentSignal` branch, so `except DeepAgentsError` never swallows
them by accident.

    Exception
    ├── DeepAgentsError
    │   ├── ConfigurationError ........ the agent or a call to it is set up wrongly
    │   │   ├── MissingAPIKeyError .... a provider key is missing (names the variable)
    │   │   └── MissingDependencyError  an optional extra is not installed
    │   ├── ToolError
    │   │   ├── ToolDefinitionError ... a function cannot become a tool
    │   │   ├── ToolArgumentsError .... a model's arguments failed the tool's schema
    │   │   └── ToolExecutionError .... raised by a tool to tell the model what went wrong
    │   ├── AgentRunError ............. a run could not finish
    │   │   ├── MaxTurnsExceededError . the model kept calling tools past the limit
    │   │   ├── BudgetExceededError ... a token or cost budget is used up
    │   │   └── OutputValidationError . the answer failed `output_type` past its retries
    │   ├── ModelAPIError ............. a provider call failed (after retries)
    │   │   ├── AuthenticationError
    │   │   ├── RateLimitError ........ carries `retry_after` seconds when known
    │   │   ├── OverloadedError
    │   │   ├── ServerError
    │   │   │   └── ModelConnectionError  connection failed, or a stream was cut
    │   │   ├── ModelTimeoutError
    │   │   ├── BadRequestError
    │   │   └── VendorRequestBlockedError  a real vendor call inside the test suite
    │   ├── HitlError ................. an approval was asked for in the wrong state
    │   │   ├── NoPendingInterruptError  resuming a thread that is not paused
    │   │   ├── PendingInterruptError . a new message to a thread paused for approval
    │   │   └── InterruptClaimedError . another resume decided this call first
    │   ├── ModelBehaviorError ........ a test double ran out of script or mismatched
    │   ├── MCPServerError ............ an MCP server could not start or answer (deepagents_nb.mcp)
    │   └── CheckpointerError ......... a store failed or holds unreadable data
    │       ├── CheckpointConflictError  saved against a stale version
    │       └── CorruptCheckpointError . stored bytes cannot be read back
    └── AgentSignal ................... control flow, never a failure
"""

from __future__ import annotations


class DeepAgentsError(Exception):
    """Base of every failure raised by deepagents-nb."""


class ConfigurationError(DeepAgentsError):
    """The agent, a tool or a call is configured wrongly."""


class MissingAPIKeyError(ConfigurationError):
    """A provider needs an API key that is not set."""

    def __init__(self, provider: str, env_var: str) -> None:
        self.provider = provider
        self.env_var = env_var
        super().__init__(
            f"No API key for {provider}: set the environment variable {env_var} "
            f"or pass api_key=... explicitly."
        )


class MissingDependencyError(ConfigurationError):
    """An optional dependency is needed for this feature."""

    def __init__(self, feature: str, extra: str) -> None:
        self.feature = feature
        self.extra = extra
        super().__init__(
            f'{feature} needs an optional dependency: pip install "deepagents-nb[{extra}]"'
        )


class ToolError(DeepAgentsError):
    """Base of tool definition and tool argument errors."""


class ToolDefinitionError(ToolError):
    """A Python function cannot be turned into a tool."""


class ToolArgumentsError(ToolError):
    """Arguments from the model do not match the tool's schema."""


class ToolExecutionError(ToolError):
    """Raise from a tool to report a failure to the model in your own words.

    The model reads `Error: <message>` (no Python type name); the run goes on.
    """


class AgentRunError(DeepAgentsError):
    """A run stopped before the model gave a final answer."""


class MaxTurnsExceededError(AgentRunError):
    """The model kept calling tools for more turns than allowed."""

    def __init__(self, max_turns: int) -> None:
        self.max_turns = max_turns
        super().__init__(
            f"The agent made {max_turns} model calls without a final answer; "
            f"raise the limit with max_turns=... (or .with_max_turns(...)) if that is expected."
        )


class BudgetExceededError(AgentRunError):
    """A token or cost budget was used up; the thread's completed steps are saved."""


class OutputValidationError(AgentRunError):
    """The model's answer failed the run's `output_type`, retries included.

    `raw_output` is the last answer as the model gave it (the `final_answer`
    arguments or the text); the thread is saved with it.
    """

    def __init__(self, message: str, raw_output: object) -> None:
        super().__init__(message)
        self.raw_output = raw_output


class ModelAPIError(DeepAgentsError):
    """A model provider call failed."""

    def __init__(
        self, message: str, *, provider: str | None = None, status_code: int | None = None
    ) -> None:
        self.provider = provider
        self.status_code = status_code
        super().__init__(message)


class AuthenticationError(ModelAPIError):
    """The provider refused the credentials."""


class RateLimitError(ModelAPIError):
    """The provider asks to slow down."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status_code=status_code)
        self.retry_after = retry_after


class OverloadedError(ModelAPIError):
    """The provider is temporarily overloaded."""


class ServerError(ModelAPIError):
    """The provider answered with a server error."""


class ModelConnectionError(ServerError):
    """The connection to the provider failed, or was cut in the middle of a stream."""


class ModelTimeoutError(ModelAPIError):
    """The provider did not answer in time."""


class BadRequestError(ModelAPIError):
    """The provider rejected the request as malformed."""


class VendorRequestBlockedError(ModelAPIError):
    """A request to a real vendor was attempted while the test guard is on."""


class HitlError(DeepAgentsError):
    """Human-in-the-loop misuse."""


class NoPendingInterruptError(HitlError):
    """`resume_with_approval` on a thread that is not waiting for a decision."""


class PendingInterruptError(HitlError):
    """A new message was sent to a thread that is waiting for a decision."""


class InterruptClaimedError(HitlError):
    """Another resume claimed the waiting call first (a second click, another tab or
    process), or is running it now: this resume ran nothing."""


class ModelBehaviorError(DeepAgentsError):
    """A test double was asked for more than its script holds, or something it cannot do."""


class CheckpointerError(DeepAgentsError):
    """A checkpointer failed to save or load."""


class CheckpointConflictError(CheckpointerError):
    """A save was made against a version that is no longer the latest."""

    def __init__(self, thread_id: str, expected: int | None, actual: int | None) -> None:
        self.thread_id = thread_id
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"Thread {thread_id!r} changed since it was loaded (expected version {expected}, "
            f"store has {actual}); load it again and retry."
        )


class CorruptCheckpointError(CheckpointerError):
    """Stored bytes cannot be turned back into a state."""


class AgentSignal(Exception):
    """Base of control-flow signals; never a failure."""
