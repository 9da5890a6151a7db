"""The agent runs Python: `run_python` in the notebook's namespace or an isolated kernel.

    from deepagents_nb.kernel import PythonMiddleware
    agent = create_deep_agent(model=..., middleware=[PythonMiddleware("isolated")])

jupyter_client and IPython are imported only when a kernel starts.
"""

from __future__ import annotations

from deepagents_nb.kernel.ast_names import CellNames, cell_names
from deepagents_nb.kernel.base import DEFAULT_TIMEOUT, Kernel, KernelUnavailableError
from deepagents_nb.kernel.isolated import IsolatedKernel
from deepagents_nb.kernel.live import LiveKernel
from deepagents_nb.kernel.middleware import PythonMiddleware
from deepagents_nb.kernel.outputs import CellError, CellResult, KernelImage

__all__ = [
    "DEFAULT_TIMEOUT",
    "CellError",
    "CellNames",
    "CellResult",
    "IsolatedKernel",
    "Kernel",
    "KernelImage",
    "KernelUnavailableError",
    "LiveKernel",
    "PythonMiddleware",
    "cell_names",
]
