"""DirectoryBackend on a real directory: confinement under races, special files, limits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deepagents_nb import AgentStateSnapshot
from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.middleware.directory_backend import split_lines
from deepagents_nb.middleware.filesystem import FilesystemMiddleware
from deepagents_nb.middleware.fs_backends import (
    DirectoryBackend,
    FileTooLargeError,
    FileToolError,
    LineWindow,
    NotTextError,
    StateBackend,
    TextScan,
    UnsupportedFileError,
    read_window,
    window_of,
)
from deepagents_nb.models.testing import ScriptedModel

GIB = 1 << 30


def make_ctx() -> ToolContext:
    run = RunContext(
        thread_id="t",
        run_id="r",
        agent_name="a",
        state=AgentStateSnapshot(),
        emit=lambda e: None,
        model=ScriptedModel([]),
    )
    return ToolContext(run=run, call_id="c")


async def tool(backend: DirectoryBackend, name: str, **args: Any) -> str:
    tools = {t.name: t for t in FilesystemMiddleware(backend).tools()}
    result = await tools[name].run(args, make_ctx())
    assert isinstance(result, str)
    return result


def attempt(fn: Callable[..., object], *args: object) -> None:
    with contextlib.suppress(OSError):
        fn(*args)


def finishes(fn: Callable[[], object], timeout: float = 5.0) -> BaseException | None:
    """Run `fn` in a daemon thread; fail (not hang) if it blocks. Returns what it raised."""
    raised: list[BaseException | None] = []

    def target() -> None:
        try:
            fn()
            raised.append(None)
        except BaseException as exc:  # handed back to the test
            raised.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    assert not worker.is_alive(), f"still blocked after {timeout} s"
    return raised[0]


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, DirectoryBackend]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    return root, outside, DirectoryBackend(root)


async def test_files_stay_inside_and_links_are_refused(
    layout: tuple[Path, Path, DirectoryBackend],
) -> None:
    root, outside, backend = layout
    await tool(backend, "write_file", file_path="/sub/note.md", content="hello")
    assert (root / "sub" / "note.md").read_text() == "hello"
    os.symlink(outside / "secret.txt", root / "link.txt")
    os.symlink(outside, root / "linkdir")
    (root / "real.txt").write_text("inside")
    os.symlink(root / "real.txt", root / "alias.txt")  # a link inside the tree: refused too

    for path in ("/link.txt", "/alias.txt", "/linkdir/secret.txt"):
        with pytest.raises(UnsupportedFileError, match="symbolic link"):
            await tool(backend, "read_file", file_path=path)
    with pytest.raises(UnsupportedFileError, match="/linkdir is a symbolic link"):
        await tool(backend, "write_file", file_path="/linkdir/new.txt", content="x")
    with pytest.raises(UnsupportedFileError, match="symbolic link"):
        await backend.write(make_ctx(), "/link.txt", "overwritten")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "top secret"
    assert (root / "link.txt").is_symlink()  # the link itself is left alone
    assert await tool(backend, "ls") == "/real.txt\n/sub/note.md"
    assert await backend.scan(make_ctx()) == (["/real.txt", "/sub/note.md"], {"symbolic links": 3})

    await tool(backend, "edit_file", file_path="/sub/note.md", old_string="hello", new_string="bye")
    assert (root / "sub" / "note.md").read_text() == "bye"


def test_symlink_swap_race_never_escapes(tmp_path: Path) -> None:
    """A thread swaps a directory and a file for links to outside while the backend works."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("CANARY")
    (outside / "canary.txt").write_text("CANARY")
    backend = DirectoryBackend(root, fsync=False)  # flushing to disk is not what is tested
    (root / "d").mkdir()
    (root / "d" / "f.txt").write_text("inside")
    (root / "f.txt").write_text("inside")
    stop = threading.Event()
    swaps = 0

    def swapper() -> None:
        nonlocal swaps
        n = 0
        while not stop.is_set():
            n += 1
            parked = root / f"parked{n}"
            # The directory: moved away, a link to outside in its place, then back.
            # Each step may fail when the backend created or changed a name meanwhile.
            attempt(os.rename, root / "d", parked)
            attempt(os.symlink, outside, root / "d")
            attempt(os.unlink, root / "d")
            attempt(os.rename, parked, root / "d")
            # The file: atomically a link to the canary, then a regular file again.
            attempt(os.symlink, outside / "canary.txt", root / "link.tmp")
            attempt(os.replace, root / "link.tmp", root / "f.txt")
            attempt((root / "file.tmp").write_text, "inside")
            attempt(os.replace, root / "file.tmp", root / "f.txt")
            swaps += 1

    async def work() -> tuple[int, list[str]]:
        ctx = make_ctx()
        refused = 0
        seen: list[str] = []
        for i in range(10_000):
            try:
                kind = i % 4
                if kind == 0:
                    seen.append(await backend.read(ctx, "/f.txt") or "")
                elif kind == 1:
                    seen.append(await backend.read(ctx, "/d/f.txt") or "")
                elif kind == 2:
                    await backend.write(ctx, "/f.txt", f"written {i}")
                else:
                    await backend.write(ctx, f"/d/new{i}.txt", "created")
            except UnsupportedFileError:
                refused += 1
            except FileToolError as exc:
                # A name vanished or changed kind between two steps of the swap.
                assert str(tmp_path) not in str(exc)
        return refused, seen

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    try:
        started = time.perf_counter()
        refused, seen = asyncio.run(work())
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        thread.join(5)

    assert swaps > 100 and refused > 0, "the race did not happen; the test proves nothing"
    assert "CANARY" not in seen
    assert sorted(p.name for p in outside.iterdir()) == ["canary.txt", "f.txt"]
    assert (outside / "f.txt").read_text() == "CANARY"
    assert (outside / "canary.txt").read_text() == "CANARY"
    assert elapsed < 30  # a loose bound; the suite's budget is ~10 s on a shared machine


