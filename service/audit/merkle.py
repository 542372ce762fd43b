"""The audit log as a Merkle tree in the RFC 9162 layout: hashes, a compact range, proofs.

Standard library only, like ``chain.py``, so an observer can run it without the service.

**Leaves.** The leaf for an audit entry is its canonical body (``chain.canonical_body``) as
stored, encoded as UTF-8: ``leaf_hash(body.encode("utf-8"))``. The body names its own ``seq``,
so a leaf cannot be shown at another position. A receipt ``{seq, entry_hash}`` maps to the leaf
at index ``seq - 1`` (seqs start at 1, leaf indexes at 0; ``leaf_index``). To check a receipt,
the verifier gets the entry's body and ``prev_hash`` with the inclusion proof: the chain's
``entry_hash(prev_hash, body)`` must equal the receipt's ``entry_hash``, the body must claim the
receipt's ``seq``, and ``leaf_hash`` of the body must verify at index ``seq - 1`` against a
signed checkpoint's root. The tree does not hash ``prev_hash``: it stands on the bodies alone,
so it and the chain are two independent witnesses of the same entries.

**Appending.** ``CompactRange`` holds the roots of the perfect subtrees that make up the tree
(one per set bit of its size, so at most 64 for any log that fits in 64 bits): an append hashes
one leaf into it and merges as many subtrees as the new size has trailing zero bits, one node
hash on average, and the root of the whole tree is a fold over at most log2(n) hashes. Each
append reports the perfect subtrees it completed (``Subtree``); storing those is all that proofs
need.

**Proofs.** ``inclusion_proof`` and ``consistency_proof`` follow PATH and PROOF of RFC 9162
§2.1.3.1 and §2.1.4.1 but read only hashes of perfect subtrees through ``SubtreeHashes``: the
subtree of ``2**level`` leaves starting at leaf ``index * 2**level``. A proof node is either
such a subtree or the right edge of the tree, whose hash folds O(log n) perfect subtrees, so a
proof reads O(log n) stored hashes. A tree of n leaves has ``2n - popcount(n)`` perfect
subtrees (n leaves, n/2 pairs, n/4 quads, ...): about **two stored rows per leaf**, each
``(level, index, 32-byte hash)``, all written when the leaf is appended and never changed.
``MemorySubtreeHashes`` keeps them in lists; the database will keep the same rows.

**Verification.** ``verify_inclusion`` (§2.1.3.2) and ``verify_consistency`` (§2.1.4.2) run
the RFC's iterative algorithms step by step and return False, never raise, for any proof,
size or hash an untrusted server may send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x00 || entry)."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def leaf_index(seq: int) -> int:
    """The leaf index of the audit entry ``seq`` (seqs start at 1, indexes at 0)."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError("an audit seq is an integer from 1")
    return seq - 1


# (level, index, hash): the perfect subtree of ``2**level`` leaves starting at leaf
# ``index * 2**level``. A bare tuple, as appends build two of them on the check path.
Subtree = tuple[int, int, bytes]


class SubtreeHashes(Protocol):
    """Where proofs read the hashes of perfect subtrees; raises LookupError for one it lacks."""

    def hash_of(self, level: int, index: int) -> bytes: ...


