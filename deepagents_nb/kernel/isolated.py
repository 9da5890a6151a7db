"""`IsolatedKernel`: the agent's Python in its own ipykernel process (jupyter_client).

The process starts on the first cell, listens on Unix sockets in a private
temporary directory (TCP on Windows), and is stopped by `shutdown()`, by a
death or timeout that an interrupt cannot end (a fresh one starts on the next
cell), and at interpreter exit. ipykernel also exits by itself when this
process dies (it watches its parent), so no kernel outlives its agent.

All kernel I/O runs on deepagents-nb's private event loop, whichever loop the
caller is on: jupyter_client's sockets belong to the loop that made them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import os
import pickle
import queue
import shutil
import sys
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Literal

from deepagents_nb.exceptions import MissingDependencyError
from deepagents_nb.kernel._loop import on_kernel_loop
from deepagents_nb.kernel.base import DEFAULT_TIMEOUT, KernelUnavailableError
from deepagents_nb.kernel.outputs import MAX_OUTPUT_CHARS, CellResult, OutputCollector

Outcome = Literal["idle", "timeout", "died"]

INTERRUPT_GRACE = 3.0
"""Seconds a timed-out cell gets to stop after SIGINT before the kernel is restarted."""
_POLL = 0.25  # how often a silent kernel is checked for being alive

# Run once in each new kernel: DataFrames print as their shape plus a compact table
# (registered by name, so pandas is not imported until the agent imports it).
_SETUP = """
def _deepagents_nb_setup():
    def frame(obj, p, cycle):
        try:
            rows, cols = obj.shape
            table = obj.to_string(max_rows=20, max_cols=20, max_colwidth=40)
            p.text(f"DataFrame: {rows} rows \\u00d7 {cols} columns\\n{table}")
        except Exception:
            p.text(repr(obj))
    plain = get_ipython().display_formatter.formatters["text/plain"]
    for module in ("pandas", "pandas.core.frame"):  # pandas 3 says "pandas", pandas 2 the other
        plain.for_type_by_name(module, "DataFrame", frame)
_deepagents_nb_setup()
del _deepagents_nb_setup
"""

# Loads mounted variables from a pickle file written by `set_variables`, one by one,
# so one object that cannot be unpickled there does not keep the others out.
_LOAD = """
def _deepagents_nb_load(path):
    import os, pickle
    with open(path, "rb") as f:
        blobs = pickle.load(f)
    os.remove(path)
    failed = []
    for name, blob in blobs.items():
        try:
            get_ipython().user_ns[name] = pickle.loads(blob)
        except Exception as exc:
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
    if failed:
        print("not copied into the kernel: " + "; ".join(failed))
_deepagents_nb_load(PATH)
del _deepagents_nb_load
"""

_RUNNING: weakref.WeakSet[IsolatedKernel] = weakref.WeakSet()


@atexit.register
def _kill_all() -> None:
    # At exit no event loop can be relied on: kill the processes directly.
    for kernel in list(_RUNNING):
        kernel.kill_now()


def _spec_manager() -> Any:
    """A kernel spec manager whose only kernel is ipykernel on this very Python."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class _ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            # The installed "python3" spec says `python`, which may be another interpreter.
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="deepagents-nb",
                language="python",
                interrupt_mode="signal" if os.name != "nt" else "message",
            )

    return _ThisPython()


