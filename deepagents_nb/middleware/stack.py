"""The default middleware stack, in the seed's order.

planning -> filesystem -> sub-agents -> summarization -> prompt caching, then
the user's own middleware. (Approval policies join at the end of the stack.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from deepagents_nb.agent import AgentConfig, DeepAgent
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.middleware.filesystem import FilesystemMiddleware
from deepagents_nb.middleware.fs_backends import FileBackend, StateBackend
from deepagents_nb.middleware.large_results import DEFAULT_MAX_CHARS, ToolResultsMiddleware
from deepagents_nb.middleware.mounts import MountedBackend, Mounts
from deepagents_nb.middleware.planning import PlanningMiddleware
from deepagents_nb.middleware.prompt_caching import AnthropicPromptCachingMiddleware
from deepagents_nb.middleware.routes import file_routes_of, with_routes
from deepagents_nb.middleware.subagents import (
    GENERAL_PURPOSE,
    GENERAL_PURPOSE_DESCRIPTION,
    AgentAsSubAgent,
    SubAgent,
    SubAgentConfig,
    SubAgentMiddleware,
)
from deepagents_nb.middleware.summarization import SummarizationConfig, SummarizationMiddleware
from deepagents_nb.output import as_output_spec
from deepagents_nb.tools import as_tool


@dataclass
class StackOptions:
    """What the builder collects for the default stack."""

    subagents: list[SubAgentConfig | SubAgent | DeepAgent] = field(default_factory=list)
    general_purpose_agent: bool = True
    summarization: SummarizationConfig | None = field(default_factory=SummarizationConfig)
    prompt_caching: bool = True
    filesystem: FileBackend | None = None
    read_todos: bool = False
    mounts: Mounts = field(default_factory=Mounts)
    routes: dict[str, FileBackend] = field(default_factory=dict)
    """Directories the middleware add (`file_routes()`: /memories, /skills)."""
    max_tool_result_chars: int = DEFAULT_MAX_CHARS
    clear_tool_results_at: float | None = 0.5
    clear_tool_results_tokens: int | None = None
    keep_tool_results: int = 3


def _worker_stack(options: StackOptions) -> list[Middleware]:
    """What every agent gets: plan, files, large results and clearing, summaries, caching
    (no further sub-agents)."""
    results = ToolResultsMiddleware(
        options.max_tool_result_chars,
        clear_at=options.clear_tool_results_at,
        clear_at_tokens=options.clear_tool_results_tokens,
        keep_last=options.keep_tool_results,
    )
    routes = {**options.routes, **results.file_routes()}
    stack: list[Middleware] = [
        PlanningMiddleware(read_todos=options.read_todos),
        FilesystemMiddleware(
            MountedBackend(
                with_routes(options.filesystem or StateBackend(), routes), options.mounts
            )
        ),
        results,  # before summarization: clearing old results comes first
    ]
    if options.summarization is not None:
        stack.append(SummarizationMiddleware(options.summarization))
    if options.prompt_caching:
        stack.append(AnthropicPromptCachingMiddleware())
    return stack


def _subagent(config: SubAgentConfig, parent: AgentConfig, options: StackOptions) -> SubAgent:
    tools = parent.tools if config.tools is None else [as_tool(t) for t in config.tools]
    agent = DeepAgent(
        AgentConfig(
            instructions=config.instructions,
            name=config.name,
            description=config.description,
            model=config.model or parent.model,
            tools=list(tools),
            middleware=[*_worker_stack(options), *parent.middleware],
            pii_sanitization=parent.pii_sanitization,
            max_turns=parent.max_turns,
            max_tokens=parent.max_tokens,
            temperature=parent.temperature,
            output=as_output_spec(config.output_type, config.output_mode),
        )
    )
    return AgentAsSubAgent(agent)


def default_stack(parent: AgentConfig, options: StackOptions) -> Sequence[Middleware]:
    """The full stack for an agent configured as `parent` (user middleware excluded)."""
    options = replace(options, routes=file_routes_of(parent.middleware))
    configs: list[SubAgentConfig | SubAgent | DeepAgent] = list(options.subagents)
    if options.general_purpose_agent and not any(
        getattr(s, "name", None) == GENERAL_PURPOSE for s in configs
    ):
        configs.insert(
            0,
            SubAgentConfig(GENERAL_PURPOSE, GENERAL_PURPOSE_DESCRIPTION, parent.instructions),
        )
    subagents = [
        _subagent(c, parent, options)
        if isinstance(c, SubAgentConfig)
        else AgentAsSubAgent(c)
        if isinstance(c, DeepAgent)
        else c
        for c in configs
    ]
    stack = _worker_stack(options)
    stack.insert(2, SubAgentMiddleware(subagents))
    return stack
