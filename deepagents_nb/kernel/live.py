"""`LiveKernel`: the agent's Python in the notebook's own namespace (`get_ipython().user_ns`).

A cell is compiled and run here rather than through `run_cell`, so that only
its own output is captured (stdout, stderr, displays, the last expression's
value, figures it drew) and the user's cell counter, `Out` history and
post-run hooks stay as they were. IPython syntax (`%magic`, `!cmd`) still
works: the code goes through the shell's input transformers first.

It runs in a worker thread so a timeout can interrupt it: a `KeyboardInterrupt`
raised in that thread stops Python code, though not a call blocked in C.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import ctypes
import hashlib
import inspect
import itertools
import linecache
import threading
import traceback
from typing import Any

from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.kernel._loop import on_kernel_loop
from deepagents_nb.kernel.base import DEFAULT_TIMEOUT
from deepagents_nb.kernel.outputs import (
    MAX_OUTPUT_CHARS,
    CellResult,
    OutputCollector,
    frame_text,
)

INTERRUPT_GRACE = 3.0
"""Seconds a timed-out cell gets to stop after the interrupt."""
_cells = itertools.count(1)


def current_shell() -> Any:
    """The running IPython shell, or a `ConfigurationError` outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a core dependency
        shell = None
    else:
        shell = get_ipython()
    if shell is None:
        raise ConfigurationError(
            'python="live" runs code in the notebook\'s own IPython namespace, and this '
            'process is not running IPython; use python="isolated" in scripts and tests'
        )
    return shell


class _Writer:
    """A file-like stdout/stderr that hands what is written to the collector."""

    def __init__(self, collector: OutputCollector, name: str) -> None:
        self._collector = collector
        self._name = name

    def write(self, text: str) -> int:
        self._collector.stream(self._name, text)
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


class _Publisher:
    """Stands in for the shell's display publisher while a cell runs."""

    def __init__(self, collector: OutputCollector, seen: set[bytes]) -> None:
        self._collector = collector
        self._seen = seen
        self.is_publishing = False

    def publish(self, data: dict[str, Any], metadata: Any = None, *args: Any, **kw: Any) -> None:
        for media_type in ("image/png", "image/jpeg"):
            payload = data.get(media_type)
            if isinstance(payload, bytes):
                self._seen.add(hashlib.blake2b(payload, digest_size=16).digest())
        self._collector.display(data)

    def clear_output(self, wait: bool = False) -> None:
        self._collector.clear()


