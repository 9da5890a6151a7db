"""Which tool calls need a human's approval: an agent's `interrupt_on`, and its parents'.

Keys are tool names or glob patterns (`"git_*"`, `"*"`). Within one agent an
exact name wins over a pattern, and among patterns the longest (most specific)
wins, so `{"*": True, "read_file": False}` gates every tool but `read_file`.
A sub-agent runs under its own gates and every gate of the agents above it:
a parent can add gates below it, never remove a sub-agent's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.hitl import HitlPolicy
from deepagents_nb.messages import ToolCall

_GLOB_CHARACTERS = frozenset("*?[")

CallGate = Callable[[ToolCall], "HitlPolicy | None"]
"""Gates a call by its arguments (a middleware's `approval_policy`)."""


def is_pattern(key: str) -> bool:
    """Whether an `interrupt_on` key is a glob pattern rather than a tool name."""
    return not _GLOB_CHARACTERS.isdisjoint(key)


class Gates:
    """The approval policies that apply to one run."""

    __slots__ = ("_calls", "_exact", "_parent", "_patterns", "_resolved")

    def __init__(
        self,
        policies: Mapping[str, HitlPolicy],
        parent: Gates | None = None,
        call_gates: Sequence[CallGate] = (),
    ) -> None:
        self._exact = {k: p for k, p in policies.items() if not is_pattern(k)}
        self._patterns = sorted(
            ((k, p) for k, p in policies.items() if is_pattern(k)), key=lambda kp: -len(kp[0])
        )
        self._parent = parent
        self._calls = tuple(call_gates)
        self._resolved: dict[str, HitlPolicy | None] = {}

    def __bool__(self) -> bool:
        return bool(self._exact or self._patterns or self._calls or self._parent)

    def gate_call(self, call: ToolCall) -> HitlPolicy | None:
        """The policy that stops `call` for approval: by its tool's name, or by its
        arguments (a middleware's `approval_policy`, here or in a parent); else None."""
        return self.gate(call.name) or self._by_arguments(call)

    def _by_arguments(self, call: ToolCall) -> HitlPolicy | None:
        for call_gate in self._calls:
            policy = call_gate(call)
            if policy is not None and not policy.allow_auto:
                return policy
        return None if self._parent is None else self._parent._by_arguments(call)

    def gate(self, tool_name: str) -> HitlPolicy | None:
        """The policy that stops `tool_name` for approval, or None when it runs freely."""
        try:
            return self._resolved[tool_name]
        except KeyError:
            pass
        own = self._own(tool_name)
        gate = own if own is not None and not own.allow_auto else None
        if gate is None and self._parent is not None:
            gate = self._parent.gate(tool_name)
        self._resolved[tool_name] = gate
        return gate

    def _own(self, tool_name: str) -> HitlPolicy | None:
        policy = self._exact.get(tool_name)
        if policy is not None:
            return policy
        return next((p for k, p in self._patterns if fnmatchcase(tool_name, k)), None)


def check_keys(policies: Mapping[str, HitlPolicy], tool_names: Iterable[str], agent: str) -> None:
    """Refuse `interrupt_on` keys that match no tool: a typo would gate nothing.

    Raises:
        ConfigurationError: naming each key that matches nothing, with close names.
    """
    names = sorted(set(tool_names))
    unknown = [
        key
        for key in policies
        if not (any(fnmatchcase(n, key) for n in names) if is_pattern(key) else key in names)
    ]
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = [n for n in names if n.lower() == key.lower() or n.replace("-", "_") == key]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        hints.append(f"{key!r}{hint}")
    raise ConfigurationError(
        f"interrupt_on of agent {agent!r} names {', '.join(hints)}, which "
        f"match{'es' if len(unknown) == 1 else ''} no tool of the agent or its sub-agents, "
        f"so {'it' if len(unknown) == 1 else 'they'} would gate nothing. "
        f"Tools: {', '.join(names) or 'none'}."
    )
