"""Kernels for the kernel tests: real ipykernel processes, started once per module."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from deepagents_nb._sync import run_sync
from deepagents_nb.kernel import IsolatedKernel


def process_gone(pid: int, wait: float = 10.0) -> bool:
    """Whether process `pid` has exited (and been reaped) within `wait` seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def kernel() -> Iterator[IsolatedKernel]:
    k = IsolatedKernel()
    yield k
    run_sync(k.shutdown())