async def test_hard_linked_file_is_not_written(layout: tuple[Path, Path, DirectoryBackend]) -> None:
    root, outside, backend = layout
    root.mkdir(exist_ok=True)
    os.link(outside / "secret.txt", root / "hard.txt")
    with pytest.raises(UnsupportedFileError, match="2 hard links"):
        await tool(backend, "edit_file", file_path="/hard.txt", old_string="top", new_string="no")
    with pytest.raises(UnsupportedFileError, match="hard links"):
        await backend.write(make_ctx(), "/hard.txt", "replaced")
    assert (outside / "secret.txt").read_text() == "top secret"
    assert os.stat(root / "hard.txt").st_nlink == 2


async def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    error = finishes(lambda: backend._read("/pipe"))  # sync core: a hang must not stall the loop
    assert isinstance(error, UnsupportedFileError) and "special file" in str(error)
    error = finishes(lambda: backend._write("/pipe", "data"))
    assert isinstance(error, UnsupportedFileError) and "special file" in str(error)
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    # A FIFO where a directory should be: refused at once too.
    error = finishes(lambda: backend._write("/pipe/inner.txt", "data"))
    assert isinstance(error, UnsupportedFileError) and "/pipe is a special file" in str(error)
    error = finishes(lambda: backend._read("/pipe/inner.txt"))
    assert isinstance(error, UnsupportedFileError)
    with pytest.raises(UnsupportedFileError):
        await asyncio.wait_for(tool(backend, "write_file", file_path="/pipe", content="x"), 5)
    assert await tool(backend, "ls") == "No files under /."


