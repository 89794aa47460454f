"""Media by URL at import: each reference checked (syntax, scheme, the lab's buckets, a
literal address), and an image's size filled in when the row does not give it.

Sizes are read at import, not lazily at first view: boxes are checked against them when
submitted, and exports carry them. The reads are bounded (the first 64 KiB, through the
safe client or a ranged S3 GET) and run ahead of the row checks on a few threads
(:meth:`RemoteSizes.prefetch`), so an import waits about one round trip per
``THREADS`` images; rows that give ``image_width`` and ``image_height`` are not fetched
at all (bench/media_url_import.py measures it; docs/import.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from labelhouse.errors import FetchFailed
from labelhouse.media.refs import RemoteRef, is_url
from labelhouse.media.sources import MediaSources

THREADS = 8
LOOKAHEAD_ROWS = 64
REMEMBERED = 10_000  # sizes kept for URLs named again later in the file
SIZE_KEYS = ("image_width", "image_height")


def has_size(data: dict[str, Any]) -> bool:
    return all(
        isinstance(data.get(k), int) and not isinstance(data.get(k), bool) and data[k] > 0
        for k in SIZE_KEYS
    )


class RemoteSizes:
    """Checks media URLs and finds image sizes for one import."""

    def __init__(self, media: MediaSources | None, media_keys: set[str]) -> None:
        self.media = media
        self.media_keys = media_keys
        self._sizes: OrderedDict[str, Future[tuple[int, int]]] = OrderedDict()
        self._pool: ThreadPoolExecutor | None = None

    def sources(self) -> MediaSources:
        if self.media is None:  # no configuration given: https to public addresses only
            self.media = MediaSources()
        return self.media

    def resolve(self, key: str, value: str, data: dict[str, Any]) -> list[str]:
        """Problems with ``data[key]`` (a URL); fills the image size in ``data``."""
        ref = self.sources().check(value)
        if isinstance(ref, str):
            return [f"'{key}' {value[:200]!r} cannot be used: {ref}"]
        if has_size(data):
            return []
        try:
            width, height = self._size(ref, ahead=False).result()
        except FetchFailed as failed:
            return [
                f"'{key}': the image's size could not be read from {failed.host}: "
                f"{failed.reason}; give image_width and image_height in the row to skip this"
            ]
        data.setdefault("image_width", width)
        data.setdefault("image_height", height)
        return []

    def prefetch(self, rows: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
        """``rows`` (where, row) unchanged, with the sizes of URLs in the next rows already
        asked for."""
        if not self.media_keys:
            yield from rows
            return
        window: list[Any] = []
        try:
            for item in rows:
                self._ask(item[1])
                window.append(item)
                if len(window) >= LOOKAHEAD_ROWS:
                    yield window.pop(0)
            yield from window
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def _ask(self, row: Any) -> None:
        if not isinstance(row, dict):
            return
        data = row["data"] if isinstance(row.get("data"), dict) else row
        if has_size(data):
            return
        for key in self.media_keys:
            value = data.get(key)
            if isinstance(value, str) and is_url(value) and value not in self._sizes:
                ref = self.sources().check(value)
                if isinstance(ref, RemoteRef):
                    self._size(ref)

    def _size(self, ref: RemoteRef, *, ahead: bool = True) -> Future[tuple[int, int]]:
        """The size, asked for on the pool (``ahead``: from :meth:`prefetch`), or now."""
        future = self._sizes.get(ref.url)
        if future is None or future.cancelled():
            if ahead:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="media-size")
                future = self._pool.submit(self.sources().image_size, ref)
            else:  # not prefetched (a checker used row by row)
                future = Future()
                try:
                    future.set_result(self.sources().image_size(ref))
                except FetchFailed as failed:
                    future.set_exception(failed)
            self._sizes[ref.url] = future
            if len(self._sizes) > REMEMBERED:
                self._sizes.popitem(last=False)
        return future
