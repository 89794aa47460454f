"""Write a spaCy ``DocBin`` (``.spacy``) without holding every ``Doc``: the same bytes as
``DocBin(store_user_data=True).to_bytes()`` over the same docs, in flat memory.

A ``.spacy`` file is one zlib-compressed msgpack map (see ``spacy/tokens/_serialize.py``):
``version``, ``attrs``, then ``tokens``, ``spaces`` and ``lengths`` (numpy arrays of all
docs, concatenated, as msgpack ``bin``), ``strings`` (sorted), and one item per doc in
``cats``, ``flags``, ``span_groups`` and ``user_data``. msgpack writes a ``bin``'s byte
length and an array's item count before its contents, and those are known only at the end,
so docs are encoded as ``DocBin.add`` would in small batches, each batch's sections
are appended to a temporary spool per section (zlib level 1, in memory up to 4 MB, then on
disk) and dropped, and the message is assembled from the spools at the end through one
``zlib.compressobj``. What stays in memory is the set of distinct strings (the vocabulary,
which grows far slower than the docs) and one batch.

A single msgpack ``bin`` holds at most 4 GiB, spaCy's own limit for one ``.spacy``
(``E870``): 13 attributes of 8 bytes per token, about 4 KB per 40-token doc, so about a
million such docs. The writer checks it before the first byte of the message goes out;
larger exports use shards.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

BATCH = 500  # docs encoded by one DocBin before its sections go to the spools
SPOOL_MEMORY = 4 * 1024 * 1024
CHUNK = 256 * 1024
BIN_LIMIT = 2**32 - 1


class TooLargeForOneDocBin(ValueError):
    """The token data passes msgpack's 4 GiB ``bin`` limit: use shards."""


def _bin_header(n: int) -> bytes:
    if n < 2**8:
        return b"\xc4" + struct.pack(">B", n)
    if n < 2**16:
        return b"\xc5" + struct.pack(">H", n)
    return b"\xc6" + struct.pack(">I", n)


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])
    if n < 2**16:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


class _Spool:
    """One section's bytes, compressed (zlib level 1) into a spooled temporary file."""

    def __init__(self) -> None:
        # closed by chunks(), or by docbin_chunks' finally when the export stops early
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
        self.zip = zlib.compressobj(1)
        self.size = 0  # uncompressed bytes
        self.items = 0

    def write(self, data: bytes, items: int = 0) -> None:
        self.size += len(data)
        self.items += items
        self.file.write(self.zip.compress(data))

    def chunks(self) -> Iterator[bytes]:
        """The section's bytes in pieces of at most CHUNK; closes the spool."""
        self.file.write(self.zip.flush())
        self.file.seek(0)
        unzip = zlib.decompressobj()
        try:
            while block := self.file.read(CHUNK):
                data = unzip.decompress(block, CHUNK)
                yield data
                while unzip.unconsumed_tail:
                    yield unzip.decompress(unzip.unconsumed_tail, CHUNK)
            yield unzip.flush()
        finally:
            self.file.close()


def docbin_chunks(docs: Iterable[Any], *, batch: int = BATCH) -> Iterator[bytes]:
    """The ``.spacy`` bytes of ``docs`` (user data stored), in pieces. Raises
    TooLargeForOneDocBin before the first byte when the token data passes 4 GiB."""
    from spacy.tokens import DocBin
    from srsly.msgpack import Packer

    packer = Packer(use_bin_type=True)  # what srsly.msgpack_dumps packs with
    byte_sections = {name: _Spool() for name in ("tokens", "spaces", "lengths")}
    item_sections = {name: _Spool() for name in ("cats", "flags", "span_groups", "user_data")}
    strings: set[str] = set()
    attrs = DocBin().attrs
    it = iter(docs)
    seen: set[int] = set()  # string hashes already resolved into ``strings``
    try:
        while some := list(islice(it, batch)):
            parts = _encode(some, attrs, packer, strings, seen)
            del some
            for name, spool in byte_sections.items():
                spool.write(parts[name])
            for name, spool in item_sections.items():
                spool.write(b"".join(parts[name]), len(parts[name]))
        if any(s.size > BIN_LIMIT for s in byte_sections.values()):
            raise TooLargeForOneDocBin(
                f"{byte_sections['tokens'].size:,} bytes of token data pass the 4 GiB of one "
                ".spacy file"
            )
        yield from _message(packer, attrs, strings, byte_sections, item_sections)
    finally:
        for spool in (*byte_sections.values(), *item_sections.values()):
            spool.file.close()