async def test_symlink_loops_do_not_break_listing(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("needle here")
    (tmp_path / "b.txt").write_text("no match")
    os.symlink("loop", tmp_path / "loop")
    os.symlink("y", tmp_path / "x")
    os.symlink("x", tmp_path / "y")
    os.symlink("..", tmp_path / "docs" / "up")
    assert await tool(backend, "ls") == "/b.txt\n/docs/a.md"
    assert await tool(backend, "glob", pattern="**/*.md") == "/docs/a.md"
    assert await tool(backend, "grep", pattern="needle") == "/docs/a.md"
    with pytest.raises(UnsupportedFileError, match="symbolic link"):
        await tool(backend, "read_file", file_path="/loop")


async def test_unusable_names_are_skipped(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path)
    (tmp_path / "ok.txt").write_text("fine")
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.txt"), "w") as f:
        f.write("x")
    (tmp_path / "back\\slash.txt").write_text("x")
    (tmp_path / "new\nline.txt").write_text("x")
    files, skipped = await backend.scan(make_ctx())
    assert files == ["/ok.txt"]
    assert skipped == {"names the tools cannot use": 3}


async def test_non_utf8_file_is_skipped_by_searches(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path)
    (tmp_path / "good.txt").write_text("needle")
    (tmp_path / "binary.bin").write_bytes(b"needle \xff\xfe\x00")
    ctx = make_ctx()
    paths = await backend.list_files(ctx)
    assert paths == ["/binary.bin", "/good.txt"]
    scan = TextScan()
    assert [item async for item in scan.read(backend, ctx, paths)] == [("/good.txt", "needle")]
    assert scan.note() == "(skipped 1 file: not UTF-8 text)"
    with pytest.raises(NotTextError, match=r"/binary\.bin is not UTF-8 text"):
        await tool(backend, "read_file", file_path="/binary.bin")


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
async def test_large_sparse_file_reads_little(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path)
    big = tmp_path / "big.log"
    big.touch()
    os.truncate(big, GIB)
    ctx = make_ctx()

    def rchar() -> int:
        return int(Path("/proc/self/io").read_text().split("rchar:")[1].split()[0])

    before = rchar()
    window = await backend.read_lines(ctx, "/big.log", 0, 1, 2000)
    assert rchar() - before < 1 << 20  # one chunk, not the gigabyte
    assert window == LineWindow(["\0" * 2001], None)  # cut: one more character than kept

    with pytest.raises(FileTooLargeError, match=r"1024\.0 MiB, over the 10\.0 MiB limit"):
        await backend.read(ctx, "/big.log")
    with pytest.raises(FileTooLargeError, match=r"read_file can show parts of it"):
        await tool(backend, "edit_file", file_path="/big.log", old_string="a", new_string="b")
    scan = TextScan()
    assert [item async for item in scan.read(backend, ctx, ["/big.log"])] == []
    assert scan.note() == "(skipped 1 file: over the size limit)"


async def test_size_limit_is_configurable(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path, max_file_bytes=10)
    (tmp_path / "small.txt").write_text("0123456789")
    (tmp_path / "large.txt").write_text("0123456789a")
    assert await backend.read(make_ctx(), "/small.txt") == "0123456789"
    with pytest.raises(FileTooLargeError, match="11 bytes, over the 10 bytes limit"):
        await backend.read(make_ctx(), "/large.txt")
    assert await backend.read_lines(make_ctx(), "/large.txt", 0, 5, 2000) == LineWindow(
        ["0123456789a"], 1
    )


CONTENTS = [
    "",
    "one",
    "one\n",
    "a\nb\r\nc\rd\n\ne",
    "x\u2028y\x0bz\x1c\x85end\r",
    "\n\n\n",
    "long " * 1000 + "\nshort\n",
    "été\r\nüber\r\n",
]


@pytest.mark.parametrize("content", CONTENTS)
async def test_read_lines_matches_a_whole_read(tmp_path: Path, content: str) -> None:
    backend = DirectoryBackend(tmp_path)
    (tmp_path / "f.txt").write_bytes(content.encode())
    state = StateBackend()
    ctx = make_ctx()
    ctx.write_file("/f.txt", content)
    for offset in range(5):
        for limit in (1, 2, 100):
            got = await read_window(backend, ctx, "/f.txt", offset, limit, 100)
            want = await read_window(state, ctx, "/f.txt", offset, limit, 100)
            assert got is not None and want is not None
            assert got.lines == want.lines
            if got.line_count is not None:
                assert got.line_count == want.line_count
            else:
                assert len(got.lines) == limit
    assert await read_window(backend, ctx, "/missing.txt", 0, 1) is None


def test_window_of_a_text_in_memory() -> None:
    assert window_of("a\nb\r\nc", 1, 5) == LineWindow(["b", "c"], 3)
    assert window_of("abcdef\nx", 0, 1, max_line_chars=3) == LineWindow(["abcd"], 2)
    assert window_of("", 0, 1) == LineWindow([], 0)


def test_split_lines_agrees_with_splitlines_at_any_chunk_boundary() -> None:
    rng = random.Random(7)
    alphabet = "ab\r\n\x0b\u2028é "
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        cuts = sorted(rng.sample(range(len(text) + 1), k=min(len(text) + 1, rng.randrange(6))))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        keep = rng.randrange(1, 8)
        want = [line[: keep + 1] for line in text.splitlines()]
        assert list(split_lines(chunks, keep)) == want, (text, chunks, keep)


async def test_errors_never_show_the_host_path(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path / "ws")
    long_name = "/" + "n" * 300 + ".txt"
    for name, args in [
        ("read_file", {"file_path": long_name}),
        ("write_file", {"file_path": long_name, "content": "x"}),
        ("write_file", {"file_path": "/" + "d" * 300 + "/a.txt", "content": "x"}),
    ]:
        with pytest.raises(FileToolError) as caught:
            await tool(backend, name, **args)
        message = str(caught.value)
        assert "too long" in message
        assert str(tmp_path) not in message and "pytest-of" not in message
    (tmp_path / "ws" / "file").write_text("x")
    with pytest.raises(FileToolError, match=r"^/file is a file, not a directory\.$"):
        await tool(backend, "write_file", file_path="/file/inner.txt", content="x")


async def test_writes_are_atomic_and_keep_the_mode(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path)
    (tmp_path / "private.txt").write_text("secret draft")
    os.chmod(tmp_path / "private.txt", 0o600)
    await tool(
        backend, "edit_file", file_path="/private.txt", old_string="draft", new_string="final"
    )
    assert (tmp_path / "private.txt").read_text() == "secret final"
    assert stat.S_IMODE(os.stat(tmp_path / "private.txt").st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.txt"]  # no temp file left
    with pytest.raises(UnsupportedFileError, match="directory"):
        await backend.write(make_ctx(), "/", "x")
    (tmp_path / "dir").mkdir()
    with pytest.raises(UnsupportedFileError, match="/dir is a directory"):
        await backend.write(make_ctx(), "/dir", "x")
    with pytest.raises(UnsupportedFileError, match="/dir is a directory"):
        await backend.read(make_ctx(), "/dir")


def test_bad_configuration_is_refused(tmp_path: Path) -> None:
    from deepagents_nb.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="max_file_bytes"):
        DirectoryBackend(tmp_path, max_file_bytes=0)
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ConfigurationError, match="is not a directory"):
        DirectoryBackend(tmp_path / "plain")
    with pytest.raises(ConfigurationError, match="is not a directory"):
        DirectoryBackend(tmp_path / "plain", create=False)


