"""The README's Python examples run as written, in order, in one namespace."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
    lines = printed.getvalue().splitlines()
    assert lines[0] == "5 + 3 = 8"
    assert "input_tokens=" in lines[1]
    assert lines[2] == "8"
    assert lines[3:6] == [
        "Done.",
        "Approval needed for delete_file: Deletion needs review",
        "Done.",
    ]
