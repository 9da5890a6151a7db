"""The README's Python examples run as written, in order, in one namespace."""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import inspect
import io
import re
import typing
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
    lines = printed.getvalue().splitlines()
    assert lines[0] == "5 + 3 = 8"
    assert "input_tokens=" in lines[1]
    assert lines[2] == "8"
    assert lines[3:6] == [
        "Done.",
        "Approval needed for delete_file: Deletion needs review",
        "Done.",
    ]


def rust_table_right_column() -> list[str]:
    """The code spans naming our side of the README's "Coming from the Rust SDK" table."""
    text = README.read_text()
    section = text.split("## Coming from the Rust SDK", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]  # no header
    spans: list[str] = []
    for row in rows:
        ours = re.split(r"(?<!\\)\|", row.strip().strip("|"))[-1]
        spans += [span.replace("\\|", "|") for span in re.findall(r"`([^`]+)`", ours)]
    return spans


def test_every_name_in_the_rust_sdk_table_exists() -> None:
    import pydantic

    import deepagents_nb
    from deepagents_nb import persistence
    from deepagents_nb.persistence.base import Checkpoint

    spans = rust_table_right_column()
    assert len(spans) >= 40

    def resolve(name: str) -> object:
        for home in (deepagents_nb, persistence, pydantic, typing, builtins):
            if hasattr(home, name):
                return getattr(home, name)
        raise AssertionError(f"README names {name!r}, which nothing exports")

    def attributes(cls: type) -> set[str]:
        fields = getattr(cls, "model_fields", None) or {
            f.name: f for f in (dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ())
        }
        return set(dir(cls)) | set(fields)

    agent, builder = deepagents_nb.DeepAgent, deepagents_nb.ConfigurableAgentBuilder
    keywords = set(inspect.signature(deepagents_nb.create_deep_agent).parameters) | set(
        inspect.signature(agent.handle_message).parameters
    )
    holders = [deepagents_nb.AgentResult, deepagents_nb.AgentInterrupt, Checkpoint]
    holders += [deepagents_nb.Message, deepagents_nb.TokenUsage]
    checked = 0
    for span in spans:
        span = re.sub(r'"[^"]*"', '""', span)  # names, not the words in string literals
        for method in re.findall(r"(?<![\w)])\.(with_\w+)", span):
            assert hasattr(builder, method), span
            checked += 1
        for method in re.findall(r"\bagent\.(\w+)", span):
            assert hasattr(agent, method), span
            checked += 1
        for field in re.findall(r"\bresult\.(\w+)", span):
            assert field in attributes(deepagents_nb.AgentResult), span
            checked += 1
        for field in re.findall(r"\bevent\.(\w+)", span):
            assert field in attributes(deepagents_nb.TokenUsage), span
            checked += 1
        for owner, member in re.findall(r"\b([A-Z]\w+)\.(\w+)", span):
            assert hasattr(resolve(owner), member), span
            checked += 1
        for name in re.findall(r"(?<![.\w])([A-Z]\w*)\b", span):
            resolve(name)
            checked += 1
        if match := re.fullmatch(r"(\w+)=.*", span):
            assert match.group(1) in keywords, span
            checked += 1
        if (match := re.fullmatch(r"\.(\w+)", span)) and not span.startswith(".with_"):
            assert any(match.group(1) in attributes(h) for h in holders), span
            checked += 1
    assert checked >= 60
