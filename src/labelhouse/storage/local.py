"""Local-folder storage: atomic writes (temp file + rename), paths confined to the root."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from labelhouse.errors import InvalidInput, Problem
from labelhouse.storage.base import StorageKeyError, check_key

# Less free space than this and the folder counts as unavailable.
MIN_FREE_BYTES = 1 << 20


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):
            raise StorageKeyError(f"key escapes the storage root: {key!r}")
        return path

    def put(self, key: str, source: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path.stat().st_size

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def path(self, key: str) -> Path:
        """The file behind ``key`` (downloads hand it to the web server's file response,
        which answers Range requests itself)."""
        return self._path(key)

    def iter_range(
        self, key: str, start: int, end: int, chunk_size: int = 65536
    ) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` inclusive."""
        with self.open(key) as f:
            f.seek(start)
            left = end - start + 1
            while left > 0 and (chunk := f.read(min(chunk_size, left))):
                left -= len(chunk)
                yield chunk

    def iter_bytes(self, key: str, chunk_size: int = 65536) -> Iterator[bytes]:
        with self.open(key) as f:
            while chunk := f.read(chunk_size):
                yield chunk

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def check(self) -> None:
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise InvalidInput(
                f"The storage folder {self.root} is not writable.",
                [Problem("LABELHOUSE_STORAGE_DIR", "not writable by this user")],
            )

    def healthy(self) -> bool:
        try:
            return (
                self.root.is_dir()
                and os.access(self.root, os.W_OK | os.X_OK)
                and shutil.disk_usage(self.root).free >= MIN_FREE_BYTES
            )
        except OSError:
            return False
