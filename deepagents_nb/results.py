"""`AgentResult`: what a run produced (its text, its messages, a typed output)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic

from typing_extensions import TypeVar

from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.hitl import AgentInterrupt
from deepagents_nb.messages import Message
from deepagents_nb.state import AgentStateSnapshot
from deepagents_nb.usage import Usage

if TYPE_CHECKING:
    import pandas as pd

OutputT = TypeVar("OutputT", default=Any)


@dataclass(repr=False)
class AgentResult(Generic[OutputT]):
    """What a run produced.

    `messages` are the messages this run added (the user's message first);
    `state` is the thread's whole state after the run. When the run stopped for
    an approval, `interrupt` says what waits and `text` says the run is paused.
    With an `output_type`, `output` is the validated value (None without one, or
    while paused) and `text` is that value as JSON.
    """

    text: str
    messages: list[Message]
    state: AgentStateSnapshot
    usage: Usage
    thread_id: str
    run_id: str
    duration_ms: float
    interrupt: AgentInterrupt | None = None
    output: OutputT | None = None

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        # Without run ids and timings, so it reads well and saved notebooks stay stable.
        from deepagents_nb.display import result_text

        return f"AgentResult(thread_id={self.thread_id!r})\n{result_text(self)}"

    def _repr_html_(self) -> str:
        from deepagents_nb.display import result_html

        return result_html(self)

    def to_dataframe(self) -> pd.DataFrame:
        """The output as a pandas DataFrame: a list of models, dataclasses or dicts gives
        one row each and a column per field; a single one, one row.

        Raises:
            ConfigurationError: the run has no structured output, or it is not records.
        """
        import pandas as pd

        value = self.output
        items = value if isinstance(value, list | tuple) else [value]
        if value is None or not all(_is_record(item) for item in items):
            raise ConfigurationError(
                f"to_dataframe() needs an output of models, dataclasses or dicts (or a list "
                f"of them); this run's output is {type(value).__name__}"
            )
        frame: pd.DataFrame = pd.DataFrame([_record(item) for item in items])
        return frame


def _is_record(item: Any) -> bool:
    return (
        isinstance(item, dict)
        or hasattr(item, "model_dump")
        or (dataclasses.is_dataclass(item) and not isinstance(item, type))
    )


def _record(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "model_dump"):
        return dict(item.model_dump())
    return dataclasses.asdict(item)
