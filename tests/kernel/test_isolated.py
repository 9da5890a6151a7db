"""IsolatedKernel against real ipykernel processes: outputs, errors, timeouts, deaths."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from helpers import process_gone

from deepagents_nb.kernel import IsolatedKernel

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def test_a_matplotlib_figure_comes_back_as_png_bytes(kernel: IsolatedKernel) -> None:
    result = await kernel.execute(
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots()\n"
        "ax.hist([1, 2, 2, 3, 3, 3])\n"
        "print('plotted')"
    )

    assert not result.is_error, result.text
    assert len(result.images) == 1
    image = result.images[0]
    assert image.media_type == "image/png" and image.data.startswith(PNG_SIGNATURE)
    assert len(image.data) > 1000
    assert result.text == f"plotted\n{image.placeholder()}"
    assert image.placeholder().startswith("[image/png ") and image.placeholder().endswith(
        " KB: image 1]"
    )


async def test_values_state_and_dataframes(kernel: IsolatedKernel) -> None:
    await kernel.execute("import pandas as pd\nsales = pd.DataFrame({'n': range(500)})")

    result = await kernel.execute("sales.assign(double=sales.n * 2)")

    assert result.text.startswith("Out: DataFrame: 500 rows \u00d7 2 columns\n")
    assert "499" in result.text and len(result.text.splitlines()) < 30


async def test_an_exception_is_an_error_result_and_earlier_state_survives(
    kernel: IsolatedKernel,
) -> None:
    result = await kernel.execute("kept = 7\nprint('before')\n{}['missing']")

    assert result.is_error and result.error is not None
    assert result.error.name == "KeyError" and result.error.message == "'missing'"
    assert result.text.startswith("before\n")
    assert "----> 3 {}['missing']" in result.text and "\x1b" not in result.text
    assert result.text.endswith("KeyError: 'missing'")
    assert (await kernel.execute("kept")).text == "Out: 7"


async def test_code_that_does_not_compile_returns_the_syntax_error(
    kernel: IsolatedKernel,
) -> None:
    result = await kernel.execute("def broken(:\n    return 1")

    assert result.is_error and result.error is not None
    assert result.error.name == "SyntaxError"
    assert "def broken(:" in result.text and "^" in result.text


async def test_huge_output_is_cut_with_a_note(kernel: IsolatedKernel) -> None:
    result = await kernel.execute("print('\\n'.join(map(str, range(200_000))))")

    assert len(result.text) < kernel.max_output_chars + 200
    assert result.text.startswith("0\n1\n2\n") and result.text.endswith("199999")
    assert "characters cut]" in result.text


async def test_binary_outputs_other_than_images_are_named_and_skipped(
    kernel: IsolatedKernel,
) -> None:
    result = await kernel.execute(
        "from IPython.display import display\n"
        "display({'application/pdf': 'JVBERi0xLjQ='}, raw=True)\n"
        "print('after')"
    )

    assert result.skipped == ("application/pdf",)
    assert "after" in result.text and "application/pdf" in result.text


async def test_a_timeout_interrupts_the_cell_and_the_kernel_is_reused(
    kernel: IsolatedKernel,
) -> None:
    await kernel.execute("survivor = 'still here'")
    pid = kernel.pid
    started = time.monotonic()

    result = await kernel.execute("while True:\n    pass", timeout=2)

    assert 2 <= time.monotonic() - started < 5
    assert result.timed_out and result.is_error and not result.kernel_lost
    assert result.text.startswith("Timed out after 2 s")
    after = await kernel.execute("print(survivor)")
    assert after.text == "still here" and kernel.pid == pid


async def test_mounted_variables_are_copies_sent_again_only_when_changed(
    kernel: IsolatedKernel,
) -> None:
    import pandas as pd

    frame = pd.DataFrame({"city": ["Oslo", "Lima"], "temp": [4.5, 19.0]})

    assert await kernel.set_variables({"weather": frame}) == []
    result = await kernel.execute("weather['temp'] = weather.temp * 2\nfloat(weather.temp.sum())")
    assert result.text == "Out: 47.0"
    assert frame.temp.sum() == 23.5  # the caller's object is untouched: the kernel has a copy

    await kernel.set_variables({"weather": frame})  # unchanged: the kernel keeps its edit
    assert (await kernel.execute("float(weather.temp.sum())")).text == "Out: 47.0"
    frame.loc[0, "temp"] = 0.0
    await kernel.set_variables({"weather": frame})  # changed: copied again
    assert (await kernel.execute("float(weather.temp.sum())")).text == "Out: 19.0"


async def test_a_variable_that_cannot_be_copied_is_named_and_others_still_arrive(
    kernel: IsolatedKernel,
) -> None:
    notes = await kernel.set_variables({"fine": [1, 2], "handler": lambda: None})

    assert len(notes) == 1 and notes[0].startswith("handler is not copied into the kernel")
    assert (await kernel.execute("fine")).text == "Out: [1, 2]"


async def test_a_kernel_that_dies_is_an_error_and_the_next_call_gets_a_fresh_one() -> None:
    kernel = IsolatedKernel()
    try:
        await kernel.execute("x = 1")
        old_pid = kernel.pid
        assert old_pid is not None

        result = await kernel.execute("import os\nprint('bye', flush=True)\nos._exit(1)")

        assert result.is_error and result.kernel_lost and not kernel.running
        assert "The Python kernel died while running this cell (exit code 1)" in result.text
        assert process_gone(old_pid)
        again = await kernel.execute("print(1 + 1)\n'x' in dir()")
        assert again.text == "2\nOut: False" and kernel.pid not in (None, old_pid)
    finally:
        await kernel.shutdown()


async def test_a_cell_that_ignores_the_interrupt_gets_its_kernel_restarted() -> None:
    kernel = IsolatedKernel(interrupt_grace=0.5)
    try:
        await kernel.execute("stubborn = True")
        old_pid = kernel.pid
        assert old_pid is not None

        result = await kernel.execute(
            "while stubborn:\n    try:\n        while True:\n            pass\n"
            "    except KeyboardInterrupt:\n        pass",
            timeout=1,
        )

        assert result.timed_out and result.kernel_lost
        assert "did not stop when interrupted" in result.text
        assert process_gone(old_pid)
        assert (await kernel.execute("21 * 2")).text == "Out: 42"
    finally:
        await kernel.shutdown()


async def test_shutdown_stops_the_process_and_is_safe_twice() -> None:
    kernel = IsolatedKernel()
    await kernel.execute("1")
    pid = kernel.pid
    assert pid is not None

    await kernel.shutdown()
    await kernel.shutdown()

    assert not kernel.running and kernel.pid is None and process_gone(pid)


def test_no_kernel_outlives_the_interpreter_that_started_it() -> None:
    script = textwrap.dedent(
        """
        import asyncio
        from deepagents_nb.kernel import IsolatedKernel
        kernel = IsolatedKernel()
        asyncio.run(kernel.execute("1"))
        print(kernel.pid, flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    pid = int(done.stdout.strip())

    assert process_gone(pid)


def test_importing_the_kernel_package_loads_no_kernel_library() -> None:
    script = (
        "import sys, deepagents_nb, deepagents_nb.kernel\n"
        "heavy = [m for m in ('jupyter_client', 'zmq', 'IPython', 'matplotlib', 'ipykernel')"
        " if m in sys.modules]\n"
        "print(heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("code", ["", "   \n"])
async def test_an_empty_cell_says_there_was_no_output(kernel: IsolatedKernel, code: str) -> None:
    assert (await kernel.execute(code)).text == "(no output)"
