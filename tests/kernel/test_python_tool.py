"""`run_python` in an agent: isolated kernels and the live namespace, end to end."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from helpers import process_gone
from IPython.core.interactiveshell import InteractiveShell

from deepagents_nb import (
    ConfigurableAgentBuilder,
    ConfigurationError,
    HitlAction,
    HitlPolicy,
    InMemoryCheckpointer,
    Message,
    create_deep_agent,
)
from deepagents_nb.kernel import IsolatedKernel, PythonMiddleware
from deepagents_nb.messages import ToolCall
from deepagents_nb.models.testing import ScriptedModel

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOT = (
    "import matplotlib.pyplot as plt\n"
    "fig, ax = plt.subplots()\n"
    "ax.hist([1, 2, 2, 3, 3, 3, 7, 7, 8])\n"
    "print('bins drawn')"
)


def _python(agent: object) -> PythonMiddleware:
    found = [m for m in getattr(agent, "middleware", ()) if isinstance(m, PythonMiddleware)]
    assert len(found) == 1
    return found[0]


def _tool_message(messages: list[Message], call_id: str) -> Message:
    return next(m for m in messages if m.role == "tool" and m.tool_call_id == call_id)


async def test_a_plot_made_in_an_isolated_kernel_reaches_the_next_model_request() -> None:
    model = ScriptedModel([ToolCall("run_python", {"code": PLOT}, id="plot"), "Bimodal."])
    agent = create_deep_agent(model=model, python="isolated")
    try:
        result = await agent.ahandle_message("Plot the values")
    finally:
        await agent.aclose()

    assert result.text == "Bimodal."
    sent = _tool_message(model.requests[1].messages, "plot")
    assert not sent.is_error
    assert sent.content.startswith("bins drawn\n[image/png ")
    assert len(sent.images) == 1
    image = sent.images[0]
    assert image.media_type == "image/png" and image.data.startswith(PNG_SIGNATURE)
    width, height = image.dimensions() or (0, 0)
    assert width > 100 and height > 100


async def test_isolated_state_persists_per_thread_and_mounts_arrive_as_copies() -> None:
    import pandas as pd

    frame = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"], "temp": [4.5, 19.0, 31.0]})
    model = ScriptedModel(
        [
            ToolCall("run_python", {"code": "hot = weather[weather.temp > 10]"}, id="a"),
            "ok",
            ToolCall("run_python", {"code": "len(hot), 'hot' in dir()"}, id="b"),
            "ok",
            ToolCall("run_python", {"code": "'hot' in dir()"}, id="c"),
            "ok",
        ]
    )
    agent = create_deep_agent(model=model, python="isolated")
    agent.mount(weather=frame)
    try:
        await agent.ahandle_message("filter", thread_id="t1")
        second = await agent.ahandle_message("count", thread_id="t1")
        other = await agent.ahandle_message("look", thread_id="t2")
    finally:
        await agent.aclose()

    assert _tool_message(second.messages, "b").content == "Out: (2, True)"
    assert _tool_message(other.messages, "c").content == "Out: False"  # a kernel per thread
    assert len(frame) == 3


async def test_an_exception_is_an_error_result_the_model_reads() -> None:
    model = ScriptedModel([ToolCall("run_python", {"code": "1 / 0"}, id="z"), "Oops."])
    agent = create_deep_agent(model=model, python="isolated")
    try:
        result = await agent.ahandle_message("divide")
    finally:
        await agent.aclose()

    sent = _tool_message(result.messages, "z")
    assert sent.is_error
    assert sent.content.endswith("ZeroDivisionError: division by zero")


async def test_close_and_thread_deletion_stop_the_kernels() -> None:
    model = ScriptedModel(
        [ToolCall("run_python", {"code": "1"}), "a", ToolCall("run_python", {"code": "2"}), "b"]
    )
    agent = create_deep_agent(model=model, python="isolated")
    await agent.ahandle_message("one", thread_id="keep")
    await agent.ahandle_message("two", thread_id="drop")
    python = _python(agent)
    kept, dropped = python.kernel_for("keep"), python.kernel_for("drop")
    assert isinstance(kept, IsolatedKernel) and isinstance(dropped, IsolatedKernel)
    kept_pid, dropped_pid = kept.pid, dropped.pid
    assert kept_pid is not None and dropped_pid is not None

    await agent.adelete_thread("drop")
    assert process_gone(dropped_pid) and kept.running

    await agent.aclose()
    await agent.aclose()
    assert process_gone(kept_pid) and not kept.running


def test_the_sync_context_manager_closes_the_agent() -> None:
    model = ScriptedModel([ToolCall("run_python", {"code": "1"}), "done"])
    with create_deep_agent(model=model, python="isolated") as agent:
        agent.handle_message("go")
        kernel = _python(agent).kernel_for("default")
        assert isinstance(kernel, IsolatedKernel)
        pid = kernel.pid
    assert pid is not None and process_gone(pid)


def test_a_timeout_reaches_the_model_and_the_next_call_works() -> None:
    model = ScriptedModel(
        [
            ToolCall("run_python", {"code": "import time\ntime.sleep(30)"}, id="slow"),
            ToolCall("run_python", {"code": "6 * 7"}, id="next"),
            "done",
        ]
    )
    with create_deep_agent(model=model, python="isolated", python_timeout=1) as agent:
        result = agent.handle_message("wait")

    slow = _tool_message(result.messages, "slow")
    assert slow.is_error and slow.content.startswith("Timed out after 1 s")
    assert _tool_message(result.messages, "next").content == "Out: 42"


def test_both_spellings_and_bad_settings() -> None:
    model = ScriptedModel([])
    built = ConfigurableAgentBuilder().with_model(model).with_python("isolated", timeout=5).build()
    made = create_deep_agent(model=model, python="isolated", python_timeout=5)
    assert repr(_python(built)) == repr(_python(made)) == "PythonMiddleware('isolated', timeout=5)"
    assert "run_python" in built.tools and "run_python" not in create_deep_agent(model).tools
    assert "run_python" not in built.config.interrupt_on  # isolated: no gate by default

    with pytest.raises(ConfigurationError, match='"live" or "isolated"'):
        create_deep_agent(model=model, python="remote")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="python_timeout must be a positive number"):
        create_deep_agent(model=model, python="isolated", python_timeout=0)


def test_live_outside_ipython_is_a_clear_configuration_error() -> None:
    script = textwrap.dedent(
        """
        from deepagents_nb import ConfigurationError, create_deep_agent
        from deepagents_nb.models.testing import ScriptedModel
        try:
            create_deep_agent(model=ScriptedModel([]), python="live")
        except ConfigurationError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "this process is not running IPython" in done.stdout
    assert 'use python="isolated"' in done.stdout