class LiveKernel:
    """Runs cells in the notebook's namespace: what they define, the user sees.

    Args:
        shell: The IPython shell (the running one by default).
        max_output_chars: Text longer than this is cut, keeping its start and end.

    Raises:
        ConfigurationError: no shell was given and this process is not running IPython.
    """

    def __init__(self, shell: Any = None, *, max_output_chars: int = MAX_OUTPUT_CHARS) -> None:
        self.shell = shell if shell is not None else current_shell()
        self.max_output_chars = max_output_chars
        self._lock = asyncio.Lock()
        self._stuck: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"LiveKernel(shell={type(self.shell).__name__})"

    async def execute(self, code: str, timeout: float = DEFAULT_TIMEOUT) -> CellResult:
        """Run `code` in the user's namespace; never raises for what the code does."""
        return await on_kernel_loop(self._locked_execute(code, timeout))

    async def shutdown(self) -> None:
        """Nothing to stop: the namespace is the user's and stays as it is."""
        return None

    async def _locked_execute(self, code: str, timeout: float) -> CellResult:
        async with self._lock:
            if self._stuck is not None and self._stuck.is_alive():
                collector = OutputCollector(self.max_output_chars)
                return collector.result(
                    timed_out=True,
                    status="An earlier cell that timed out is still running in the notebook "
                    "(it could not be interrupted); ask the user to interrupt the kernel.",
                )
            self._stuck = None
            collector = OutputCollector(self.max_output_chars)
            loop = asyncio.get_running_loop()
            done: asyncio.Future[None] = loop.create_future()

            def finished() -> None:
                if not done.done():
                    done.set_result(None)

            def work() -> None:
                try:
                    self._run(code, collector)
                finally:
                    loop.call_soon_threadsafe(finished)

            thread = threading.Thread(target=work, name="deepagents-nb-live-cell", daemon=True)
            thread.start()
            try:
                await asyncio.wait_for(asyncio.shield(done), timeout)
                return collector.result()
            except asyncio.TimeoutError:
                pass
            _interrupt(thread)
            try:
                await asyncio.wait_for(asyncio.shield(done), INTERRUPT_GRACE)
            except asyncio.TimeoutError:
                self._stuck = thread
                return collector.result(
                    timed_out=True,
                    status=f"Timed out after {timeout:g} s, and the cell did not stop when "
                    f"interrupted (it is blocked outside Python); it may still change the "
                    f"namespace.",
                )
            collector.error = None  # the KeyboardInterrupt we raised says nothing new
            return collector.result(
                timed_out=True,
                status=f"Timed out after {timeout:g} s: the cell was interrupted; what it "
                f"did before stays in the namespace.",
            )

    # ----- in the worker thread ------------------------------------------------------------

    def _run(self, code: str, collector: OutputCollector) -> None:
        shell = self.shell
        filename = f"<agent cell {next(_cells)}>"
        try:
            source = shell.transform_cell(code)
        except Exception:
            source = code  # leave it to the compiler to say what is wrong
        try:
            body, last = _split(source, filename)
        except SyntaxError as exc:
            lines = traceback.format_exception_only(type(exc), exc)
            collector.fail("SyntaxError", str(exc.msg), "".join(lines))
            return
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace = shell.user_ns
        seen: set[bytes] = set()
        before = _figures()
        saved_publisher = shell.display_pub
        shell.display_pub = _Publisher(collector, seen)
        try:
            with (
                contextlib.redirect_stdout(_Writer(collector, "stdout")),
                contextlib.redirect_stderr(_Writer(collector, "stderr")),
            ):
                _evaluate(body, namespace)
                if last is not None:
                    value = _evaluate(last, namespace)
                    if value is not None:
                        self._show_value(value, collector)
        except BaseException as exc:
            tb = exc.__traceback__
            # Drop this module's frames: the model needs the cell's lines only.
            while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
                tb = tb.tb_next
            lines = traceback.format_exception(type(exc), exc, tb)
            collector.fail(type(exc).__name__, str(exc), "".join(lines))
        finally:
            shell.display_pub = saved_publisher
            _capture_figures(before, seen, collector)

    def _show_value(self, value: Any, collector: OutputCollector) -> None:
        text = frame_text(value)
        if text is not None:
            collector.display({"text/plain": text}, result=True)
            return
        data, _ = self.shell.display_formatter.format(value)
        collector.display(data, result=True)


def _split(source: str, filename: str) -> tuple[Any, Any]:
    """The cell compiled as its statements and, when it ends in an expression, that expression."""
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    tree = ast.parse(source, filename=filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        expr = ast.Expression(tree.body.pop().value)  # type: ignore[attr-defined]
        last = compile(expr, filename, "eval", flags=flags)
    return compile(tree, filename, "exec", flags=flags), last


def _evaluate(code: Any, namespace: dict[str, Any]) -> Any:
    value = eval(code, namespace)
    if inspect.CO_COROUTINE & code.co_flags:  # top-level await: run it on this thread's loop
        value = asyncio.run(value)
    return value


def _interrupt(thread: threading.Thread) -> None:
    """Raise KeyboardInterrupt in `thread` at its next bytecode (as Ctrl-C does on the main one)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
        )


def _figures() -> dict[int, tuple[Any, bool]]:
    """The open matplotlib figures by number, with whether each awaits a redraw."""
    import sys

    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if helpers is None:  # the cell never imported pyplot: nothing to look at
        return {}
    figures = (m.canvas.figure for m in helpers.Gcf.get_all_fig_managers())
    return {fig.number: (fig, bool(getattr(fig, "stale", False))) for fig in figures}


def _capture_figures(
    before: dict[int, tuple[Any, bool]], seen: set[bytes], collector: OutputCollector
) -> None:
    """Figures the cell made or changed, as PNG images (those it displayed itself excepted).

    The figures stay open, so the notebook's inline backend still shows them to the user.
    """
    figures = []
    for num, (fig, stale) in _figures().items():
        old = before.get(num)
        if old is None or old[0] is not fig or (stale and not old[1]):
            figures.append(fig)
    if not figures:
        return
    from IPython.core.pylabtools import print_figure

    for fig in figures:
        try:
            png = print_figure(fig, "png")  # type: ignore[no-untyped-call]
        except Exception as exc:
            collector.notes.append(f"a figure could not be drawn: {type(exc).__name__}: {exc}")
            continue
        if png and hashlib.blake2b(png, digest_size=16).digest() not in seen:
            collector.display({"image/png": png})
