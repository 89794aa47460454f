"""Stream a zip archive of several files without a temporary file or a seekable output.

Formats made of several files (YOLO labels and ``data.yaml``, VOC XML per image, a saved
Hugging Face dataset) are downloaded as one zip. Members are written in the order given,
each from an iterator of bytes, so memory stays at one chunk. Timestamps and permissions
are fixed so the same members always give the same bytes (snapshots rely on it).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator

# 1980-01-01 is the zip format's earliest date: a fixed one keeps archives byte-identical.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class _Sink:
    """A write-only, non-seekable file for ``zipfile``: it keeps what was written until
    the generator below drains it (zipfile then writes data descriptors, no seeking)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def zip_stream(
    members: Iterable[tuple[str, Iterable[bytes]]], *, compress: bool = True
) -> Iterator[bytes]:
    """The bytes of a zip holding ``members`` (``(name, chunks)`` in order). Names are
    written as given: callers build them from safe parts (no ``..``, no leading ``/``)."""
    sink = _Sink()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(sink, "w", compression=method) as archive:  # type: ignore[arg-type]
        for name, chunks in members:
            if name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"unsafe member name {name!r}")
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                for chunk in chunks:
                    member.write(chunk)
                    if sink.position and len(sink.parts) > 16:
                        yield sink.drain()
            yield sink.drain()
    tail = sink.drain()
    if tail:
        yield tail
