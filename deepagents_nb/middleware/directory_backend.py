"""`DirectoryBackend`: the file tools on a real directory, and never outside it.

Every path is opened one name at a time from a descriptor of the root
(`openat` with `O_NOFOLLOW`), so a symbolic link, even one swapped in by another
process while a call runs, can never lead a read or a write outside the root:
links are refused, not followed. Only regular files are read or written.
"""

from __future__ import annotations

import asyncio
import codecs
import errno
import os
import re
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import ParamSpec, TypeVar

from deepagents_nb.context import ToolContext
from deepagents_nb.exceptions import ConfigurationError
from deepagents_nb.middleware.fs_backends import (
    FileTooLargeError,
    FileToolError,
    LineWindow,
    NotTextError,
    UnsupportedFileError,
    normalize_path,
)

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
# getattr: the module must import on Windows, where the constructor refuses to run.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
# O_NONBLOCK: opening a FIFO returns at once (and is then refused) instead of
# waiting forever for a writer.
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
# Names the tools cannot address or print on one line.
_UNUSABLE = re.compile(r"[\x00-\x1f\x7f\\]")
_TEMP_PREFIX = ".deepagents-tmp-"
_CHUNK = 64 * 1024
_MAX_DEPTH = 64

_ERRNO_TEXT = {
    getattr(errno, name, -1): text
    for name, text in [
        ("ENAMETOOLONG", "a file or directory name in this path is too long"),
        ("EACCES", "permission denied"),
        ("EPERM", "operation not permitted"),
        ("ENOSPC", "no space left on the workspace's disk"),
        ("EDQUOT", "the workspace's disk quota is used up"),
        ("EROFS", "the workspace is read-only"),
        ("EISDIR", "it is a directory"),
        ("ENOTDIR", "a part of this path is a file, not a directory"),
        ("EMFILE", "too many open files; try again"),
        ("ENFILE", "too many open files; try again"),
    ]
}


def _shown(path: str) -> str:
    return path if len(path) <= 120 else path[:100] + "..." + path[-17:]


def _os_error(path: str, exc: OSError) -> FileToolError:
    # Never str(exc): it carries the host path, which the model must not see.
    text = _ERRNO_TEXT.get(exc.errno or 0)
    if text is None:
        text = os.strerror(exc.errno).lower() if exc.errno else "it could not be accessed"
    return FileToolError(f"{_shown(path)}: {text}.")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def _parts(path: str) -> list[str]:
    inner = normalize_path(path).strip("/")
    return inner.split("/") if inner else []


def _usable(name: str) -> bool:
    """Whether the tools can name this entry: UTF-8, no control characters, no backslash."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return _UNUSABLE.search(name) is None


@contextmanager
def _fd(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def _refusal(dir_fd: int, name: str, path: str, exc: OSError) -> FileToolError:
    """Why opening `name` failed, in words for the model (after ELOOP, ENOTDIR, ENXIO)."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return _os_error(path, exc)
    if stat.S_ISLNK(mode):
        return UnsupportedFileError(
            f"{_shown(path)} is a symbolic link; this workspace does not follow links."
        )
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return _special(path)
    if exc.errno == errno.ENOTDIR:
        return FileToolError(f"{_shown(path)} is a file, not a directory.")
    return _os_error(path, exc)


def _special(path: str) -> UnsupportedFileError:
    return UnsupportedFileError(
        f"{_shown(path)} is a special file (a FIFO, socket or device), not a regular file."
    )


def _not_regular(path: str, mode: int) -> UnsupportedFileError:
    if stat.S_ISDIR(mode):
        return UnsupportedFileError(f"{_shown(path)} is a directory; ls lists the files in it.")
    return _special(path)