async def test_grep_skips_what_it_cannot_read_and_says_so(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path, max_file_bytes=100)
    (tmp_path / "good.txt").write_text("a needle\nhay")
    (tmp_path / "binary.bin").write_bytes(b"needle \xff\xfe")
    (tmp_path / "huge.txt").write_text("needle " * 50)
    assert await tool(backend, "grep", pattern="needle") == (
        "/good.txt\n(skipped 1 file: not UTF-8 text; 1 file: over the size limit)"
    )
    assert await tool(backend, "grep", pattern="needle", output_mode="content") == (
        "/good.txt:1:a needle\n(skipped 1 file: not UTF-8 text; 1 file: over the size limit)"
    )
    assert await tool(backend, "grep", pattern="absent", glob="*.bin") == (
        "No matches for 'absent'. (skipped 1 file: not UTF-8 text)"
    )


async def test_read_file_reads_only_the_lines_asked_for(tmp_path: Path) -> None:
    backend = DirectoryBackend(tmp_path)
    big = tmp_path / "big.log"
    big.write_text("first line\nsecond line\n")
    os.truncate(big, GIB)  # a gigabyte, mostly a hole after two lines
    started = time.perf_counter()
    assert await tool(backend, "read_file", file_path="/big.log", limit=1) == "     1\tfirst line"
    assert await tool(backend, "read_file", file_path="/big.log", offset=1, limit=1) == (
        "     2\tsecond line"
    )
    assert time.perf_counter() - started < 5  # a whole read would take far longer, or fail
    (tmp_path / "empty.txt").touch()
    assert await tool(backend, "read_file", file_path="/empty.txt") == (
        "The file /empty.txt exists but is empty."
    )
    (tmp_path / "two.txt").write_text("a\nb\n")
    with pytest.raises(FileToolError, match=r"offset 2 is past the end of /two\.txt, which has 2 "):
        await tool(backend, "read_file", file_path="/two.txt", offset=2)


async def test_mounted_backend_streams_lines_of_a_directory(tmp_path: Path) -> None:
    from deepagents_nb.middleware.mounts import MountedBackend, Mounts

    mounts = Mounts()
    mounts.add("notes", "one\ntwo\nthree")
    backend = MountedBackend(DirectoryBackend(tmp_path, max_file_bytes=100), mounts)
    big = tmp_path / "big.log"
    big.write_text("first\n")
    os.truncate(big, GIB)
    ctx = make_ctx()
    assert await read_window(backend, ctx, "/big.log", 0, 1) == LineWindow(["first"], None)
    assert await read_window(backend, ctx, "/kernel/notes.txt", 1, 5) == LineWindow(
        ["two", "three"], 3
    )
