"""What backends that keep each distinct file content once share, whatever their SQL.

A version's row holds its state without `files` (format 2) and a map path -> SHA-256
of the content, in the order the files were saved; the contents live apart, one row
per distinct content. Writing the map, reading it back and putting a version's files
together from it are the same for every such backend (SQLite, PostgreSQL, Redis).

A state with images (format 3, see `serialization`) keeps them apart the same way:
each image's base64 text is one more content of the map, under a key its state
names it by, after the files. Stored, shared, freed and expired like a file's.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from deepagents_nb.persistence._records import corrupt
from deepagents_nb.serialization import image_text

T = TypeVar("T", str, bytes)


class _Remembered(Generic[T]):
    """What `compute` gives for the `str` (or `bytes`) objects seen lately.

    Each entry keeps its object alive, so its `id` cannot pass to another object
    while the entry exists; everything is forgotten at once when the entries would
    hold more than `limit` characters (or bytes).
    """

    def __init__(self, compute: Callable[[T], str], limit: int) -> None:
        self._compute: Callable[[T], str] = compute
        self._limit = limit
        self._seen: dict[int, tuple[T, str]] = {}
        self._size = 0

    def __call__(self, value: T) -> str:
        seen = self._seen.get(id(value))
        if seen is not None and seen[0] is value:
            return seen[1]
        result = self._compute(value)
        if self._size + len(value) > self._limit:
            self._seen.clear()
            self._size = 0
        self._seen[id(value)] = (value, result)
        self._size += len(value)
        return result


class ContentHashes(_Remembered[str]):
    """SHA-256 of file contents, remembered for the `str` objects seen lately.

    Successive states of a run share the `str` of every file a step left alone,
    so a save hashes only new contents.
    """

    def __init__(self, limit: int = 16 * 2**20) -> None:
        super().__init__(_sha256, limit)


class ImageTexts(_Remembered[bytes]):
    """The base64 text of images (`image_text`), remembered for the `bytes` objects seen lately.

    Successive states of a run share their messages, so their images' bytes: a
    save encodes only new images, and, the text being the same `str` object, its
    `ContentHashes` hashes only those too.
    """

    def __init__(self, limit: int = 16 * 2**20) -> None:
        super().__init__(image_text, limit)


def with_images(
    files: dict[str, str], images: dict[str, bytes | str], texts: ImageTexts
) -> dict[str, str]:
    """The contents a version keeps apart, by the keys of its map: its files, then its
    images' base64 text (`images` as `serialization.dump_apart` gives them)."""
    if not images:
        return files
    return {
        **files,
        **{key: text if isinstance(text, str) else texts(text) for key, text in images.items()},
    }


class KnownContents:
    """The content hashes each thread held when this process last saved or loaded it.

    Spares a save sending what its thread already holds, so a step that changed no
    file sends no content. Only a hint: another process may delete the thread (or
    its keys expire), so the store checks it when saving and asks for what is
    missing. Bounded by `limit` hashes in all; the threads used longest ago are
    forgotten first, which only makes their next save send its contents again.
    """

    def __init__(self, limit: int = 2**16) -> None:
        self._limit = limit
        self._threads: dict[str, frozenset[str]] = {}
        self._size = 0
        # The event loops sharing a checkpointer may run on different threads.
        self._lock = threading.Lock()

    def get(self, thread_id: str) -> frozenset[str]:
        return self._threads.get(thread_id, frozenset())

    def set(self, thread_id: str, hashes: Iterable[str]) -> None:
        """The thread holds (at least) `hashes`: those of the version just saved or loaded."""
        known = frozenset(hashes)
        with self._lock:
            self._size += len(known) - len(self._threads.pop(thread_id, frozenset()))
            self._threads[thread_id] = known  # last in order: used most recently
            while self._size > self._limit and len(self._threads) > 1:
                self._size -= len(self._threads.pop(next(iter(self._threads))))

    def forget(self, thread_id: str) -> None:
        with self._lock:
            self._size -= len(self._threads.pop(thread_id, frozenset()))


def encode_file_map(hashes: dict[str, str]) -> str:
    """The map path -> hash as compact JSON text, in the files' order."""
    return json.dumps(hashes, separators=(",", ":"), ensure_ascii=False)


def decode_file_map(thread_id: str, version: int, refs: Any) -> dict[str, str]:
    """A stored map path -> hash (JSON text, or what a driver parsed it into), checked."""
    if isinstance(refs, (str, bytes)):
        try:
            refs = json.loads(refs)
        except ValueError:
            raise corrupt(thread_id, version, "the map of files is not JSON") from None
    if not isinstance(refs, dict) or not all(isinstance(h, str) for h in refs.values()):
        raise corrupt(thread_id, version, "the map of files is not a JSON object of hashes")
    return refs


def assemble_files(
    thread_id: str,
    version: int,
    paths: dict[str, str],
    contents: Mapping[str, str],
    hashes: ContentHashes | None = None,
) -> dict[str, str]:
    """A version's files from its map and the contents found by hash, in the saved order.

    Each content is checked against its hash, so a content changed in the store
    is a `CorruptCheckpointError`, never a file the agent silently trusts.
    `hashes` (the backend's own) remembers the digests for the next save.
    """
    digest_of = hashes or _sha256
    files = {}
    for path, digest in paths.items():
        content = contents.get(digest)
        if content is None:
            raise corrupt(thread_id, version, f"the content of {path!r} ({digest}) is missing")
        if digest_of(content) != digest:
            raise corrupt(
                thread_id, version, f"the content of {path!r} does not match its hash {digest}"
            )
        files[path] = content
    return files


def _sha256(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()