class CompactRange:
    """The perfect subtrees covering leaves ``[0, size)``, largest first: O(log n) memory.

    ``append`` takes a leaf hash and costs, amortised, one node hash; ``root`` folds at most
    log2(size) hashes and is cached until the next append.
    """

    __slots__ = ("_hashes", "_root", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []
        self._root: bytes | None = EMPTY_ROOT

    @classmethod
    def from_subtrees(cls, hashes: SubtreeHashes, size: int) -> CompactRange:
        """The range of a tree of ``size`` leaves, read from stored subtrees (a restart)."""
        if size < 0:
            raise ValueError("a tree size is not negative")
        compact = cls()
        compact._size = size
        compact._hashes = [hashes.hash_of(level, index) for level, index in _frontier(size)]
        compact._root = None
        return compact

    @property
    def size(self) -> int:
        return self._size

    def copy(self) -> CompactRange:
        """An independent range of the same tree (appends to one do not touch the other)."""
        twin = CompactRange()
        twin._size = self._size
        twin._hashes = list(self._hashes)
        twin._root = self._root
        return twin

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The subtree roots, largest (leftmost) first: one per set bit of ``size``."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[Subtree]:
        """Add a leaf hash (``leaf_hash(entry)``); return the perfect subtrees it completed.

        The first is the leaf itself, then one per merge, each larger than the one before.
        """
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        index = self._size
        hashes = self._hashes
        completed: list[Subtree] = [(0, index, leaf)]
        current = leaf
        level = 0
        # Every trailing one bit of the old size is a subtree of the same size as the new
        # one on its left: merge it, as a binary counter carries (node_hash inlined, as the
        # call is a good part of an append's cost).
        while index & 1:
            current = _sha256(_NODE_PREFIX + hashes.pop() + current).digest()
            level += 1
            index >>= 1
            completed.append((level, index, current))
        hashes.append(current)
        self._size += 1
        self._root = None
        return completed

    def root(self) -> bytes:
        """MTH over every leaf appended so far (RFC 9162 §2.1.1)."""
        if self._root is None:
            self._root = _fold(self._hashes)
        return self._root


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The root over perfect subtrees given largest first: each one is the left sibling of
    everything to its right, as MTH splits off the largest power of two on the left."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for left in reversed(hashes[:-1]):
        root = node_hash(left, root)
    return root


def frontier(size: int) -> list[tuple[int, int]]:
    """The (level, index) of the perfect subtrees, largest first, whose roots make up the
    compact range of a tree of ``size`` leaves: all an append needs to read."""
    if size < 0:
        raise ValueError("a tree size is not negative")
    return _frontier(size)


def _frontier(size: int, start: int = 0) -> list[tuple[int, int]]:
    """The (level, index) of the perfect subtrees, largest first, that cover leaves
    ``[start, start + size)`` when ``start`` is a multiple of a power of two no smaller than
    ``size`` (every node of an RFC 9162 tree is)."""
    nodes = []
    position = start
    for level in range(size.bit_length() - 1, -1, -1):
        width = 1 << level
        if size & width:
            if position % width:
                raise ValueError(f"[{start}, {start + size}) is not a node of the tree")
            nodes.append((level, position >> level))
            position += width
    return nodes


def _range_hash(hashes: SubtreeHashes, start: int, end: int) -> bytes:
    """MTH of leaves ``[start, end)``, a node of the tree: O(log n) stored hashes."""
    nodes = _frontier(end - start, start)
    return _fold([hashes.hash_of(level, index) for level, index in nodes])


def root_at(hashes: SubtreeHashes, size: int) -> bytes:
    """The root of the tree when it had ``size`` leaves (a past checkpoint's root)."""
    if size < 0:
        raise ValueError("a tree size is not negative")
    return _range_hash(hashes, 0, size)


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size > 1): RFC 9162's k."""
    return 1 << ((size - 1).bit_length() - 1)


def inclusion_proof(hashes: SubtreeHashes, *, index: int, tree_size: int) -> list[bytes]:
    """PATH(index, D[tree_size]) of RFC 9162 §2.1.3.1, the sibling nearest the leaf first."""
    if not 0 <= index < tree_size:
        raise ValueError("the leaf index must lie in [0, tree_size)")
    siblings: list[bytes] = []
    start, end = 0, tree_size
    # Walk down from the root; each step keeps the half holding the leaf and notes the other.
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            siblings.append(_range_hash(hashes, middle, end))
            end = middle
        else:
            siblings.append(_range_hash(hashes, start, middle))
            start = middle
    siblings.reverse()
    return siblings


