"""Virtual files of Redis checkpoints, each distinct content stored once per thread.

A version's state is stored without `files` (format 2) beside a JSON map path ->
SHA-256 of the content; the contents live in a hash of the thread's own. Contents
are not shared between threads, so a thread's keys expire and are deleted
together, with no reference to count. A save sends only the contents the
checkpointer believes the thread lacks (`ThreadContents`); the save script checks
that belief, so a wrong one costs a retry, never a version without its files.
A version's images are contents of its map too (see _contents).
"""

from __future__ import annotations

from deepagents_nb.persistence._contents import (
    ContentHashes,
    ImageTexts,
    KnownContents,
    assemble_files,
    decode_file_map,
    encode_file_map,
    with_images,
)
from deepagents_nb.persistence._records import corrupt

Arg = str | bytes | int  # what the save script's arguments are made of


class Upload:
    """One save's files: the map, each distinct content, and the contents to send."""

    def __init__(
        self, refs: dict[str, str], contents: dict[str, str], known: frozenset[str]
    ) -> None:
        self.refs = encode_file_map(refs)
        self.contents = contents
        self.sent = [digest for digest in contents if digest not in known]

    def args(self) -> list[Arg]:
        """The save script's arguments from the map on: map, n, hashes, hash-content pairs."""
        pairs = [item for digest in self.sent for item in (digest, self.contents[digest])]
        return [self.refs, len(self.contents), *self.contents, *pairs]

    def resend(self, missing: list[bytes]) -> None:
        """The thread lacks `missing` (the belief was stale): send them too."""
        self.sent += [digest.decode() for digest in missing]


class ThreadContents:
    """Hashing a save's files, and the contents each thread is believed to hold."""

    def __init__(self) -> None:
        self._hashes = ContentHashes()
        self._texts = ImageTexts()
        self._known = KnownContents()

    def upload(
        self, thread_id: str, files: dict[str, str], images: dict[str, bytes | str]
    ) -> Upload:
        """What a save of `files` and `images` (from `dump_apart`) sends: the contents
        the thread is not known to hold."""
        files = with_images(files, images, self._texts)
        refs = {path: self._hashes(content) for path, content in files.items()}
        contents = {digest: files[path] for path, digest in refs.items()}
        return Upload(refs, contents, self._known.get(thread_id))

    def saved(self, thread_id: str, upload: Upload) -> None:
        """The thread holds the upload's contents now."""
        self._known.set(thread_id, upload.contents)

    def read(
        self, thread_id: str, version: int, refs: bytes, contents: list[bytes | None]
    ) -> dict[str, str]:
        """A version's files from its map and the contents the load script found, in order.

        The thread holds them, so a resumed run's next save need not send them.
        """
        paths = decode_file_map(thread_id, version, refs)
        if len(paths) != len(contents):  # the script read a hash for each path
            raise corrupt(thread_id, version, "the map of files is not a JSON object of hashes")
        found = {}
        for (path, digest), content in zip(paths.items(), contents, strict=True):
            try:
                if content is not None:
                    found[digest] = content.decode()
            except UnicodeDecodeError:
                msg = f"the content of {path!r} is not UTF-8"
                raise corrupt(thread_id, version, msg) from None
        files = assemble_files(thread_id, version, paths, found)
        self._known.set(thread_id, paths.values())
        return files

    def forget(self, thread_id: str) -> None:
        """The thread is gone (deleted)."""
        self._known.forget(thread_id)
