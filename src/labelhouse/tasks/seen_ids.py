"""The external ids one import has seen so far, with the place each first appeared.

An import streams, so it cannot look back in the file; to name "line 7 repeats line 3" it
must remember every id it let through. A Python dict of the ids would keep every id string
alive (about 140 MB for a million short ids, more for long ones). This table keeps a
fingerprint per id instead: 16 bytes a slot in two flat arrays, at most four slots an id
(32 MB for a million ids, whatever their length), open addressing in pure Python for the
per-row path and numpy only when the table doubles.

A fingerprint is 88 bits: Python's 64-bit string hash (SipHash with a per-process random
key) and 24 bits of the hash of the id with a NUL appended (an independent draw under the
same key). Two different ids of one file are taken for the same id with a probability
under 10⁻¹⁵ for a million ids; the same id always is.
"""

from __future__ import annotations

from array import array

PLACE_BITS = 40  # places (line numbers) up to a trillion
PLACE_MASK = (1 << PLACE_BITS) - 1
TAG_MASK = (1 << (64 - PLACE_BITS)) - 1
START_SLOTS = 1 << 12


def _tag(external_id: str) -> int:
    return hash(external_id + "\x00") & TAG_MASK


class SeenIds:
    """``add(id, place)`` is None the first time an id is added, else the place it was first
    added with."""

    __slots__ = ("_count", "_fingerprints", "_info", "_mask")

    def __init__(self) -> None:
        # slot i: the fingerprint's 64-bit hash (0: empty), and its tag above its place
        self._fingerprints = array("q", [0]) * START_SLOTS
        self._info = array("Q", [0]) * START_SLOTS
        self._mask = START_SLOTS - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return 16 * (self._mask + 1)

    def add(self, external_id: str, place: int) -> int | None:
        h = hash(external_id) or 1  # 0 marks an empty slot
        fingerprints = self._fingerprints
        mask = self._mask
        i = h & mask
        tag = -1
        while found := fingerprints[i]:
            if found == h:
                if tag < 0:
                    tag = _tag(external_id)
                info = self._info[i]
                if info >> PLACE_BITS == tag:
                    return info & PLACE_MASK
            i = (i + 1) & mask
        if tag < 0:
            tag = _tag(external_id)
        fingerprints[i] = h
        self._info[i] = tag << PLACE_BITS | min(place, PLACE_MASK)
        self._count += 1
        if 2 * self._count > mask:
            self._grow()
        return None

    def _grow(self) -> None:
        """Twice the slots, every entry moved in a few vectorised rounds: each round places,
        for every slot still wanted, the first entry wanting it if the slot is free, and
        moves the others one slot on (linear probing's order, so lookups find them)."""
        import numpy as np

        old_h = np.frombuffer(self._fingerprints, dtype=np.int64)
        used = old_h != 0
        hashes = old_h[used]
        infos = np.frombuffer(self._info, dtype=np.uint64)[used]
        del old_h, used
        size = 2 * (self._mask + 1)
        mask = size - 1
        fingerprints = array("q", [0]) * size
        info = array("Q", [0]) * size
        new_h = np.frombuffer(fingerprints, dtype=np.int64)
        new_info = np.frombuffer(info, dtype=np.uint64)
        want = hashes & mask  # the slot each entry tries next
        pending = np.arange(len(hashes))
        while pending.size:
            slots = want[pending]
            free = new_h[slots] == 0
            _, first = np.unique(slots[free], return_index=True)
            placed = pending[free][first]
            new_h[want[placed]] = hashes[placed]
            new_info[want[placed]] = infos[placed]
            waiting = np.ones(len(hashes), dtype=bool)
            waiting[placed] = False
            pending = pending[waiting[pending]]
            want[pending] = (want[pending] + 1) & mask
        del new_h, new_info  # release the arrays' buffers
        self._fingerprints, self._info, self._mask = fingerprints, info, mask
