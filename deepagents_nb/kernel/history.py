"""The code an agent ran in a thread, in order, so the analysis can be rerun without it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deepagents_nb.kernel.middleware import TOOL_NAME
from deepagents_nb.messages import Message


@dataclass(frozen=True)
class CodeCell:
    """One `run_python` call: its code and whether it failed (or never ran)."""

    call_id: str
    code: str
    failed: bool


def code_cells(messages: Iterable[Message]) -> list[CodeCell]:
    """Every `run_python` call in `messages` that got a result, in the order they ran."""
    codes: dict[str, str] = {}
    cells: list[CodeCell] = []
    for message in messages:
        for call in message.tool_calls:
            if call.name == TOOL_NAME and isinstance(call.args, dict):
                codes[call.id] = str(call.args.get("code", ""))
        if message.role == "tool" and message.tool_call_id in codes:
            cells.append(
                CodeCell(message.tool_call_id, codes[message.tool_call_id], message.is_error)
            )
    return cells


def as_script(cells: Iterable[CodeCell]) -> str:
    """The cells as one script with `# %%` cell markers; failed ones commented out."""
    blocks = []
    for number, cell in enumerate(cells, 1):
        if cell.failed:
            body = "\n".join(f"# {line}" for line in cell.code.splitlines())
            blocks.append(f"# %% [{number}] failed or rejected: kept as a comment\n{body}")
        else:
            blocks.append(f"# %% [{number}]\n{cell.code.rstrip()}")
    return "\n\n".join(blocks)
