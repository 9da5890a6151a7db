"""The names a cell assigns, changes and deletes, read from its syntax tree.

Shown to whoever approves a `run_python` call in the live kernel, so they see
which of their variables the code would touch before it runs. Static and
conservative: `exec`, `globals()[...]` and calls that mutate objects are not
seen, which is why the code itself is shown too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CellNames:
    """Top-level names a cell binds (`assigns`), mutates in place (`modifies`) or deletes."""

    assigns: tuple[str, ...] = ()
    modifies: tuple[str, ...] = ()
    deletes: tuple[str, ...] = ()

    def describe(self) -> str:
        """`assigns: a, b; modifies: df; deletes: c`, or a sentence when it touches nothing."""
        parts = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("assigns", self.assigns),
                ("modifies", self.modifies),
                ("deletes", self.deletes),
            )
            if names
        ]
        return "; ".join(parts) if parts else "assigns no variables"


def cell_names(code: str) -> CellNames:
    """The names `code` binds, mutates and deletes at module level.

    Raises:
        SyntaxError: the code does not compile.
    """
    tree = ast.parse(code)
    finder = _Finder()
    for statement in tree.body:
        finder.visit(statement)
    deleted = set(finder.deletes)
    return CellNames(
        assigns=_ordered(n for n in finder.assigns if n not in deleted),
        modifies=_ordered(n for n in finder.modifies if n not in finder.assigns),
        deletes=_ordered(finder.deletes),
    )


def _ordered(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _base_name(node: ast.expr) -> str | None:
    """`df` for `df`, `df.x`, `df["a"].y[0]`: the variable a target reaches into."""
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Starred):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _Finder(ast.NodeVisitor):
    """Walks module-level code; function bodies count only for their `global` names."""

    def __init__(self) -> None:
        self.assigns: list[str] = []
        self.modifies: list[str] = []
        self.deletes: list[str] = []
        self._globals: set[str] | None = None  # inside a function: its `global` names

    def _bind(self, name: str) -> None:
        if self._globals is None or name in self._globals:
            self.assigns.append(name)

    def _target(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            self._bind(node.id)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self._target(element)
        elif isinstance(node, ast.Starred):
            self._target(node.value)
        else:
            base = _base_name(node)
            # In a function body, `df[...] = ...` may never run: only module level counts.
            if base is not None and self._globals is None:
                self.modifies.append(base)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._target(target)
        self.visit(node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target)
        self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:  # `x: int` alone binds nothing
            self._target(node.target)
            self.visit(node.value)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._target(node.target)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._target(node.target)
        self.visit(node.value)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._bind(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            for element in target.elts if isinstance(target, ast.Tuple | ast.List) else [target]:
                if isinstance(element, ast.Name):
                    if self._globals is None or element.id in self._globals:
                        self.deletes.append(element.id)
                else:
                    base = _base_name(element)
                    if base is not None and self._globals is None:
                        self.modifies.append(base)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._bind(node.name)
        self._scope(node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node.name)
        self._scope(node.body)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return  # a lambda's body binds nothing outside it (a walrus there is a SyntaxError)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name is not None:
            self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name is not None:
            self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest is not None:  # `**rest` comes last in the pattern
            self._bind(node.rest)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        # `except E as e` binds `e` and Python deletes it when the handler ends.
        self.generic_visit(node)

    def _scope(self, body: list[ast.stmt]) -> None:
        """A function or class body: only names declared `global` there reach the module."""
        declared = {
            name
            for statement in body
            for node in ast.walk(statement)
            if isinstance(node, ast.Global)
            for name in node.names
        }
        outer = self._globals
        self._globals = declared
        for statement in body:
            self.visit(statement)
        self._globals = outer
