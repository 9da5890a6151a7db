"""Two spellings of one configuration: the fluent builder and `create_deep_agent`.

Every `with_*` method of `ConfigurableAgentBuilder` has a keyword twin in
`create_deep_agent` (listed in `KEYWORD_TWINS`), and `create_deep_agent` is
implemented by calling those methods, so the two can never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from deepagents_nb.agent import AgentConfig, DeepAgent
from deepagents_nb.broadcast import EventBroadcaster, EventDispatcher, check_timeout
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.hitl import HitlPolicy, as_policy
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.middleware.fs_backends import FileBackend
from deepagents_nb.middleware.stack import StackOptions, default_stack
from deepagents_nb.middleware.subagents import SubAgent, SubAgentConfig
from deepagents_nb.middleware.summarization import SummarizationConfig
from deepagents_nb.models.base import ChatModel
from deepagents_nb.models.registry import ModelConfig, ModelSpec, resolve_model
from deepagents_nb.output import DEFAULT_RETRIES, OutputMode, as_output_spec
from deepagents_nb.persistence.base import Checkpointer
from deepagents_nb.tools import Tool, ToolFunction, as_tool
from deepagents_nb.tracking import Budget, TokenTracker, TokenTrackingConfig, build_tracker

if TYPE_CHECKING:
    from deepagents_nb.kernel.middleware import PythonMiddleware
    from deepagents_nb.mcp import MCPServer
    from deepagents_nb.middleware.memory import MemoryMiddleware, MemorySpec
    from deepagents_nb.middleware.skills import SkillsMiddleware, SkillSource
    from deepagents_nb.otel import OpenTelemetryBroadcaster

PythonMode = Literal["live", "isolated"]
DEFAULT_PYTHON_TIMEOUT = 60.0  # kernel.DEFAULT_TIMEOUT, without importing the package

KEYWORD_TWINS: dict[str, str] = {
    "with_name": "name",
    "with_instructions": "instructions",
    "with_model": "model",
    "with_tool": "tools",
    "with_tools": "tools",
    "with_middleware": "middleware",
    "with_checkpointer": "checkpointer",
    "with_event_broadcaster": "event_broadcasters",
    "with_event_dispatcher": "event_dispatcher",
    "with_broadcast_timeout": "broadcast_timeout",
    "with_pii_sanitization": "pii_sanitization",
    "with_max_turns": "max_turns",
    "with_max_tokens": "max_tokens",
    "with_temperature": "temperature",
    "with_description": "description",
    "with_subagent": "subagents",
    "with_subagents": "subagents",
    "with_general_purpose_agent": "general_purpose_agent",
    "with_summarization": "summarization",
    "with_prompt_caching": "prompt_caching",
    "with_filesystem": "filesystem",
    "with_read_todos": "read_todos",
    "with_memory": "memory",
    "with_skills": "skills",
    "with_tool_interrupt": "interrupt_on",
    "with_tool_interrupts": "interrupt_on",
    "with_token_tracking": "token_tracking",
    "with_token_tracking_config": "token_tracking",
    "with_budget": "budget",
    "with_model_config": "model",
    "with_openai_chat": "model",
    "with_anthropic": "model",
    "with_gemini": "model",
    "with_python": "python",
    "with_mcp_server": "mcp_servers",
    "with_mcp_servers": "mcp_servers",
    "with_output_type": "output_type",
    "with_context_window": "context_window",
    "with_max_tool_result_chars": "max_tool_result_chars",
    "with_tool_result_clearing": "clear_tool_results_at",
    "with_tracing": "tracing",
}
"""Builder method -> `create_deep_agent` keyword."""


class ConfigurableAgentBuilder:
    """Fluent configuration of a `DeepAgent`, as in the Rust SDK.

    agent = (ConfigurableAgentBuilder("You are a helpful math assistant.")
             .with_model(model)
             .with_tool(add)
             .build())
    """

    def __init__(self, instructions: str = "") -> None:
        self._config = AgentConfig(instructions=instructions)
        self._stack = StackOptions()
        self._broadcasters: list[EventBroadcaster] = []
        self._tracking: TokenTrackingConfig | None = None
        self._budget: Budget | None = None
        self._broadcast_timeout: float | None = None
        self._python: PythonMiddleware | None = None
        self._mcp_servers: list[MCPServer] = []
        self._memory: MemoryMiddleware | None = None
        self._skills: SkillsMiddleware | None = None

    def with_description(self, description: str) -> ConfigurableAgentBuilder:
        """Say what this agent is for (shown when it is used as a sub-agent)."""
        self._config.description = description
        return self

    def with_subagent(
        self, subagent: SubAgentConfig | SubAgent | DeepAgent
    ) -> ConfigurableAgentBuilder:
        """Offer a sub-agent to the `task` tool: a `SubAgentConfig`, a `DeepAgent`, or any
        object with `name`, `description` and `async run(instruction, ctx)`."""
        self._stack.subagents.append(subagent)
        return self

    def with_subagents(
        self, subagents: Iterable[SubAgentConfig | SubAgent | DeepAgent]
    ) -> ConfigurableAgentBuilder:
        """Offer several sub-agents, as `with_subagent` does for each."""
        for subagent in subagents:
            self.with_subagent(subagent)
        return self

    def with_general_purpose_agent(self, enabled: bool = True) -> ConfigurableAgentBuilder:
        """Offer the built-in general-purpose sub-agent (on by default)."""
        self._stack.general_purpose_agent = bool(enabled)
        return self

    def with_summarization(
        self, config: SummarizationConfig | bool = True
    ) -> ConfigurableAgentBuilder:
        """Summarize long conversations (on by default); `False` turns it off."""
        if config is True:
            config = SummarizationConfig()
        self._stack.summarization = config or None
        return self

    def with_prompt_caching(self, enabled: bool = True) -> ConfigurableAgentBuilder:
        """Anthropic prompt caching (on by default; no effect for other providers)."""
        self._stack.prompt_caching = bool(enabled)
        return self

    def with_filesystem(self, backend: FileBackend | None) -> ConfigurableAgentBuilder:
        """Where the file tools keep files: the thread's state (None, the default) or
        e.g. `DirectoryBackend("workspace")` for a real directory."""
        self._stack.filesystem = backend
        return self

    def with_read_todos(self, enabled: bool = True) -> ConfigurableAgentBuilder:
        """Also give the model a `read_todos` tool."""
        self._stack.read_todos = bool(enabled)
        return self

    def with_memory(
        self, files: MemorySpec | None, *, approval: HitlPolicy | bool = True
    ) -> ConfigurableAgentBuilder:
        """Memory files (`"AGENTS.md"`, a list, or `{name: path}`) in the system prompt,
        re-read each run; the agent edits them under `/memories/<name>`, each change
        written back once a person approves it (`approval=False`: without asking).
        `None` turns memory off.

        Raises:
            ConfigurationError: a file's folder does not exist, or two files share a name.
        """
        if files is None:
            self._memory = None
            return self
        from deepagents_nb.middleware.memory import MemoryMiddleware

        self._memory = MemoryMiddleware(files, approval=approval)
        return self

    def with_skills(
        self, sources: SkillSource | Iterable[SkillSource] | None
    ) -> ConfigurableAgentBuilder:
        """Skills (Agent Skills folders with a `SKILL.md`) listed in the system prompt
        by name and description, their files readable under `/skills/<name>/`. `sources`
        is a folder of skill folders (or a list of them); `None` turns skills off.

        Raises:
            ConfigurationError: a folder is missing, or a skill is bad (naming its file).
        """
        if sources is None:
            self._skills = None
            return self
        from deepagents_nb.middleware.skills import SkillsMiddleware

        self._skills = SkillsMiddleware(sources)
        return self

    def with_tool_interrupt(
        self, tool_name: str, policy: HitlPolicy | bool = True
    ) -> ConfigurableAgentBuilder:
        """Require a human decision before `tool_name` runs (sub-agents' calls included).

        `policy` may be a `HitlPolicy(allow_auto=False, note="why")`, or `True`.
        """
        self._config.interrupt_on[tool_name] = as_policy(policy)
        return self

    def with_tool_interrupts(
        self, policies: Mapping[str, HitlPolicy | bool]
    ) -> ConfigurableAgentBuilder:
        """Several approval policies at once: `{tool_name: policy}`."""
        for tool_name, policy in policies.items():
            self.with_tool_interrupt(tool_name, policy)
        return self

    def with_name(self, name: str) -> ConfigurableAgentBuilder:
        """Name the agent (shown in events and sub-agent listings)."""
        if not name:
            raise ConfigurationError("the agent's name must not be empty")
        self._config.name = name
        return self

    def with_instructions(self, instructions: str) -> ConfigurableAgentBuilder:
        """Set the system instructions (the constructor's argument)."""
        self._config.instructions = instructions
        return self

    def with_model(self, model: ModelSpec) -> ConfigurableAgentBuilder:
        """Use `model` for every model call: a `ChatModel`, a "provider:model" string
        such as "anthropic:claude-sonnet-4-6", a dict of settings or a `ModelConfig`."""
        if not isinstance(model, ChatModel | str | Mapping | ModelConfig):
            raise ConfigurationError(
                f"{model!r} is not a ChatModel: it needs `provider`, `model_name`, "
                f"`complete(request)` and `stream(request)` (or pass 'provider:model', "
                f"a dict of model settings or a ModelConfig)"
            )
        self._config.model = resolve_model(model)
        return self

    def with_model_config(
        self, config: ModelConfig | Mapping[str, Any]
    ) -> ConfigurableAgentBuilder:
        """Use the model a `ModelConfig` (or a dict of its fields) describes."""
        return self.with_model(config if isinstance(config, ModelConfig) else dict(config))

    def with_openai_chat(self, model: str, **options: Any) -> ConfigurableAgentBuilder:
        """An OpenAI Chat Completions model (`OpenAIChatModel` options: api_key,
        base_url for Ollama/vLLM/LM Studio/llama.cpp, max_tokens, temperature, ...)."""
        from deepagents_nb.models.openai import OpenAIChatModel

        return self.with_model(OpenAIChatModel(model, **options))

    def with_anthropic(self, model: str, **options: Any) -> ConfigurableAgentBuilder:
        """A Claude model (`AnthropicModel` options: api_key, max_tokens, ...)."""
        from deepagents_nb.models.anthropic import AnthropicModel

        return self.with_model(AnthropicModel(model, **options))

    def with_gemini(self, model: str, **options: Any) -> ConfigurableAgentBuilder:
        """A Gemini model (`GeminiModel` options: api_key, max_tokens, ...)."""
        from deepagents_nb.models.gemini import GeminiModel

        return self.with_model(GeminiModel(model, **options))

    def with_tool(self, tool: Tool | ToolFunction) -> ConfigurableAgentBuilder:
        """Add one tool (a `Tool`, or a type-hinted function)."""
        self._config.tools.append(as_tool(tool))
        return self

    def with_tools(self, tools: Iterable[Tool | ToolFunction]) -> ConfigurableAgentBuilder:
        """Add several tools (each a `Tool` or a type-hinted function)."""
        for item in tools:
            self.with_tool(item)
        return self

    def with_middleware(self, *middleware: Middleware) -> ConfigurableAgentBuilder:
        """Add middleware after the default stack, in the order given."""
        for m in middleware:
            if not isinstance(m, Middleware):
                raise ConfigurationError(f"{m!r} is not a Middleware")
            self._config.middleware.append(m)
        return self

    def with_checkpointer(self, checkpointer: Checkpointer) -> ConfigurableAgentBuilder:
        """Keep threads in `checkpointer` (default: in memory)."""
        if not isinstance(checkpointer, Checkpointer):
            raise ConfigurationError(f"{checkpointer!r} is not a Checkpointer")
        self._config.checkpointer = checkpointer
        return self

    def with_event_broadcaster(self, broadcaster: EventBroadcaster) -> ConfigurableAgentBuilder:
        """Send events to `broadcaster` (in addition to the dispatcher's own)."""
        self._broadcasters.append(broadcaster)
        return self

    def with_event_dispatcher(self, dispatcher: EventDispatcher) -> ConfigurableAgentBuilder:
        """Use `dispatcher` (with its broadcasters) for this agent's events."""
        self._config.dispatcher = dispatcher
        return self

    def with_broadcast_timeout(self, seconds: float) -> ConfigurableAgentBuilder:
        """Wait at most `seconds` at the end of each run for broadcasters (default 1 s).

        Events a slow or hanging broadcaster has not taken by then are delivered in
        the background, so no broadcaster delays a run by more than this. Sets the
        `flush_timeout` of the agent's dispatcher (one passed to
        `with_event_dispatcher` included).

        Raises:
            ConfigurationError: `seconds` is not a finite number >= 0.
        """
        self._broadcast_timeout = check_timeout(seconds, "broadcast_timeout")
        return self

    def with_pii_sanitization(self, enabled: bool = True) -> ConfigurableAgentBuilder:
        """Redact secrets and PII from events (on by default)."""
        self._config.pii_sanitization = bool(enabled)
        return self

    def with_max_turns(self, max_turns: int) -> ConfigurableAgentBuilder:
        """Stop a run with `MaxTurnsExceededError` after this many model calls."""
        if max_turns < 1:
            raise ConfigurationError(f"max_turns must be at least 1, got {max_turns}")
        self._config.max_turns = max_turns
        return self

    def with_max_tokens(self, max_tokens: int | None) -> ConfigurableAgentBuilder:
        """Cap each model answer's length."""
        self._config.max_tokens = max_tokens
        return self

    def with_temperature(self, temperature: float | None) -> ConfigurableAgentBuilder:
        """Sampling temperature for every model call."""
        self._config.temperature = temperature
        return self

    def with_token_tracking(self, enabled: bool = True) -> ConfigurableAgentBuilder:
        """Record every model request's tokens and cost in `agent.usage` (on by default)."""
        self._tracking = TokenTrackingConfig(enabled=bool(enabled))
        return self

    def with_token_tracking_config(self, config: TokenTrackingConfig) -> ConfigurableAgentBuilder:
        """Token tracking with chosen events, logging and prices (`custom_costs`)."""
        if not isinstance(config, TokenTrackingConfig):
            raise ConfigurationError(f"{config!r} is not a TokenTrackingConfig")
        self._tracking = config
        return self

    def with_budget(self, budget: Budget | None) -> ConfigurableAgentBuilder:
        """Stop runs at a token or cost limit per run or per thread (turns tracking on)."""
        self._budget = budget
        return self

    def with_python(
        self,
        mode: PythonMode | None = "isolated",
        *,
        policy: HitlPolicy | bool | None = None,
        timeout: float = DEFAULT_PYTHON_TIMEOUT,
    ) -> ConfigurableAgentBuilder:
        """Give the model `run_python(code)` (off by default; `None` turns it off).

        `"isolated"` runs each thread's code in its own ipykernel process (started
        on first use; mounted variables are there by name, as copies). `"live"`
        runs in this notebook's namespace, gated by an approval unless
        `policy=HitlPolicy(allow_auto=True)`. A call past `timeout` seconds is
        interrupted. Needs the `kernel` extra (`pip install "deepagents-nb[kernel]"`).

        Raises:
            ConfigurationError: an unknown mode, a timeout that is not positive,
                or `"live"` outside IPython.
        """
        if mode is None:
            self._python = None
            return self
        from deepagents_nb.kernel.middleware import PythonMiddleware

        self._python = PythonMiddleware(
            mode,
            None if policy is None else as_policy(policy),
            timeout,
            mounts=self._stack.mounts,
        )
        return self

    def with_output_type(
        self,
        output_type: Any,
        mode: OutputMode = "tool",
        retries: int = DEFAULT_RETRIES,
    ) -> ConfigurableAgentBuilder:
        """End every run with a validated `output_type` (`result.output`); None turns it off.

        `output_type` may be a pydantic model, dataclass, TypedDict, primitive,
        `Literal[...]`, `list[...]` or a union. `mode` is how the model gives it:
        `"tool"` (a `final_answer` tool: every provider), `"native"` (the vendor's
        JSON-schema mode) or `"prompted"` (JSON in the text). An invalid answer goes
        back to the model up to `retries` times, then `OutputValidationError`.

        Raises:
            ConfigurationError: an unknown mode, negative retries, or a type pydantic
                cannot validate.
        """
        self._config.output = as_output_spec(output_type, mode, retries)
        return self

    def with_max_tool_result_chars(self, max_chars: int) -> ConfigurableAgentBuilder:
        """Save a tool result longer than this (20,000 by default) whole as
        `/large_tool_results/<call id>`; the model gets its head and tail, the path and
        the size, and pages through the rest with `read_file`.

        Raises:
            ConfigurationError: `max_chars` is below 1,000.
        """
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1000:
            raise ConfigurationError(
                f"max_tool_result_chars must be an integer of at least 1000, got {max_chars!r}"
            )
        self._stack.max_tool_result_chars = max_chars
        return self

    def with_tool_result_clearing(
        self, at: float | None = 0.5, *, tokens: int | None = None, keep_last: int = 3
    ) -> ConfigurableAgentBuilder:
        """Past `at` (a share) of the model's context window, or past `tokens`, replace
        old tool results but the last `keep_last` by a placeholder naming the file that
        keeps each (before summarization, the last resort). `at=None`: never.

        Raises:
            ConfigurationError: `at` is not in (0, 1], or `keep_last` is negative.
        """
        if at is not None and (isinstance(at, bool) or not 0 < at <= 1):
            raise ConfigurationError(f"clear_tool_results_at must be in (0, 1], got {at!r}")
        if keep_last < 0:
            raise ConfigurationError(f"keep_last must not be negative, got {keep_last}")
        self._stack.clear_tool_results_at = at
        self._stack.clear_tool_results_tokens = tokens
        self._stack.keep_tool_results = keep_last
        return self

    def with_context_window(self, tokens: int | None) -> ConfigurableAgentBuilder:
        """The model's context window in tokens, for the context meter (`TokenUsage`
        events, `agent.context_usage`, the dashboard's gauge); by default the window
        the model data knows. None goes back to that.

        Raises:
            ConfigurationError: `tokens` is not a positive integer.
        """
        if tokens is not None and (
            isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1
        ):
            raise ConfigurationError(f"context_window must be a positive integer, got {tokens!r}")
        self._config.context_window = tokens
        return self

    def with_tracing(
        self, tracing: bool | OpenTelemetryBroadcaster = True
    ) -> ConfigurableAgentBuilder:
        """Send the agent's runs as OpenTelemetry spans (GenAI conventions): `True` to the
        global tracer provider, or through the `OpenTelemetryBroadcaster` given (your
        provider, metrics, `capture_content`). Needs `pip install "deepagents-nb[otel]"`.
        """
        if tracing is False:
            return self
        from deepagents_nb.otel import OpenTelemetryBroadcaster

        if tracing is True:
            tracing = OpenTelemetryBroadcaster()
        elif not isinstance(tracing, OpenTelemetryBroadcaster):
            raise ConfigurationError(
                f"tracing= takes True, False or an OpenTelemetryBroadcaster, got {tracing!r}"
            )
        return self.with_event_broadcaster(tracing)

    def with_mcp_server(self, server: MCPServer) -> ConfigurableAgentBuilder:
        """Give the agent an MCP server's tools, and its resources as read-only files
        under /mcp/<server>/: `MCPServer.stdio(command, args)` or `MCPServer.http(url)`.

        The servers start when the agent is built (to learn their tools) and stop with
        `agent.close()`. Needs the `mcp` extra (`pip install "deepagents-nb[mcp]"`).
        """
        from deepagents_nb.mcp import MCPServer

        if not isinstance(server, MCPServer):
            raise ConfigurationError(
                f"{server!r} is not an MCPServer: use MCPServer.stdio(...) or MCPServer.http(...)"
            )
        self._mcp_servers.append(server)
        return self

    def with_mcp_servers(self, servers: Iterable[MCPServer]) -> ConfigurableAgentBuilder:
        """Several MCP servers, as `with_mcp_server` does for each."""
        for server in servers:
            self.with_mcp_server(server)
        return self

    def build(self) -> DeepAgent:
        """Make the agent; raises `ConfigurationError` when something is missing."""
        for broadcaster in self._broadcasters:
            self._config.dispatcher.add_broadcaster(broadcaster)
        if self._broadcast_timeout is not None:
            self._config.dispatcher.flush_timeout = self._broadcast_timeout
        # A new tracker per build: each agent keeps its own ledger. Tracking is on unless
        # turned off, so the cost panel and `agent.usage` work without configuration.
        self._config.token_tracking = build_tracker(
            self._tracking or TokenTrackingConfig(log_usage=False), self._budget
        )
        if self._config.model is None:
            return DeepAgent(self._config)  # raises the clear "no model" error
        if isinstance(self._config.token_tracking, TokenTracker):
            model = self._config.model
            self._config.token_tracking.prefetch_prices(model.provider, model.model_name)
        config = self._config
        python = self._python
        if python is not None:
            # Sub-agents get the parent's middleware, so they share its kernels (and gate).
            gates = {**python.interrupt_on(), **config.interrupt_on}
            config = replace(config, middleware=[python, *config.middleware], interrupt_on=gates)
        extras = [m for m in (self._memory, self._skills) if m is not None]
        if extras:
            config = replace(config, middleware=[*extras, *config.middleware])
        mcp = None
        if self._mcp_servers:
            from deepagents_nb.mcp import MCPMiddleware

            # In the config's middleware: sub-agents share the sessions, tools and /mcp/.
            mcp = MCPMiddleware(self._mcp_servers)
            config = replace(config, middleware=[mcp, *config.middleware])
        try:
            stack = default_stack(config, self._stack)
            return DeepAgent(replace(config, middleware=[*stack, *config.middleware]))
        except BaseException:
            if mcp is not None:
                mcp.close()  # the servers started for an agent that was not made
            raise


def create_deep_agent(
    model: ModelSpec | None = None,
    instructions: str = "",
    tools: Iterable[Tool | ToolFunction] = (),
    *,
    name: str = "agent",
    description: str = "",
    subagents: Iterable[SubAgentConfig | SubAgent | DeepAgent] = (),
    general_purpose_agent: bool = True,
    summarization: SummarizationConfig | bool = True,
    prompt_caching: bool = True,
    filesystem: FileBackend | None = None,
    read_todos: bool = False,
    memory: MemorySpec | None = None,
    memory_approval: HitlPolicy | bool = True,
    skills: SkillSource | Iterable[SkillSource] | None = None,
    interrupt_on: Mapping[str, HitlPolicy | bool] | None = None,
    middleware: Iterable[Middleware] = (),
    checkpointer: Checkpointer | None = None,
    event_broadcasters: Iterable[EventBroadcaster] = (),
    event_dispatcher: EventDispatcher | None = None,
    broadcast_timeout: float | None = None,
    pii_sanitization: bool = True,
    max_turns: int = 50,
    max_tokens: int | None = None,
    temperature: float | None = None,
    token_tracking: bool | TokenTrackingConfig | None = None,
    budget: Budget | None = None,
    python: PythonMode | None = None,
    python_policy: HitlPolicy | bool | None = None,
    python_timeout: float = DEFAULT_PYTHON_TIMEOUT,
    mcp_servers: Iterable[MCPServer] = (),
    output_type: Any = None,
    output_mode: OutputMode = "tool",
    output_retries: int = DEFAULT_RETRIES,
    context_window: int | None = None,
    max_tool_result_chars: int = 20_000,
    clear_tool_results_at: float | None = 0.5,
    tracing: bool | OpenTelemetryBroadcaster = False,
) -> DeepAgent:
    """Make a `DeepAgent` in one call; each keyword mirrors a builder `with_*` method.

    agent = create_deep_agent(model=ScriptedModel(["Hello!"]),
                              instructions="Be brief.", tools=[add])
    """
    builder = ConfigurableAgentBuilder(instructions).with_name(name).with_description(description)
    builder.with_subagents(subagents).with_general_purpose_agent(general_purpose_agent)
    builder.with_summarization(summarization).with_prompt_caching(prompt_caching)
    builder.with_filesystem(filesystem).with_read_todos(read_todos)
    builder.with_memory(memory, approval=memory_approval).with_skills(skills)
    builder.with_tool_interrupts(interrupt_on or {})
    if model is not None:
        builder.with_model(model)
    builder.with_tools(tools).with_middleware(*middleware)
    if checkpointer is not None:
        builder.with_checkpointer(checkpointer)
    if event_dispatcher is not None:
        builder.with_event_dispatcher(event_dispatcher)
    for broadcaster in event_broadcasters:
        builder.with_event_broadcaster(broadcaster)
    if broadcast_timeout is not None:
        builder.with_broadcast_timeout(broadcast_timeout)
    if isinstance(token_tracking, TokenTrackingConfig):
        builder.with_token_tracking_config(token_tracking)
    elif token_tracking is not None:
        builder.with_token_tracking(token_tracking)
    if budget is not None:
        builder.with_budget(budget)
    builder.with_python(python, policy=python_policy, timeout=python_timeout)
    builder.with_mcp_servers(mcp_servers)
    builder.with_output_type(output_type, output_mode, output_retries)
    builder.with_context_window(context_window)
    builder.with_max_tool_result_chars(max_tool_result_chars)
    builder.with_tool_result_clearing(clear_tool_results_at)
    builder.with_tracing(tracing)
    return (
        builder.with_pii_sanitization(pii_sanitization)
        .with_max_turns(max_turns)
        .with_max_tokens(max_tokens)
        .with_temperature(temperature)
        .build()
    )
