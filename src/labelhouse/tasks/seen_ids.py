"""The external ids one import has seen so far, with the place each first appeared.

An import streams, so it cannot look back in the file; to name "line 7 repeats line 3" it
must remember every id it let through. A dict of the id strings would keep every string alive
(about 120 MB for a million short ids, more for long ones). This keeps a fingerprint per id
instead, whatever its length:

* the latest ids in a dict (fingerprint → place), at most a sixteenth of the others or 65,536;
* the others in two sorted numpy arrays (16 bytes an id), merged from the dict when it fills;
* a Bloom filter over the sorted ones (2 to 4 bytes an id, two bits set per id), so that
  nearly every new id skips the binary search: about 1 % of them find both its bits set by
  chance.

For a million ids: about 50 MB at the peak (the sorted arrays while a merge copies them),
0.8 µs an id alone and 1.2 µs inside an import, where the rest of the row competes for the
cache (bench/bench_seen_ids.py; a dict of the id strings: +127 MB and 0.4 µs).

A fingerprint is 88 bits: Python's 64-bit string hash of the id (SipHash with a per-process
random key) and 24 bits of the hash of another string standing for it (the importer's dedup
key ``x:<id>``: an independent draw under the same key). Two different ids of one file are
taken for the same id with a probability of about 2 × 10⁻¹⁵ for a million ids; the same id
always is. Two ids whose 64-bit hashes collide are both kept exactly (a side table), so only the
full 88 bits can confuse them.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

PLACE_BITS = 40  # places (line numbers) below 2**40: a trillion lines
PLACE_MASK = (1 << PLACE_BITS) - 1
TAG_MASK = (1 << (64 - PLACE_BITS)) - 1
RECENT_MIN = 1 << 16
BITS_PER_ID = 16  # the filter has 16 to 32 bits per merged id: 0.4-1.4 % of new ids search


class SeenIds:
    """``add(id, also, place)`` is None the first time an id is added, else the place it was
    first added with."""

    __slots__ = ("_bits", "_bits_mask", "_collided", "_hashes", "_infos", "_limit", "_recent")

    def __init__(self) -> None:
        self._recent: dict[int, int] = {}  # hash → tag << PLACE_BITS | place
        self._hashes: Any = np.empty(0, np.int64)  # merged ones, sorted
        self._infos: Any = np.empty(0, np.uint64)
        self._bits = bytearray(RECENT_MIN // 8)
        self._bits_mask = RECENT_MIN - 1
        self._collided: dict[tuple[int, int], int] = {}  # (hash, tag) → place
        self._limit = RECENT_MIN  # the dict's size that starts a merge

    def __len__(self) -> int:
        return len(self._recent) + len(self._hashes) + len(self._collided)

    @property
    def nbytes(self) -> int:
        """What the table holds (the dict with its int objects, arrays, bit set)."""
        recent = sys.getsizeof(self._recent) + 64 * len(self._recent)
        return recent + self._hashes.nbytes + self._infos.nbytes + len(self._bits)

    def add(self, external_id: str, also: str, place: int) -> int | None:
        """``also`` is another string that stands for the id alone (the importer passes the
        dedup key ``x:<id>``, which exists anyway): its hash is the fingerprint's tag."""
        h = hash(external_id)
        found = self._recent.get(h)
        if found is None:
            bits, mask = self._bits, self._bits_mask
            bit = h & mask
            if bits[bit >> 3] >> (bit & 7) & 1:
                bit = (h >> 32) & mask
                if bits[bit >> 3] >> (bit & 7) & 1:
                    found = self._merged(h)
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
        if len(recent) >= self._limit:
            self._merge()
        return None

    def _merged(self, h: int) -> int | None:
        i = int(np.searchsorted(self._hashes, h))
        if i < len(self._hashes) and int(self._hashes[i]) == h:
            return int(self._infos[i])
        return None

    def _merge(self) -> None:
        """The dict into the sorted arrays (one copy of them: the merge's peak), and their
        hashes into the bit set (rebuilt at twice the size when it gets too full)."""
        count = len(self._recent)
        hashes = np.fromiter(self._recent.keys(), np.int64, count)
        infos = np.fromiter(self._recent.values(), np.uint64, count)
        self._recent = {}
        order = np.argsort(hashes)
        hashes, infos = hashes[order], infos[order]
        at = np.searchsorted(self._hashes, hashes)
        self._hashes = np.insert(self._hashes, at, hashes)
        self._infos = np.insert(self._infos, at, infos)
        self._limit = max(RECENT_MIN, len(self._hashes) >> 4)
        size = 1 << max(
            RECENT_MIN.bit_length() - 1, (BITS_PER_ID * len(self._hashes) - 1).bit_length()
        )
        if size - 1 != self._bits_mask:
            self._bits_mask = size - 1
            self._bits = bytearray(size // 8)
            hashes = self._hashes
        bits = np.frombuffer(self._bits, dtype=np.uint8)
        for slots in (hashes & self._bits_mask, (hashes >> 32) & self._bits_mask):
            np.bitwise_or.at(bits, slots >> 3, np.left_shift(1, slots & 7).astype(np.uint8))
