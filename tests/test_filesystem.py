"""The filesystem tools over the thread's state and over a confined real directory."""

from __future__ import annotations

from typing import Any

import pytest

from deepagents_nb import AgentStateSnapshot, ToolCall, create_deep_agent
from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.middleware.filesystem import FilesystemMiddleware
from deepagents_nb.middleware.fs_backends import (
    FileToolError,
    glob_match,
    normalize_path,
)
from deepagents_nb.models.testing import ScriptedModel
from deepagents_nb.tools import Tool


class Files:
    """Runs the file tools directly, applying each call's updates like the agent does."""

    def __init__(self, files: dict[str, str] | None = None, backend: Any = None) -> None:
        self.state = AgentStateSnapshot(files=dict(files or {}))
        self.tools: dict[str, Tool] = {t.name: t for t in FilesystemMiddleware(backend).tools()}

    async def __call__(self, name: str, **args: Any) -> str:
        run = RunContext(
            thread_id="t",
            run_id="r",
            agent_name="a",
            state=self.state,
            emit=lambda e: None,
            model=ScriptedModel([]),
        )
        ctx = ToolContext(run=run, call_id="c")
        result = await self.tools[name].run(args, ctx)
        for path, content in ctx.update.files.items():
            if content is None:
                self.state.files.pop(path, None)
            else:
                self.state.files[path] = content
        return result


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("notes.md", "/notes.md"),
        ("/a//b/./c.txt", "/a/b/c.txt"),
        ("\\win\\x", "/win/x"),
        ("/", "/"),
    ],
)
def test_paths_are_normalised(raw: str, normalized: str) -> None:
    assert normalize_path(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("../etc/passwd", "uses '..'"),
        ("/a/../../b", "uses '..'"),
        ("a\x00b", "NUL"),
        ("  ", "empty"),
    ],
)
def test_bad_paths_are_refused(raw: str, message: str) -> None:
    with pytest.raises(FileToolError, match=message):
        normalize_path(raw)


async def test_write_read_ls() -> None:
    fs = Files()
    assert await fs("write_file", file_path="notes/a.md", content="one\ntwo\nthree") == (
        "Wrote 13 characters to /notes/a.md."
    )
    await fs("write_file", file_path="/b.txt", content="")
    assert await fs("ls") == "/b.txt\n/notes/a.md"
    assert await fs("ls", path="/notes") == "/notes/a.md"
    assert await fs("ls", path="/nothing") == "No files under /nothing."
    assert (
        await fs("read_file", file_path="/notes/a.md") == "     1\tone\n     2\ttwo\n     3\tthree"
    )
    assert await fs("read_file", file_path="/notes/a.md", offset=1, limit=1) == "     2\ttwo"
    assert await fs("read_file", file_path="/b.txt") == "The file /b.txt exists but is empty."


async def test_read_errors_and_long_lines() -> None:
    fs = Files({"/long.txt": "x" * 2500 + "\nshort"})
    out = await fs("read_file", file_path="/long.txt")
    first = out.splitlines()[0]
    assert first.startswith("     1\t" + "x" * 2000) and "line cut at 2000 characters" in first
    with pytest.raises(FileToolError, match=r"File '/missing\.md' not found\. Use ls"):
        await fs("read_file", file_path="/missing.md")
    with pytest.raises(FileToolError, match=r"offset 5 is past the end of /long\.txt, which has 2"):
        await fs("read_file", file_path="/long.txt", offset=5)


async def test_write_file_never_overwrites() -> None:
    fs = Files({"/a.md": "original"})
    with pytest.raises(FileToolError, match="already exists and write_file never overwrites"):
        await fs("write_file", file_path="a.md", content="new")
    assert fs.state.files["/a.md"] == "original"
    assert "never overwrites" in fs.tools["write_file"].description


async def test_edit_file() -> None:
    fs = Files({"/a.py": "x = 1\ny = 1\n"})
    with pytest.raises(FileToolError, match=r"occurs 2 times in /a\.py.*replace_all"):
        await fs("edit_file", file_path="/a.py", old_string="1", new_string="2")
    assert await fs("edit_file", file_path="/a.py", old_string="x = 1", new_string="x = 5") == (
        "Replaced 1 occurrence in /a.py."
    )
    assert await fs(
        "edit_file", file_path="/a.py", old_string="1", new_string="9", replace_all=True
    ) == ("Replaced 1 occurrence in /a.py.")
    assert fs.state.files["/a.py"] == "x = 5\ny = 9\n"
    with pytest.raises(FileToolError, match=r"not found in /a\.py\. Read the file"):
        await fs("edit_file", file_path="/a.py", old_string="z = 0", new_string="z = 1")
    with pytest.raises(FileToolError, match="are the same"):
        await fs("edit_file", file_path="/a.py", old_string="x", new_string="x")
    with pytest.raises(FileToolError, match="not found"):
        await fs("edit_file", file_path="/nope.py", old_string="a", new_string="b")


async def test_glob_and_grep() -> None:
    fs = Files(
        {
            "/docs/intro.md": "Hello world\nsecond line",
            "/docs/deep/api.md": "world of APIs\nworld again",
            "/src/main.py": "print('hello')",
        }
    )
    assert await fs("glob", pattern="*.md") == "/docs/deep/api.md\n/docs/intro.md"
    assert await fs("glob", pattern="/docs/*.md") == "/docs/intro.md"
    assert await fs("glob", pattern="**/*.py") == "/src/main.py"
    assert await fs("glob", pattern="*.md", path="/docs/deep") == "/docs/deep/api.md"
    assert await fs("glob", pattern="*.rs") == "No files match '*.rs'."
    assert await fs("grep", pattern="world") == "/docs/deep/api.md\n/docs/intro.md"
    assert await fs("grep", pattern="world", output_mode="count") == (
        "/docs/deep/api.md:2\n/docs/intro.md:1"
    )
    assert await fs("grep", pattern="world", glob="intro.md", output_mode="content") == (
        "/docs/intro.md:1:Hello world"
    )
    assert await fs("grep", pattern="(") == "/src/main.py"  # literal text, not a regex
    assert await fs("grep", pattern="absent") == "No matches for 'absent'."


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("/a/b/c.py", "**/*.py", True),
        ("/c.py", "**/*.py", True),
        ("/a/b/c.py", "/a/*.py", False),
        ("/a/c.py", "/a/*.py", True),
        ("/a/b/c.txt", "c.*", True),
    ],
)
def test_glob_match(path: str, pattern: str, matches: bool) -> None:
    assert glob_match(path, pattern) is matches


def test_file_tools_through_the_agent_correct_themselves() -> None:
    model = ScriptedModel(
        [
            ToolCall(name="write_file", args={"file_path": "/plan.md", "content": "draft"}),
            ToolCall(name="write_file", args={"file_path": "/plan.md", "content": "again"}),
            ToolCall(
                name="edit_file",
                args={"file_path": "/plan.md", "old_string": "draft", "new_string": "final"},
            ),
            "done",
        ]
    )
    result = create_deep_agent(model=model).handle_message("write a plan")
    tool_messages = [m for m in result.messages if m.role == "tool"]
    assert [m.is_error for m in tool_messages] == [False, True, False]
    assert tool_messages[1].content.startswith("Error: /plan.md already exists")
    assert result.state.files == {"/plan.md": "final"}