def _encode(
    batch: list[Any], attrs: list[int], packer: Any, strings: set[str], seen: set[int]
) -> dict[str, Any]:
    """What ``DocBin.add`` keeps of each doc, encoded as ``to_bytes`` writes it. The strings
    are read from the hashes in the token array (``DocBin.add`` asks every token for nine
    strings, about 60% of the export's time) plus the span labels; the export's docs
    have no span ``kb_id``/``id``, whose empty string is there anyway."""
    import numpy
    from spacy.attrs import SPACY

    arrays = [doc.to_array(attrs) for doc in batch]
    vocab_strings = batch[0].vocab.strings
    columns = [attrs.index(a) for a in _string_attrs() if a in attrs]
    hashes = set(numpy.unique(numpy.vstack(arrays)[:, columns]).tolist()) - seen
    strings.update(vocab_strings[h] for h in hashes)
    seen |= hashes
    for doc in batch:
        for group in doc.spans.values():
            strings.update(span.label_ for span in group)
    spaces = (numpy.asarray(doc.to_array(SPACY), dtype=bool).tobytes("C") for doc in batch)
    return {
        "tokens": b"".join(a.tobytes("C") for a in arrays),
        "spaces": b"".join(spaces),
        "lengths": numpy.asarray([len(a) for a in arrays], dtype="int32").tobytes("C"),
        "cats": [packer.pack(doc.cats) for doc in batch],
        "flags": [packer.pack({"has_unknown_spaces": doc.has_unknown_spaces}) for doc in batch],
        "span_groups": [packer.pack(doc.spans.to_bytes()) for doc in batch],
        "user_data": [packer.pack(packer.pack(doc.user_data)) for doc in batch],
    }


def _string_attrs() -> tuple[int, ...]:
    """The token attributes whose strings ``DocBin.add`` stores: text, tag, lemma, norm,
    morph, dep, entity type, entity KB id and entity id."""
    from spacy.attrs import DEP, ENT_ID, ENT_KB_ID, ENT_TYPE, LEMMA, MORPH, NORM, ORTH, TAG

    return (ORTH, TAG, LEMMA, NORM, MORPH, DEP, ENT_TYPE, ENT_KB_ID, ENT_ID)


def _message(
    packer: Any,
    attrs: list[int],
    strings: set[str],
    byte_sections: dict[str, _Spool],
    item_sections: dict[str, _Spool],
) -> Iterator[bytes]:
    """The compressed message, keys in ``DocBin.to_bytes``'s order."""
    out = zlib.compressobj()  # zlib.compress's default level, as DocBin.to_bytes
    yield out.compress(b"\x8a" + packer.pack("version") + packer.pack("0.1"))
    yield out.compress(packer.pack("attrs") + packer.pack(attrs))
    for name, spool in byte_sections.items():
        yield out.compress(packer.pack(name) + _bin_header(spool.size))
        for data in spool.chunks():
            yield out.compress(data)
    ordered = sorted(strings)
    yield out.compress(packer.pack("strings") + _array_header(len(ordered)))
    for at in range(0, len(ordered), 10_000):
        yield out.compress(b"".join(packer.pack(s) for s in ordered[at : at + 10_000]))
    del ordered
    for name, spool in item_sections.items():
        yield out.compress(packer.pack(name) + _array_header(spool.items))
        for data in spool.chunks():
            yield out.compress(data)
    yield out.flush()