# ----- live mode, through IPython's in-process shell -----------------------------------------


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    yield ip
    for name in ("sales", "summary", "pd"):
        ip.user_ns.pop(name, None)


CREATE = "import pandas as pd\nsummary = pd.DataFrame({'total': [sum(sales)]})\nsummary"


def _live_agent(shell: InteractiveShell, **options: object) -> tuple[object, ScriptedModel]:
    model = ScriptedModel([ToolCall("run_python", {"code": CREATE}, id="live"), "Summarized."])
    agent = create_deep_agent(
        model=model, python="live", checkpointer=InMemoryCheckpointer(), **options
    )
    return agent, model


async def test_live_code_runs_in_the_users_namespace_only_after_approval(
    shell: InteractiveShell,
) -> None:
    shell.user_ns["sales"] = [3, 4, 5]
    agent, _ = _live_agent(shell)

    paused = await agent.ahandle_message("Summarize sales")  # type: ignore[attr-defined]

    assert paused.interrupt is not None and paused.interrupt.tool_name == "run_python"
    assert "summary" not in shell.user_ns
    preview = paused.interrupt.diff or ""
    assert preview.startswith("# assigns: pd, summary\n") and "summary = pd.DataFrame" in preview

    done = await agent.aresume_with_approval(HitlAction.accept())  # type: ignore[attr-defined]

    assert done.text == "Summarized."
    assert int(shell.user_ns["summary"].total[0]) == 12
    sent = _tool_message(done.messages, "live")
    assert sent.content.startswith("Out: DataFrame: 1 rows \u00d7 1 columns")


async def test_a_rejected_live_call_leaves_the_namespace_untouched(
    shell: InteractiveShell,
) -> None:
    shell.user_ns["sales"] = [3, 4, 5]
    agent, _ = _live_agent(shell)
    before = dict(shell.user_ns)

    await agent.ahandle_message("Summarize sales")  # type: ignore[attr-defined]
    done = await agent.aresume_with_approval(  # type: ignore[attr-defined]
        HitlAction.reject("not now")
    )

    assert done.text == "Summarized."
    assert "summary" not in shell.user_ns and "pd" not in shell.user_ns
    assert shell.user_ns.keys() == before.keys()


async def test_the_live_gate_can_be_lifted(shell: InteractiveShell) -> None:
    shell.user_ns["sales"] = [1, 1]
    agent, _ = _live_agent(shell, python_policy=HitlPolicy(allow_auto=True))

    result = await agent.ahandle_message("Summarize sales")  # type: ignore[attr-defined]

    assert result.interrupt is None and int(shell.user_ns["summary"].total[0]) == 2