def _decoded(fd: int, size: int, path: str) -> Iterator[str]:
    """The file's text in chunks, reading no more than `size` bytes (its size when opened)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    left = size
    try:
        while left > 0:
            chunk = os.read(fd, min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            if text := decoder.decode(chunk):
                yield text
        if tail := decoder.decode(b"", final=True):
            yield tail
    except UnicodeDecodeError:
        raise NotTextError(
            f"{_shown(path)} is not UTF-8 text; it cannot be read as text."
        ) from None


def _read_at_most(fd: int, size: int) -> bytes:
    chunks = []
    while size > 0 and (chunk := os.read(fd, min(_CHUNK, size))):
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _pieces(chunks: Iterable[str]) -> Iterator[str]:
    """`str.splitlines(keepends=True)` over the joined chunks, chunk by chunk."""
    carry = ""
    for chunk in chunks:
        text = carry + chunk
        # A final "\r" may be the first half of "\r\n": decide with the next chunk.
        carry = "\r" if text.endswith("\r") else ""
        yield from (text[:-1] if carry else text).splitlines(keepends=True)
    if carry:
        yield carry


def split_lines(chunks: Iterable[str], keep: int) -> Iterator[str]:
    """The lines `str.splitlines` gives for the joined chunks, each cut to `keep + 1` chars.

    A longer line is given out as soon as it passes that length and the rest of it
    is skipped, so one huge line (a sparse file) is never held in memory.
    """
    head, open_line, given = "", False, False
    for piece in _pieces(chunks):
        body = piece.splitlines()[0]
        if not given:
            head += body[: keep + 1 - len(head)]
            if len(head) > keep:
                given = True
                yield head
        if len(body) < len(piece):  # the piece ends with a line break
            if not given:
                yield head
            head, open_line, given = "", False, False
        else:
            open_line = True
    if open_line and not given:
        yield head


class DirectoryBackend:
    """Files live in a real directory, and never outside it.

    Paths are walked from the root one name at a time without following links, so
    no symbolic link (even one swapped in meanwhile) leads out; links, hard-linked
    files (for writes), FIFOs, sockets and devices are refused with a clear error.
    Writes are atomic (a temporary file renamed into place) and flushed to disk
    unless `fsync=False` (faster; a crash may then lose the latest writes). A
    whole-file read is refused above `max_file_bytes`; `read_lines` reads only as
    far as it needs.
    Errors name the virtual path only. Work runs in a thread so the event loop
    never blocks.

        create_deep_agent(model=..., filesystem=DirectoryBackend("workspace"))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        create: bool = True,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        fsync: bool = True,
    ) -> None:
        if os.open not in os.supports_dir_fd or os.scandir not in os.supports_fd:
            raise ConfigurationError("DirectoryBackend needs a POSIX system (openat, fdopendir).")
        if max_file_bytes < 1:
            raise ConfigurationError("max_file_bytes must be at least 1.")
        root_path = Path(root)
        if create and not root_path.exists():
            root_path.mkdir(parents=True, exist_ok=True)
        if not root_path.is_dir():
            raise ConfigurationError(f"{root_path} is not a directory")
        self.root = root_path.resolve()
        self.max_file_bytes = max_file_bytes
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"DirectoryBackend({str(self.root)!r})"

    # -- the protocol -----------------------------------------------------------

    async def list_files(self, ctx: ToolContext) -> list[str]:
        files, _ = await self.scan(ctx)
        return files

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        return await asyncio.to_thread(self._run, path, self._read, path)

    async def read_bytes(self, ctx: ToolContext, path: str) -> bytes | None:
        """The file's bytes (up to `max_file_bytes`), for images; None if it is missing."""
        return await asyncio.to_thread(self._run, path, self._read_bytes, path)

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        await asyncio.to_thread(self._run, path, self._write, path, content)

    async def read_lines(
        self, ctx: ToolContext, path: str, offset: int, limit: int, max_line_chars: int = 2000
    ) -> LineWindow | None:
        """Lines `offset` to `offset + limit`, reading the file only as far as they end."""
        if offset < 0 or limit < 1:
            raise FileToolError("offset must be 0 or more and limit at least 1.")
        return await asyncio.to_thread(
            self._run, path, self._read_lines, path, offset, limit, max_line_chars
        )

    async def scan(self, ctx: ToolContext) -> tuple[list[str], Counter[str]]:
        """Every usable file, sorted, and how many entries were skipped for each reason."""
        return await asyncio.to_thread(self._run, "/", self._scan)

    # -- in the worker thread ---------------------------------------------------

    @staticmethod
    def _run(path: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except OSError as exc:
            raise _os_error(path, exc) from None

    def _open_root(self) -> int:
        try:
            return os.open(self.root, _DIR_FLAGS)
        except OSError:
            raise FileToolError("The workspace directory is missing or not a directory.") from None

    def _open_dir(self, parts: list[str], *, create: bool) -> int:
        """A descriptor of the directory `parts` below the root; raises FileNotFoundError."""
        fd = self._open_root()
        try:
            for depth, name in enumerate(parts):
                try:
                    child = _child_dir(fd, name, create)
                except OSError as exc:
                    # ENOTDIR (Linux) or ELOOP (BSD): a link or a file is in the way.
                    if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                        raise
                    raise _refusal(fd, name, "/" + "/".join(parts[: depth + 1]), exc) from None
                fd, parent = child, fd
                os.close(parent)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_file(self, path: str) -> tuple[int, int] | None:
        """A descriptor of the regular file at `path` and its size; None if missing."""
        parts = _parts(path)
        if not parts:
            raise UnsupportedFileError("/ is the workspace's root directory, not a file.")
        try:
            dir_fd = self._open_dir(parts[:-1], create=False)
        except FileNotFoundError:
            return None
        with _fd(dir_fd):
            try:
                fd = os.open(parts[-1], _READ_FLAGS, dir_fd=dir_fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise _refusal(dir_fd, parts[-1], path, exc) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise _not_regular(path, info.st_mode)
        return fd, info.st_size

    def _too_large(self, path: str, size: int) -> FileTooLargeError:
        return FileTooLargeError(
            f"{_shown(path)} is {_size(size)}, over the {_size(self.max_file_bytes)} limit "
            f"for reading a file whole; read_file can show parts of it with offset and limit."
        )

    def _read_bytes(self, path: str) -> bytes | None:
        opened = self._open_file(path)
        if opened is None:
            return None
        fd, size = opened
        with _fd(fd):
            if size > self.max_file_bytes:
                raise self._too_large(path, size)
            data = _read_at_most(fd, self.max_file_bytes + 1)
        if len(data) > self.max_file_bytes:  # it grew since fstat
            raise self._too_large(path, len(data))
        return data

    def _read(self, path: str) -> str | None:
        data = self._read_bytes(path)
        if data is None:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NotTextError(
                f"{_shown(path)} is not UTF-8 text; it cannot be read as text."
            ) from None
        # Universal newlines, as earlier releases read these files.
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def _read_lines(self, path: str, offset: int, limit: int, keep: int) -> LineWindow | None:
        opened = self._open_file(path)
        if opened is None:
            return None
        fd, size = opened
        lines: list[str] = []
        count = 0
        with _fd(fd):
            for line in split_lines(_decoded(fd, size, path), keep):
                if count >= offset:
                    lines.append(line)
                    if len(lines) == limit:
                        return LineWindow(lines, None)
                count += 1
        return LineWindow(lines, count)

    def _write(self, path: str, content: str) -> None:
        parts = _parts(path)
        if not parts:
            raise UnsupportedFileError("/ is the workspace's root directory, not a file.")
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError:
            raise NotTextError(
                f"The text for {_shown(path)} has characters UTF-8 cannot store."
            ) from None
        name = parts[-1]
        with _fd(self._open_dir(parts[:-1], create=True)) as dir_fd:
            mode = _existing_mode(dir_fd, name, path)
            temp = _TEMP_PREFIX + os.urandom(8).hex()
            fd = os.open(
                temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o666, dir_fd=dir_fd
            )
            try:
                with _fd(fd):
                    if mode is not None:
                        os.fchmod(fd, mode)
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    if self.fsync:
                        os.fsync(fd)
                # rename replaces a name, never what a link there points to.
                os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with suppress(OSError):
                    os.unlink(temp, dir_fd=dir_fd)
                raise

    def _scan(self) -> tuple[list[str], Counter[str]]:
        found: list[str] = []
        skipped: Counter[str] = Counter()
        _walk(self._open_root(), "", 0, found, skipped)
        found.sort()
        return found, skipped


def _child_dir(fd: int, name: str, create: bool) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
    with suppress(FileExistsError):
        os.mkdir(name, dir_fd=fd)
    return os.open(name, _DIR_FLAGS, dir_fd=fd)


def _existing_mode(dir_fd: int, name: str, path: str) -> int | None:
    """The permission bits of the file being replaced (None if new); refuses non-files."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise UnsupportedFileError(
            f"{_shown(path)} is a symbolic link; this workspace does not follow links."
        )
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(path, info.st_mode)
    if info.st_nlink > 1:
        raise UnsupportedFileError(
            f"{_shown(path)} has {info.st_nlink} hard links (other names for the same file, "
            f"perhaps outside the workspace); writing to it is refused."
        )
    return stat.S_IMODE(info.st_mode)


def _walk(fd: int, prefix: str, depth: int, found: list[str], skipped: Counter[str]) -> None:
    """Adds the files under directory `fd` (closed afterwards) to `found`."""
    subdirs: list[str] = []
    with _fd(fd):
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith(_TEMP_PREFIX):
                        continue  # a write in progress
                    if not _usable(name):
                        skipped["names the tools cannot use"] += 1
                        continue
                    try:
                        if entry.is_symlink():
                            skipped["symbolic links"] += 1
                        elif entry.is_dir(follow_symlinks=False):
                            subdirs.append(name)
                        elif entry.is_file(follow_symlinks=False):
                            path = f"{prefix}/{name}"
                            if normalize_path(path) == path:
                                found.append(path)
                            else:
                                skipped["names the tools cannot use"] += 1
                        else:
                            skipped["special files"] += 1
                    except OSError:
                        continue  # removed while listing
        except OSError:
            skipped["unreadable directories"] += 1
            return
        for name in subdirs:
            if depth >= _MAX_DEPTH:
                skipped["directories nested too deep"] += 1
                continue
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:  # unreadable, or swapped for a link meanwhile
                skipped["unreadable directories"] += 1
                continue
            _walk(child, f"{prefix}/{name}", depth + 1, found, skipped)
