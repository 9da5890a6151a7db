"""The names a cell would touch, as the approver of a live run_python call sees them."""

from __future__ import annotations

import pytest

from deepagents_nb.kernel.ast_names import CellNames, cell_names


def test_every_kind_of_binding_at_module_level() -> None:
    code = """
import numpy as np, os.path
from math import tau as turn
a, (b, *c) = 1, (2, 3)
total += 1
n: int = 3
hint: str
for i in range(3):
    pass
with open("f") as fh:
    pass
if (w := 5):
    pass
def f():
    pass
class K:
    attr = 1
"""
    assert cell_names(code).assigns == (
        "np",
        "os",
        "turn",
        "a",
        "b",
        "c",
        "total",
        "n",
        "i",
        "fh",
        "w",
        "f",
        "K",
    )


def test_in_place_changes_and_deletions() -> None:
    names = cell_names("df['ratio'] = df.a / df.b\nmodel.coef_ = None\ndel old, cache['k']\n")

    assert names == CellNames(assigns=(), modifies=("df", "model", "cache"), deletes=("old",))
    assert names.describe() == "modifies: df, model, cache; deletes: old"


def test_function_bodies_count_only_through_global() -> None:
    code = """
def g():
    global counter
    counter = 1
    local = 2
    data["x"] = 1
squares = [k * k for k in range(3)]
fn = lambda q: q
"""
    names = cell_names(code)

    assert names.assigns == ("g", "counter", "squares", "fn")
    assert names.modifies == () and names.deletes == ()


def test_a_name_assigned_then_deleted_is_a_deletion_and_nothing_is_described() -> None:
    assert cell_names("tmp = 1\ndel tmp").describe() == "deletes: tmp"
    assert cell_names("print(df.shape)").describe() == "assigns no variables"


def test_match_patterns_bind_their_captures() -> None:
    code = (
        "match point:\n"
        "    case {'x': x, **rest}:\n        pass\n"
        "    case [first, *others]:\n        pass\n"
    )
    assert cell_names(code).assigns == ("x", "rest", "first", "others")


def test_code_that_does_not_compile_raises_syntax_error() -> None:
    with pytest.raises(SyntaxError):
        cell_names("def f(:\n    pass")
