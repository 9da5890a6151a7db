"""Kernels for the kernel tests: real ipykernel processes, started once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from deepagents_nb._sync import run_sync
from deepagents_nb.kernel import IsolatedKernel


@pytest.fixture(scope="module")
def kernel() -> Iterator[IsolatedKernel]:
    k = IsolatedKernel()
    yield k
    run_sync(k.shutdown())
