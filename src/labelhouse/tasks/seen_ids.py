"""The external ids one import has seen so far, with the place each first appeared.

An import streams, so it cannot look back in the file; to name "line 7 repeats line 3" it
must remember every id it let through. Kept in memory, even as a 16-byte fingerprint per id
(sorted numpy arrays, merged and copied), that grew with the file: +649 MB at the peak for
10,000,000 ids, nearly all of a 10M-row import's 774 MB (bench/bench_seen_ids.py; the same
import with a table that remembers nothing stayed at ~110 MB). So the fingerprints go to
disk, and the memory is bounded whatever the size (+71 MB at 10M ids, at the same CPU per
id: ~1.6 µs with making the id; a 10M-row import peaks at 186 MB):

* the latest ids in a dict (fingerprint → place), at most ``spill_at`` (65,536: ~7 MB);
* when it fills, they are sorted and written to a *run* (16 bytes an id) in an unlinked
  temporary file (gone when closed or when the process dies). Runs of equal size are
  merged, streaming a chunk at a time, so there are at most log2(ids / spill_at) + 1 of
  them (at most 8 at 10M ids) and each id is rewritten at most log2(ids / spill_at) times
  (~1.1 GB written at 10M, into the page cache; 160 MB of files at the end, up to twice
  that during a merge);
* in memory, beside each run, the first fingerprint of each 4 KB block of it (1/256 of the
  run), so that a lookup reads one block per run;
* a Bloom filter over the ids on disk (16 to 32 bits an id, two bits set per id), so that
  nearly every new id reads nothing: about 1 % of them find both bits set by chance. It
  stops growing at 32 MB (16M ids); past that more new ids read a block per run and an id
  costs more time, never more memory.

Blocks are read with ``pread``, not mapped: a mapped page counts in the process's RSS
while it stays mapped, a page read into the page cache does not, and the kernel reclaims
it under pressure like any cached file page.

Why not the alternatives: a compact open-addressing numpy table (8 bytes an entry) is still
~130 MB at 10M, more while it is resized, and grows without end; letting the database's
unique index find the repeats does not work on PostgreSQL's direct COPY path (a conflict
aborts the COPY) and would report a repeat only once its batch is written, after rows that
come later in the file.

The files go to the system's temporary folder (``TMPDIR``); where that is a tmpfs they take
memory after all (16 bytes an id, not counted in the import's RSS): set ``TMPDIR`` to a disk.

A fingerprint is 88 bits: Python's 64-bit string hash of the id (SipHash with a per-process
random key) and 24 bits of the hash of another string standing for it (the importer's dedup
key ``x:<id>``: an independent draw under the same key). Two different ids of one file are
taken for the same id with a probability of about 2 × 10⁻¹⁵ for a million ids; the same id
always is. Two ids whose 64-bit hashes collide are both kept exactly (a side table), so only
the full 88 bits can confuse them. A 64-bit hash is stored once, in the dict or in one run.
"""

from __future__ import annotations

import sys
import tempfile
from os import pread, pwrite
from typing import Any

import numpy as np

from labelhouse.errors import Unavailable

PLACE_BITS = 40  # places (line numbers) below 2**40: a trillion lines
PLACE_MASK = (1 << PLACE_BITS) - 1
TAG_MASK = (1 << (64 - PLACE_BITS)) - 1
INFO_MASK = (1 << 64) - 1  # an info is stored as an int64; read back unsigned
SPILL_AT = 1 << 16  # latest ids kept in the dict before they are written out
BITS_PER_ID = 16  # the filter has 16 to 32 bits per id on disk: 0.4-1.4 % of new ids read
FILTER_MIN_BITS = 1 << 19  # 64 KB
FILTER_MAX_BITS = 1 << 28  # 32 MB
BLOCK = 256  # entries of a run read by one lookup: 4 KB
CHUNK = 1 << 16  # entries a merge or a filter rebuild holds per run at once: 1 MB


