"""Approvals run exactly once: racing resumes, in one process and across processes.

A resume claims the waiting call with one conditional save before anything
runs; every rival gets a `HitlError` and runs nothing, on every backend.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from checkpointer_backends import BACKENDS, open_backend, postgres_dsn, unique_name

from deepagents_nb import (
    HitlAction,
    HitlError,
    InterruptClaimedError,
    ToolCall,
    create_deep_agent,
    tool,
)
from deepagents_nb.hitl import decisions
from deepagents_nb.models.testing import ScriptedModel

WORKER = Path(__file__).parents[1] / "exactly_once_worker.py"


@pytest.fixture(params=BACKENDS)
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    async with open_backend(request.param, tmp_path, monkeypatch) as cp:
        yield cp


def deploy_agent(store: Any, ran: list[str]) -> Any:
    @tool
    async def deploy(service: str) -> str:
        """Deploy a service."""
        ran.append(service)
        await asyncio.sleep(0.05)  # rivals arrive while it runs
        return f"deployed {service}"

    return create_deep_agent(
        model=ScriptedModel([ToolCall(name="deploy", args={"service": "api"}), "Done."]),
        tools=[deploy],
        checkpointer=store,
        interrupt_on={"deploy": True},
        general_purpose_agent=False,
    )


async def test_five_concurrent_accepts_run_the_tool_once(store: Any) -> None:
    ran: list[str] = []
    agent = deploy_agent(store, ran)
    paused = await agent.ahandle_message("Deploy the api.", thread_id="t")
    assert paused.interrupt is not None and ran == []

    outcomes = await asyncio.gather(
        *(agent.aresume_with_approval(HitlAction.accept(), thread_id="t") for _ in range(5)),
        return_exceptions=True,
    )
    assert ran == ["api"]
    finished = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(finished) == 1 and finished[0].text == "Done."
    assert len(refused) == 4 and all(isinstance(e, HitlError) for e in refused)
    state = await agent.aget_state("t")
    assert [d.action for d in decisions(state)] == ["accept"]
    assert [m.content for m in state.messages if m.role == "tool"] == ["deployed api"]


async def test_a_reject_racing_an_accept_agrees_with_what_ran(store: Any) -> None:
    ran: list[str] = []
    agent = deploy_agent(store, ran)
    await agent.ahandle_message("Deploy the api.", thread_id="t")
    outcomes = await asyncio.gather(
        agent.aresume_with_approval(HitlAction.reject("no"), thread_id="t"),
        agent.aresume_with_approval(HitlAction.accept(), thread_id="t"),
        return_exceptions=True,
    )
    assert sum(isinstance(o, HitlError) for o in outcomes) == 1
    state = await agent.aget_state("t")
    (decision,) = decisions(state)
    tool_result = next(m for m in state.messages if m.role == "tool")
    if decision.action == "accept":
        assert ran == ["api"] and tool_result.content == "deployed api"
    else:
        assert ran == [] and "rejected" in tool_result.content


async def test_a_repeated_resume_is_refused_after_the_first_finished() -> None:
    ran: list[str] = []
    agent = deploy_agent(None, ran)
    await agent.ahandle_message("Deploy the api.", thread_id="t")
    await agent.aresume_with_approval(HitlAction.accept(), thread_id="t")
    with pytest.raises(HitlError, match="no pending interrupt"):
        await agent.aresume_with_approval(HitlAction.accept(), thread_id="t")
    assert ran == ["api"]


async def test_a_resume_while_another_runs_the_call_is_refused() -> None:
    ran: list[str] = []
    agent = deploy_agent(None, ran)
    await agent.ahandle_message("Deploy the api.", thread_id="t")
    first = asyncio.ensure_future(agent.aresume_with_approval(HitlAction.accept(), thread_id="t"))
    while not ran:  # the first resume has claimed the call and is running it
        await asyncio.sleep(0.001)
    assert await agent.acurrent_interrupt("t") is None  # nothing waits for a human now
    with pytest.raises(InterruptClaimedError, match="being run by another resume"):
        await agent.aresume_with_approval(HitlAction.reject(), thread_id="t")
    assert (await first).text == "Done." and ran == ["api"]


# ----- two processes ---------------------------------------------------------------------


def _worker(store: str, workdir: Path, action: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return subprocess.Popen(
        [sys.executable, str(WORKER), store, str(workdir), action],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out.strip()


def _race_two_processes(store: str, workdir: Path, actions: tuple[str, str]) -> list[str]:
    assert _finish(_worker(store, workdir, "pause")) == "paused"
    rivals = [_worker(store, workdir, action) for action in actions]
    (workdir / "go").touch()
    return sorted(_finish(p) for p in rivals)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
@pytest.mark.parametrize("actions", [("accept", "accept"), ("accept", "reject")])
def test_two_processes_resuming_at_once_decide_once(
    backend: str, actions: tuple[str, str], tmp_path: Path
) -> None:
    if backend == "sqlite":
        store = str(tmp_path / "threads.db")
    else:
        store = f"{postgres_dsn()}#{unique_name('race')}"
    try:
        outcomes = _race_two_processes(store, tmp_path, actions)
        assert outcomes[0].startswith("refused: ") and outcomes[1] == "resumed"
        ran_file = tmp_path / "ran"
        ran = ran_file.read_text().splitlines() if ran_file.exists() else []
        state = asyncio.run(_stored_state(store))
        (decision,) = decisions(state)
        assert ran == (["deploy api"] if decision.action == "accept" else [])
        if actions == ("accept", "accept"):
            assert ran == ["deploy api"]
    finally:
        if backend == "postgres":
            asyncio.run(_drop(store))


async def _stored_state(spec: str) -> Any:
    sys.path.insert(0, str(WORKER.parent))
    from exactly_once_worker import store_for

    store = store_for(spec)
    try:
        checkpoint = await store.load("t")
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            await close()
    assert checkpoint is not None
    return checkpoint.state


async def _drop(spec: str) -> None:
    from checkpointer_backends import drop_postgres_tables

    dsn, _, table = spec.partition("#")
    await drop_postgres_tables(dsn, table)