class IsolatedKernel:
    """A separate ipykernel process; variables persist between cells until it stops.

    Args:
        max_output_chars: Text longer than this is cut, keeping its start and end.
        startup_timeout: Seconds to wait for a new kernel to answer.
        cwd: The kernel's working directory (this process's by default).
        interrupt_grace: Seconds a timed-out cell gets to stop after the interrupt
            before the kernel is restarted.
    """

    def __init__(
        self,
        *,
        max_output_chars: int = MAX_OUTPUT_CHARS,
        startup_timeout: float = 60.0,
        cwd: str | os.PathLike[str] | None = None,
        interrupt_grace: float = INTERRUPT_GRACE,
    ) -> None:
        self.max_output_chars = max_output_chars
        self.startup_timeout = startup_timeout
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.interrupt_grace = interrupt_grace
        self._km: Any = None
        self._client: Any = None
        self._dir: Path | None = None
        self._log: IO[bytes] | None = None
        self._lock = asyncio.Lock()
        self._sent: dict[str, bytes] = {}  # mounted name -> digest of the copy in the kernel

    def __repr__(self) -> str:
        return f"IsolatedKernel(running={self.running}, pid={self.pid})"

    @property
    def running(self) -> bool:
        """Whether a kernel process is started (it starts on the first cell)."""
        return self._client is not None

    @property
    def pid(self) -> int | None:
        """The kernel process's id, while one runs."""
        process = getattr(getattr(self._km, "provisioner", None), "process", None)
        return getattr(process, "pid", None)

    # ----- the Kernel protocol -------------------------------------------------------------

    async def execute(self, code: str, timeout: float = DEFAULT_TIMEOUT) -> CellResult:
        """Run `code` in the kernel (starting it if needed); never raises for what it does."""
        return await on_kernel_loop(self._locked_execute(code, timeout))

    async def shutdown(self) -> None:
        """Stop the kernel process and remove its sockets; a later cell starts a new one."""
        await on_kernel_loop(self._locked_shutdown())

    async def set_variables(self, objects: Mapping[str, Any]) -> list[str]:
        """Copy `objects` into the kernel by name, those changed since the last copy only.

        Returns notes for the model on what could not be copied.
        """
        return await on_kernel_loop(self._locked_set_variables(dict(objects)))

    def kill_now(self) -> None:
        """Kill the process at once, without an event loop (interpreter exit)."""
        process = getattr(getattr(self._km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                process.kill()
        self._forget_resources()

    # ----- running cells -------------------------------------------------------------------

    async def _locked_execute(self, code: str, timeout: float) -> CellResult:
        async with self._lock:
            await self._ensure_started()
            return await self._run(code, timeout)

    async def _run(self, code: str, timeout: float, *, store_history: bool = True) -> CellResult:
        collector = OutputCollector(self.max_output_chars)
        msg_id = self._client.execute(
            code, store_history=store_history, allow_stdin=False, stop_on_error=False
        )
        outcome = await self._collect(msg_id, collector, timeout)
        if outcome == "idle":
            await self._drain_reply(msg_id)
            return collector.result()
        if outcome == "died":
            code_ = await self._exit_code()
            await self._discard()
            return collector.result(
                kernel_lost=True,
                status=(
                    f"The Python kernel died while running this cell (exit code {code_}). "
                    f"A fresh kernel starts on the next call; variables defined so far are "
                    f"gone (mounted variables are copied in again)."
                ),
            )
        limit = f"{timeout:g} s"
        await self._km.interrupt_kernel()
        if await self._collect(msg_id, collector, self.interrupt_grace) == "idle":
            await self._drain_reply(msg_id)
            collector.error = None  # the KeyboardInterrupt we caused says nothing new
            return collector.result(
                timed_out=True,
                status=f"Timed out after {limit}: the cell was interrupted; the kernel and "
                f"its variables are kept.",
            )
        await self._discard()
        return collector.result(
            timed_out=True,
            kernel_lost=True,
            status=f"Timed out after {limit}, and the cell did not stop when interrupted, so "
            f"the kernel was stopped: a fresh one starts on the next call, without the "
            f"variables defined so far.",
        )

    async def _collect(self, msg_id: str, collector: OutputCollector, timeout: float) -> Outcome:
        """Feed the cell's IOPub messages to `collector` until the kernel is idle again."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return "timeout"
            try:
                msg = await self._client.get_iopub_msg(timeout=min(remaining, _POLL))
            except queue.Empty:
                if not await self._km.is_alive():
                    return "died"
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue  # late output of an earlier, interrupted cell
            content = msg.get("content", {})
            if msg["msg_type"] == "status":
                if content.get("execution_state") == "idle":
                    return "idle"
            else:
                collector.message(msg["msg_type"], content)

    async def _drain_reply(self, msg_id: str) -> None:
        # The execute_reply precedes the idle status; reading it keeps the shell queue empty.
        with contextlib.suppress(queue.Empty):
            while True:
                reply = await self._client.get_shell_msg(timeout=1.0)
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    return

    async def _exit_code(self) -> int | None:
        process = getattr(getattr(self._km, "provisioner", None), "process", None)
        return None if process is None else process.poll()

    # ----- mounted variables ---------------------------------------------------------------

    async def _locked_set_variables(self, objects: dict[str, Any]) -> list[str]:
        notes: list[str] = []
        blobs: dict[str, bytes] = {}
        for name, obj in objects.items():
            try:
                blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                notes.append(f"{name} is not copied into the kernel: {type(exc).__name__}: {exc}")
                continue
            digest = hashlib.blake2b(blob, digest_size=16).digest()
            if self._sent.get(name) != digest:
                blobs[name] = blob
                self._sent[name] = digest
        for name in set(self._sent) - set(objects):
            del self._sent[name]  # unmounted: a later mount under this name is sent again
        if not blobs:
            return notes
        async with self._lock:
            await self._ensure_started()
            assert self._dir is not None
            path = self._dir / "mounts.pickle"
            path.write_bytes(pickle.dumps(blobs, protocol=pickle.HIGHEST_PROTOCOL))
            result = await self._run(
                _LOAD.replace("PATH", repr(str(path))), DEFAULT_TIMEOUT, store_history=False
            )
        if result.text != "(no output)":
            notes.append(result.text)
        if result.is_error:
            self._sent.clear()
        return notes

    # ----- the process ---------------------------------------------------------------------

    async def _ensure_started(self) -> None:
        if self._client is not None:
            return
        try:
            from jupyter_client.manager import AsyncKernelManager
        except ImportError as exc:
            raise MissingDependencyError("run_python in an isolated kernel", "kernel") from exc
        self._sent.clear()
        self._dir = Path(tempfile.mkdtemp(prefix="deepagents-kernel-"))
        options: dict[str, Any] = {"transport": "tcp", "ip": "127.0.0.1"}
        if os.name != "nt":
            # Unix sockets: nothing listens on a port, and ipykernel has no TCP warning to print.
            options = {"transport": "ipc", "ip": str(self._dir / "k")}
        km = AsyncKernelManager(
            kernel_spec_manager=_spec_manager(), kernel_name="python3", **options
        )
        km.connection_file = str(self._dir / "connection.json")
        self._km = km
        self._log = (self._dir / "kernel.log").open("wb")
        env = {
            **os.environ,
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        }
        _RUNNING.add(self)
        try:
            await km.start_kernel(stdout=self._log, stderr=self._log, env=env, cwd=self.cwd)
            client = km.client()
            client.start_channels()
            self._client = client
            await client.wait_for_ready(timeout=self.startup_timeout)
        except Exception as exc:
            log = self._log_tail()
            await self._discard()
            raise KernelUnavailableError(
                f"the isolated Python kernel did not start: {type(exc).__name__}: {exc}"
                + (f"\nkernel log:\n{log}" if log else "")
            ) from exc
        setup = await self._run(_SETUP, DEFAULT_TIMEOUT, store_history=False)
        if setup.is_error:
            raise KernelUnavailableError(f"the isolated kernel's set-up failed: {setup.text}")

    def _log_tail(self, limit: int = 2000) -> str:
        if self._dir is None:
            return ""
        try:
            text = (self._dir / "kernel.log").read_text(errors="replace")
        except OSError:
            return ""
        return text[-limit:].strip()

    async def _locked_shutdown(self) -> None:
        async with self._lock:
            await self._discard(now=False)

    async def _discard(self, *, now: bool = True) -> None:
        """Stop the process (if any is left) and forget it: the next cell starts a new one."""
        km, client = self._km, self._client
        self._client = None
        if client is not None:
            client.stop_channels()
        if km is not None:
            try:
                if km.has_kernel:
                    await km.shutdown_kernel(now=now)
            except Exception:
                self.kill_now()  # the process is ours to stop, whatever jupyter_client says
        self._forget_resources()

    def _forget_resources(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._km = None
        self._client = None
        self._sent.clear()
        _RUNNING.discard(self)