def consistency_proof(hashes: SubtreeHashes, *, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) of RFC 9162 §2.1.4.1 (empty when the sizes are equal)."""
    if not 0 < first <= second:
        raise ValueError("a consistency proof needs 0 < first <= second")
    nodes: list[bytes] = []
    start, end, known = 0, second, True
    # SUBPROOF walked from the root down: ``first - start`` leaves of [start, end) are old.
    while end != first:
        middle = start + _split(end - start)
        if first <= middle:
            nodes.append(_range_hash(hashes, middle, end))
            end = middle
        else:
            nodes.append(_range_hash(hashes, start, middle))
            start = middle
            known = False
    if not known:
        # The old tree's last subtree is not one the verifier holds the root of: send it.
        nodes.append(_range_hash(hashes, start, end))
    nodes.reverse()
    return nodes


def _are_hashes(hashes: Iterable[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    *, leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` place the leaf hash ``leaf`` at ``index``?"""
    # 1. The index must lie inside the tree (and every hash be a SHA-256 one, as
    # transparency-dev/merkle requires: an empty leaf must not match an empty root).
    if not 0 <= index < tree_size or not _are_hashes([leaf, *proof]):
        return False
    # 2., 3.
    fn, sn = index, tree_size - 1
    r = leaf
    # 4.
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    # 5.
    return sn == 0 and r == root


def verify_consistency(
    *, first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree of ``second`` leaves an extension of that of ``first``?

    Equal sizes prove consistency with an empty proof and equal roots. A first size of 0 is
    refused, as by transparency-dev/merkle: every tree extends the empty one, which proves
    nothing about this log.
    """
    if not 0 < first <= second or not _are_hashes(proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    # 1.
    path = list(proof)
    if not path:
        return False
    # 2. A power of two old tree is itself a node of the new one: the verifier knows it.
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    # 3., 4.
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    return fr == first_root and sr == second_root and sn == 0


class MemorySubtreeHashes:
    """Every perfect subtree hash of a growing tree, in memory: what the database will store.

    ``levels[level][index]`` is the hash of the subtree (level, index); about two per leaf.
    """

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = []
        self._range = CompactRange()
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        return self._range.size

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; return its index."""
        index = self._range.size
        for level, _, digest in self._range.append(leaf):
            if level == len(self._levels):
                self._levels.append([])
            self._levels[level].append(digest)
        return index

    def root(self) -> bytes:
        return self._range.root()

    def stored(self) -> int:
        """How many subtree hashes are held: ``2 * size - popcount(size)``."""
        return sum(len(level) for level in self._levels)

    def hash_of(self, level: int, index: int) -> bytes:
        if level < 0 or index < 0 or level >= len(self._levels):
            raise LookupError(f"no subtree ({level}, {index})")
        row = self._levels[level]
        if index >= len(row):
            raise LookupError(f"no subtree ({level}, {index})")
        return row[index]


class FetchedSubtrees:
    """Subtree hashes fetched ahead (from the database), keyed by (level, index)."""

    def __init__(self, hashes: Mapping[tuple[int, int], bytes]) -> None:
        self._hashes = hashes

    def hash_of(self, level: int, index: int) -> bytes:
        try:
            return self._hashes[(level, index)]
        except KeyError:
            raise LookupError(f"no subtree ({level}, {index})") from None


class _Recorder:
    """Answers every question with a placeholder hash and remembers the question."""

    def __init__(self) -> None:
        self.asked: dict[tuple[int, int], None] = {}

    def hash_of(self, level: int, index: int) -> bytes:
        self.asked[(level, index)] = None
        return EMPTY_ROOT


def subtrees_read(compute: Callable[[SubtreeHashes], object]) -> list[tuple[int, int]]:
    """Every (level, index) that ``compute`` reads, in order of first reading.

    Which subtrees a proof or a root reads depends only on sizes and indexes, never on the
    hashes, so a dry run names them all and the database fetches them in one query.
    """
    recorder = _Recorder()
    compute(recorder)
    return list(recorder.asked)
