"""Compact in-memory stores for the mocks: millions of pre-serialised records, sorted by IIN.

A dict of twelve million ``bytes`` keyed by ``str`` costs about 450 bytes a person; here every
answer lives in one ``bytearray`` and the IIN order in three typed arrays (20 bytes a record),
so a 12-million-person registry fits in roughly its file size. Lookups are binary searches,
and the sorted order is what the paged IIN listing walks.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left


class RecordStoreBuilder:
    """Collects (IIN, answer bytes, line number) in file order, then sorts once."""

    def __init__(self) -> None:
        self._keys = array("q")
        self._offsets = array("q")
        self._lengths = array("I")
        self._lines = array("q")
        self._blob = bytearray()

    def add(self, iin: str, answer: bytes, line_number: int) -> int:
        """Keep one record; returns where its bytes start (for ``RecordStore.at``)."""
        offset = len(self._blob)
        self._keys.append(int(iin))
        self._offsets.append(offset)
        self._lengths.append(len(answer))
        self._lines.append(line_number)
        self._blob += answer
        return offset

    def build(self) -> RecordStore:
        keys = self._keys
        # Stable: records of one IIN keep their file order.
        order = sorted(range(len(keys)), key=keys.__getitem__)
        store = RecordStore(
            keys=array("q", (keys[i] for i in order)),
            offsets=array("q", (self._offsets[i] for i in order)),
            lengths=array("I", (self._lengths[i] for i in order)),
            lines=array("q", (self._lines[i] for i in order)),
            blob=self._blob,
        )
        self._keys, self._offsets, self._lengths, self._lines = (array("q") for _ in range(4))
        self._blob = bytearray()
        return store


class RecordStore:
    """Answers in IIN order; one IIN may own several records (registrations)."""

    def __init__(
        self,
        *,
        keys: array[int],
        offsets: array[int],
        lengths: array[int],
        lines: array[int],
        blob: bytearray,
    ) -> None:
        self._keys = keys
        self._offsets = offsets
        self._lengths = lengths
        self._lines = lines
        self._blob = blob
        # Slices of a memoryview are zero-copy; bytes.join and %-formatting take them as is.
        self._view = memoryview(blob)

    def __len__(self) -> int:
        return len(self._keys)

    def _record(self, index: int) -> memoryview:
        start = self._offsets[index]
        return self._view[start : start + self._lengths[index]]

    def first_duplicate_line(self) -> int | None:
        """The line number of the first record whose IIN an earlier line already holds."""
        keys, lines = self._keys, self._lines
        later = [lines[i] for i in range(1, len(keys)) if keys[i] == keys[i - 1]]
        return min(later) if later else None

    def one(self, iin: str) -> memoryview | None:
        """The first record of this IIN, or None."""
        key = int(iin)
        keys = self._keys
        index = bisect_left(keys, key)
        if index < len(keys) and keys[index] == key:
            return self._record(index)
        return None

    def all_of(self, iin: str) -> list[memoryview]:
        """Every record of this IIN in file order (empty if none)."""
        key = int(iin)
        keys = self._keys
        index = bisect_left(keys, key)
        found: list[memoryview] = []
        while index < len(keys) and keys[index] == key:
            found.append(self._record(index))
            index += 1
        return found

    def at(self, offset: int, length: int) -> bytes:
        """The bytes ``RecordStoreBuilder.add`` kept at ``offset``."""
        return bytes(self._view[offset : offset + length])

    # The paged listing (registry only, where every IIN holds one record).

    def iins_page(self, position: int, limit: int) -> list[str]:
        """Up to ``limit`` IINs from ``position`` in ascending order, zero-padded to 12."""
        return [f"{key:012d}" for key in self._keys[position : position + limit]]

    def snapshot(self) -> str:
        """A digest of the IIN set: a resumed walk can tell that the data changed under it."""
        return hashlib.sha256(self._keys.tobytes()).hexdigest()[:32]
