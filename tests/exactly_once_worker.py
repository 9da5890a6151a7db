"""A separate process for the exactly-once tests: one agent on a shared store.

    python exactly_once_worker.py STORE WORKDIR ACTION

STORE is a SQLite path or a PostgreSQL DSN (with `?table=` appended after `#`).
ACTION:
- `pause`: start the thread "t" up to the approval of `deploy`.
- `accept` / `reject`: wait for WORKDIR/go, then resume "t" with that decision.
- `run-side-effect`: a new message whose `send` call (a side-effecting tool) hangs.
- `run-plain`: a new message whose `lookup` call (an ordinary tool) hangs.
Every run of a tool appends a line to WORKDIR/ran; the outcome goes to stdout.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from deepagents_nb import HitlAction, HitlError, ToolCall, create_deep_agent, tool
from deepagents_nb.models.testing import ScriptedModel


def store_for(spec: str) -> Any:
    if spec.startswith("postgresql://"):
        from deepagents_nb.persistence.postgres import PostgresCheckpointer

        dsn, _, table = spec.partition("#")
        return PostgresCheckpointer(dsn, table=table)
    from deepagents_nb import SqliteCheckpointer

    return SqliteCheckpointer(spec)


def agent_for(store: Any, workdir: Path, script: list[object]) -> Any:
    ran = workdir / "ran"

    @tool
    async def deploy(service: str) -> str:
        """Deploy a service."""
        with ran.open("a") as f:
            f.write(f"deploy {service}\n")
        await asyncio.sleep(0.3)  # long enough for a rival resume to try
        return f"deployed {service}"

    @tool(side_effects=True)
    async def send(to: str) -> str:
        """Send a message."""
        with ran.open("a") as f:
            f.write(f"send {to}\n")
        await asyncio.sleep(600)  # killed here
        return "sent"

    @tool
    async def lookup(key: str) -> str:
        """Look a key up."""
        with ran.open("a") as f:
            f.write(f"lookup {key}\n")
        await asyncio.sleep(600)  # killed here
        return key

    return create_deep_agent(
        model=ScriptedModel(script),  # type: ignore[arg-type]
        tools=[deploy, send, lookup],
        checkpointer=store,
        interrupt_on={"deploy": True},
        general_purpose_agent=False,
    )


async def main(spec: str, workdir: Path, action: str) -> None:
    store = store_for(spec)
    if action == "pause":
        agent = agent_for(store, workdir, [ToolCall(name="deploy", args={"service": "api"})])
        result = await agent.ahandle_message("Deploy the api.", thread_id="t")
        print("paused" if result.interrupt else "not paused")
    elif action in ("accept", "reject"):
        agent = agent_for(store, workdir, ["Done."])
        while not (workdir / "go").exists():
            await asyncio.sleep(0.005)
        decision = HitlAction.accept() if action == "accept" else HitlAction.reject("no")
        try:
            await agent.aresume_with_approval(decision, thread_id="t")
            print("resumed")
        except HitlError as exc:
            print(f"refused: {type(exc).__name__}")
    else:
        call = (
            ToolCall(name="send", args={"to": "bob"})
            if action == "run-side-effect"
            else ToolCall(name="lookup", args={"key": "k"})
        )
        agent = agent_for(store, workdir, [call, "Done."])
        await agent.ahandle_message("Go.", thread_id="t")
    close = getattr(store, "close", None)
    if close is not None:
        await close()


if __name__ == "__main__":
    started = time.monotonic()
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))
