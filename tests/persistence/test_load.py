"""Every backend under load: hundreds of threads running agent turns at the same time.

Each thread asks its own sum, the model calls a tool and then answers, and every
step is checkpointed: four saves per thread, all of them concurrent with every
other thread's. Afterwards each thread is loaded back and must hold exactly its
own conversation, nothing lost, nothing crossed over from another thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from checkpointer_backends import BACKENDS, open_backend

from deepagents_nb import ToolCall, create_deep_agent, tool
from deepagents_nb.messages import Message
from deepagents_nb.models.base import ModelRequest
from deepagents_nb.models.testing import FunctionModel, ScriptItem

THREADS = 500
# moto answers DynamoDB calls in pure Python at ~15 ms each on this 2-core machine:
# 500 threads (2000 saves, 500 loads) took over 60 s, without a single error. A
# fifth of them (~10 s) still keeps hundreds of requests waiting on boto3's
# worker threads at once.
THREADS_ON = {"dynamodb": 100}
BUDGET_SECONDS = 60  # a hang, not a speed claim: speed lives in benchmarks/


@pytest.fixture(params=BACKENDS)
async def checkpointer(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    async with open_backend(request.param, tmp_path, monkeypatch) as cp:
        yield cp


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _script(request: ModelRequest) -> ScriptItem:
    """A tool call for the thread's question, then an answer from the tool's result."""
    last = request.messages[-1]
    if last.role == "user":
        n = int(last.content.split()[-1])
        return ToolCall(name="add", args={"a": n, "b": n}, id=f"call_{n}")
    question = next(m for m in reversed(request.messages) if m.role == "user")
    return f"{question.content.split()[-1]} doubled is {last.content}"


def _expected(n: int) -> list[tuple[str, str]]:
    return [
        ("user", f"double {n}"),
        ("assistant", ""),
        ("tool", str(2 * n)),
        ("assistant", f"{n} doubled is {2 * n}"),
    ]


def _shape(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in messages]


async def test_hundreds_of_threads_run_at_once_and_all_are_saved(
    checkpointer: Any, request: pytest.FixtureRequest
) -> None:
    backend = request.node.callspec.params["checkpointer"]
    threads = THREADS_ON.get(backend, THREADS)
    agent = create_deep_agent(model=FunctionModel(_script), tools=[add], checkpointer=checkpointer)

    results = await asyncio.wait_for(
        asyncio.gather(
            *(agent.ahandle_message(f"double {n}", thread_id=f"load-{n}") for n in range(threads)),
            return_exceptions=True,
        ),
        BUDGET_SECONDS,
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == [], f"{len(errors)} of {threads} runs failed, first: {errors[:1]!r}"
    assert [r.text for r in results] == [f"{n} doubled is {2 * n}" for n in range(threads)]

    stored = await asyncio.gather(*(checkpointer.load(f"load-{n}") for n in range(threads)))
    for n, checkpoint in enumerate(stored):
        assert checkpoint is not None, f"thread load-{n} was not saved"
        assert _shape(checkpoint.state.messages) == _expected(n), f"thread load-{n}"
        call = checkpoint.state.messages[1].tool_calls[0]
        assert (call.name, call.args) == ("add", {"a": n, "b": n})
    assert sorted(await checkpointer.list_threads()) == sorted(f"load-{n}" for n in range(threads))
    # Every step was its own version: the user's message, then one per model turn.
    history = await checkpointer.history(f"load-{threads - 1}")
    assert [info.version for info in history] == [1, 2, 3]
