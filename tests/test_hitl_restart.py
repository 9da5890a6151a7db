"""An approval survives the process: pause in one Python process, resume in another."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

AGENT = """
from deepagents_nb import HitlAction, SqliteCheckpointer, ToolCall, create_deep_agent, tool
from deepagents_nb.models.testing import FunctionModel

@tool
def transfer(amount: int) -> str:
    \"\"\"Move money.\"\"\"
    open(MARK, "a").write(f"transferred {amount}\\n")
    return f"transferred {amount}"

def model(request):
    last = request.messages[-1]
    if last.role == "user":
        return ToolCall(name="transfer", args={"amount": 50})
    return f"Result: {last.content}"

agent = create_deep_agent(
    model=FunctionModel(model), tools=[transfer], checkpointer=SqliteCheckpointer(DB),
    interrupt_on={"transfer": True},
)
"""


def run(tmp: Path, body: str) -> str:
    code = f"DB = {str(tmp / 'threads.db')!r}\nMARK = {str(tmp / 'mark.txt')!r}\n"
    code += textwrap.dedent(AGENT) + textwrap.dedent(body)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_pause_in_one_process_and_resume_in_another(tmp_path: Path) -> None:
    first = run(tmp_path, 'print(agent.handle_message("pay", thread_id="t").interrupt.tool_name)')
    assert first == "transfer"
    assert not (tmp_path / "mark.txt").exists()  # nothing ran before the decision

    second = run(
        tmp_path,
        """
        print(agent.current_interrupt("t").tool_args)
        print(agent.resume_with_approval(HitlAction.accept(), thread_id="t").text)
        """,
    )
    assert second.splitlines() == ["{'amount': 50}", "Result: transferred 50"]
    assert (tmp_path / "mark.txt").read_text() == "transferred 50\n"