class SeenIds:
    """``add(id, also, place)`` is None the first time an id is added, else the place it was
    first added with. ``close()`` drops the files (closing is also left to the collector)."""

    __slots__ = (
        "_bits",
        "_bits_mask",
        "_collided",
        "_dir",
        "_on_disk",
        "_recent",
        "_runs",
        "_spill_at",
    )

    def __init__(self, *, spill_at: int | None = None, spill_dir: str | None = None) -> None:
        """``spill_at``: the dict's size that writes a run (default :data:`SPILL_AT`, read
        now, so that tests can make it small); ``spill_dir``: where the files go (default:
        the system's temporary folder)."""
        self._recent: dict[int, int] = {}  # hash → tag << PLACE_BITS | place
        self._runs: list[_Run] = []  # oldest (largest) first
        self._on_disk = 0  # ids in the runs
        self._bits = bytearray(FILTER_MIN_BITS // 8)  # over the ids in the runs
        self._bits_mask = FILTER_MIN_BITS - 1
        self._collided: dict[tuple[int, int], int] = {}  # (hash, tag) → place
        self._spill_at = spill_at or SPILL_AT
        self._dir = spill_dir

    def __len__(self) -> int:
        return len(self._recent) + self._on_disk + len(self._collided)

    @property
    def nbytes(self) -> int:
        """What the table holds in memory (the dict with its int objects, the bit set, the
        runs' block indexes); what is on disk is :attr:`disk_bytes`."""
        recent = sys.getsizeof(self._recent) + 64 * len(self._recent)
        return recent + len(self._bits) + sum(run.fence.nbytes for run in self._runs)

    @property
    def disk_bytes(self) -> int:
        return 16 * self._on_disk

    @property
    def runs(self) -> int:
        return len(self._runs)

    def add(self, external_id: str, also: str, place: int) -> int | None:
        """``also`` is another string that stands for the id alone (the importer passes the
        dedup key ``x:<id>``, which exists anyway): its hash is the fingerprint's tag."""
        h = hash(external_id)
        found = self._recent.get(h)
        if found is None and self._runs:
            bits, mask = self._bits, self._bits_mask
            bit = h & mask
            if bits[bit >> 3] >> (bit & 7) & 1:
                bit = (h >> 32) & mask
                if bits[bit >> 3] >> (bit & 7) & 1:
                    try:
                        found = self._find_on_disk(h)
                    except OSError as exc:
                        raise self._failed(exc) from None
        tag = hash(also) & TAG_MASK
        if found is not None:
            if found >> PLACE_BITS == tag:
                return found & PLACE_MASK
            # Another id with the same 64-bit hash (or this one, seen after such a pair).
            first = self._collided.get((h, tag))
            if first is None:
                self._collided[(h, tag)] = place
            return first
        recent = self._recent
        recent[h] = tag << PLACE_BITS | place  # a place past 2**40 would spill into the tag
        if len(recent) >= self._spill_at:
            try:
                self._spill()
            except OSError as exc:  # the temporary folder is full or cannot be written
                raise self._failed(exc) from None
        return None

    def close(self) -> None:
        """Drop the files; the table forgets every id (an import calls it when done)."""
        for run in self._runs:
            run.close()
        self._runs, self._on_disk, self._recent, self._collided = [], 0, {}, {}
        self._bits, self._bits_mask = bytearray(FILTER_MIN_BITS // 8), FILTER_MIN_BITS - 1

    def _failed(self, exc: OSError) -> Unavailable:
        self.close()
        return Unavailable(
            "Nothing was imported: the list of the ids the import has seen could not be kept "
            f"in the temporary folder {self._dir or tempfile.gettempdir()} ({exc.strerror}). "
            "Free some space there, or set TMPDIR to a folder with room, and import again.",
            retry_after=60,
            hint=str(exc),
        )

    def _find_on_disk(self, h: int) -> int | None:
        for run in self._runs:
            found = run.get(h)
            if found is not None:
                return found
        return None

    def _spill(self) -> None:
        """The dict into a new run, its hashes into the bit set (rebuilt from every run at
        twice the size when it gets too full), then runs of equal size merged (a binary
        counter: their sizes stay distinct powers of two times spill_at)."""
        count = len(self._recent)
        pairs = np.empty((count, 2), np.int64)
        pairs[:, 0] = np.fromiter(self._recent.keys(), np.int64, count)
        pairs[:, 1] = np.fromiter(self._recent.values(), np.uint64, count).view(np.int64)
        self._recent = {}
        pairs = pairs[np.argsort(pairs[:, 0])]
        run = _Run(self._dir)
        run.append(pairs)
        self._runs.append(run)
        self._on_disk += count
        size = 1 << (BITS_PER_ID * self._on_disk - 1).bit_length()
        size = min(max(size, FILTER_MIN_BITS), FILTER_MAX_BITS)
        if size - 1 != self._bits_mask:
            self._bits_mask = size - 1
            self._bits = bytearray(0)  # the old one freed before the new one is taken
            self._bits = bytearray(size // 8)
            for old in self._runs:
                for chunk in old.chunks():
                    self._set_bits(chunk[:, 0])
        else:
            self._set_bits(pairs[:, 0])
        del pairs
        runs = self._runs
        while len(runs) >= 2 and runs[-2].count <= runs[-1].count:
            newer, older = runs.pop(), runs.pop()
            runs.append(_merged(older, newer, self._dir))

    def _set_bits(self, hashes: Any) -> None:
        bits = np.frombuffer(self._bits, dtype=np.uint8)
        for slots in (hashes & self._bits_mask, (hashes >> 32) & self._bits_mask):
            np.bitwise_or.at(bits, slots >> 3, np.left_shift(1, slots & 7).astype(np.uint8))


class _Run:
    """Sorted (hash, info) pairs in an unlinked temporary file, with the first hash of each
    block in memory."""

    __slots__ = ("count", "fd", "fence", "file")

    def __init__(self, spill_dir: str | None) -> None:
        # Kept open for the run's life, closed by close() (or by the collector).
        self.file = tempfile.TemporaryFile(dir=spill_dir, prefix="labelhouse-seen-ids-")  # noqa: SIM115
        self.fd = self.file.fileno()
        self.count = 0
        self.fence: Any = np.empty(0, np.int64)

    def append(self, pairs: Any) -> None:
        """Pairs sorted after every pair already appended."""
        view = np.ascontiguousarray(pairs).data.cast("B")
        offset = 16 * self.count
        while view:
            written = pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written
        self.fence = np.concatenate((self.fence, pairs[-self.count % BLOCK :: BLOCK, 0]))
        self.count += len(pairs)

    def read(self, start: int, count: int) -> Any:
        count = min(count, self.count - start)
        data = pread(self.fd, 16 * count, 16 * start)
        return np.frombuffer(data, np.int64).reshape(-1, 2)

    def chunks(self) -> Any:
        for start in range(0, self.count, CHUNK):
            yield self.read(start, CHUNK)

    def get(self, h: int) -> int | None:
        block = int(np.searchsorted(self.fence, h, "right")) - 1
        if block < 0:
            return None
        pairs = self.read(block * BLOCK, BLOCK)
        i = int(np.searchsorted(pairs[:, 0], h))
        if i < len(pairs) and int(pairs[i, 0]) == h:
            return int(pairs[i, 1]) & INFO_MASK
        return None

    def close(self) -> None:
        self.file.close()


def _merged(older: _Run, newer: _Run, spill_dir: str | None) -> _Run:
    """One run of both, a chunk of each at a time. A pair is written once no pair still
    unread in either run can sort before it (the smaller of the two chunks' last hashes)."""
    out = _Run(spill_dir)
    runs = (older, newer)
    read = [0, 0]
    held = [older.read(0, 0), newer.read(0, 0)]
    while True:
        for k in (0, 1):
            if not len(held[k]) and read[k] < runs[k].count:
                held[k] = runs[k].read(read[k], CHUNK)
                read[k] += len(held[k])
        if not len(held[0]) and not len(held[1]):
            break
        lasts = [int(held[k][-1, 0]) for k in (0, 1) if read[k] < runs[k].count]
        take = [len(held[k]) for k in (0, 1)]
        if lasts:
            take = [int(np.searchsorted(held[k][:, 0], min(lasts), "right")) for k in (0, 1)]
        part = np.concatenate((held[0][: take[0]], held[1][: take[1]]))
        out.append(part[np.argsort(part[:, 0], kind="stable")])
        held = [held[0][take[0] :], held[1][take[1] :]]
    older.close()
    newer.close()
    return out
