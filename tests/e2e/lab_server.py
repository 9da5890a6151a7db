"""A real JupyterLab server for the browser tests: on 127.0.0.1, isolated, always stopped.

The server runs with this interpreter (`python -m jupyterlab`), so its kernels import
the deepagents-nb under test. Everything it writes (settings, workspaces, runtime
files, the notebooks it serves) lives in a temporary directory: no user settings
leak in and the repository's notebooks are never touched.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VENDOR_KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")

# User settings for a quiet, predictable JupyterLab: no news toast, no update check,
# and every cell kept in the DOM (windowing would detach the outputs out of view).
LAB_SETTINGS: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def prepare_notebook(source: Path, destination: Path) -> Path:
    """Copy a notebook without its outputs, so the page shows only this run's."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    notebook.get("metadata", {}).pop("widgets", None)  # saved widget state of the last run
    destination.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return destination


@dataclass
class LabServer:
    """A running `jupyter lab` process and how to reach it."""

    process: subprocess.Popen[bytes]
    base: Path
    token: str = field(repr=False)
    port: int = 0

    @property
    def root_dir(self) -> Path:
        """The directory the server serves; notebooks copied here can be opened."""
        return self.base / "root"

    @property
    def log_path(self) -> Path:
        return self.base / "server.log"

    def url(self, path: str = "") -> str:
        """The URL of `path` (like `lab/tree/x.ipynb`), token included for a first visit."""
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{separator}token={self.token}"

    def api(self, method: str, path: str, timeout: float = 5.0) -> Any:
        """Call the REST API (`api/status`, `api/kernels`, ...); the decoded JSON or None."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of the server's log (kernel errors show up there)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def shutdown_kernels(self) -> None:
        """Stop every kernel (a finished test's kernel should not compete for the CPU)."""
        try:
            for kernel in self.api("GET", "api/kernels"):
                self.api("DELETE", f"api/kernels/{kernel['id']}", timeout=15.0)
        except OSError:
            pass  # the server is gone already; `stop` cleans up

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and its kernels: politely, then by force."""
        children = _children(self.process.pid)  # kernels live in process groups of their own
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        for pid in children:
            _signal_group(pid, signal.SIGKILL)


def start_lab(base: Path, timeout: float = 60.0) -> LabServer:
    """Start JupyterLab serving `base/root`; returns once its API answers.

    Raises:
        RuntimeError: the server exited or did not answer within `timeout` seconds;
            the message carries its log.
    """
    for name in ("root", "home", "runtime", "settings"):
        (base / name).mkdir(parents=True, exist_ok=True)
    for name, settings in LAB_SETTINGS.items():
        path = base / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings), encoding="utf-8")
    token = secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",  # the OS picks a free port; read back from the runtime file
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={base / 'root'}",
        "--ServerApp.allow_root=True",
        "--ServerApp.terminals_enabled=False",
        "--LabApp.expose_app_in_browser=True",
        # Notebook 7 (`/tree`, `/notebooks/...`), where installed, is served too.
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    log = (base / "server.log").open("wb")
    process = subprocess.Popen(
        command,
        cwd=base / "root",
        env=_server_env(base),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as a whole
    )
    log.close()
    server = LabServer(process=process, base=base, token=token)
    try:
        server.port = _wait_for_port(server, timeout)
        _wait_until_up(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _server_env(base: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in VENDOR_KEYS and not key.startswith(("JUPYTER", "IPYTHON"))
    }
    home = base / "home"
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        IPYTHONDIR=str(home / ".ipython"),
        # Kernels may never reach a paid API, whatever a notebook asks for.
        DEEPAGENTS_NB_BLOCK_VENDOR_REQUESTS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_for_port(server: LabServer, timeout: float) -> int:
    info = server.base / "runtime" / f"jpserver-{server.process.pid}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _check_alive(server)
        try:
            return int(json.loads(info.read_text(encoding="utf-8"))["port"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)  # not written yet, or half written
    raise RuntimeError(
        f"JupyterLab wrote no {info.name} within {timeout:.0f} s; its log:\n{server.log_tail()}"
    )


def _wait_until_up(server: LabServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        _check_alive(server)
        try:
            server.api("GET", "api/status", timeout=2.0)
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"JupyterLab on port {server.port} did not answer /api/status within "
                    f"{timeout:.0f} s ({exc}); its log:\n{server.log_tail()}"
                ) from exc
            time.sleep(0.1)


def _check_alive(server: LabServer) -> None:
    code = server.process.poll()
    if code is not None:
        raise RuntimeError(f"JupyterLab exited with code {code}; its log:\n{server.log_tail()}")


def _children(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc; empty elsewhere)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        group = os.getpgid(pid)
        if group != os.getpgrp():  # never the test run's own group
            os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass
