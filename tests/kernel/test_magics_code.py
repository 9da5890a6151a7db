"""`%agent code` (the Python an agent ran) and `%%agent --attach` (images with a prompt)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from deepagents_nb import Image, create_deep_agent
from deepagents_nb.kernel.history import as_script, code_cells
from deepagents_nb.messages import ToolCall
from deepagents_nb.models.testing import ScriptedModel


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "deepagents_nb")
    yield ip
    for name in ("coder", "fig", "plt", "raw", "text"):
        ip.user_ns.pop(name, None)


def test_agent_code_prints_what_ran_in_order_with_failures_commented(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ScriptedModel(
        [
            ToolCall("run_python", {"code": "total = 40"}, id="a"),
            ToolCall("run_python", {"code": "total +\n"}, id="b"),
            ToolCall("run_python", {"code": "total + 2"}, id="c"),
            "42.",
        ]
    )
    with create_deep_agent(model=model, python="isolated") as agent:
        shell.user_ns["coder"] = agent
        shell.run_cell_magic("agent", "-a coder -t analysis --no-widgets", "Add two.")
        capsys.readouterr()

        shell.run_line_magic("agent", "code -a coder -t analysis")
        printed = capsys.readouterr().out

        shell.run_line_magic("agent", "code -a coder -t elsewhere")
        nothing = capsys.readouterr().out

    assert printed.strip() == (
        "# %% [1]\ntotal = 40\n\n"
        "# %% [2] failed or rejected: kept as a comment\n# total +\n\n"
        "# %% [3]\ntotal + 2"
    )
    assert nothing.strip() == "The agent ran no Python on thread 'elsewhere'."
    # The script runs as it is: the analysis without the agent.
    namespace: dict[str, object] = {}
    exec(printed, namespace)
    assert namespace["total"] == 40


def test_code_cells_skip_calls_without_a_result() -> None:
    from deepagents_nb import Message

    messages = [
        Message.assistant("", [ToolCall("run_python", {"code": "x = 1"}, id="done")]),
        Message.tool("done", "run_python", "(no output)"),
        Message.assistant("", [ToolCall("run_python", {"code": "x = 2"}, id="pending")]),
    ]

    assert [cell.code for cell in code_cells(messages)] == ["x = 1"]
    assert as_script([]) == ""


def test_attach_sends_a_figure_bytes_and_images_with_the_prompt(
    shell: InteractiveShell,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 3, 2])
    png = Image.from_figure(fig)
    plt.close(fig)
    shell.user_ns.update(fig=fig, raw=png.data, text="hello")
    model = ScriptedModel(["Looks fine."])
    shell.user_ns["coder"] = create_deep_agent(model=model)

    shell.run_cell_magic("agent", "-a coder --no-widgets --attach fig,raw", "What is this?")

    sent = model.requests[0].messages[-1]
    assert sent.content == "What is this?"
    assert [image.media_type for image in sent.images] == ["image/png", "image/png"]
    assert sent.images[0].data.startswith(b"\x89PNG") and sent.images[1] == png

    with pytest.raises(UsageError, match="cannot attach text: text is a str"):
        shell.run_cell_magic("agent", "-a coder --no-widgets --attach text", "Hm?")
    with pytest.raises(UsageError, match="cannot attach nope: no such variable"):
        shell.run_cell_magic("agent", "-a coder --no-widgets --attach nope", "Hm?")
