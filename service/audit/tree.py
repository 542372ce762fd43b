"""The Merkle tree's stored perfect subtrees (``audit_tree``): written with each append, read for
roots and proofs in a fixed number of queries.

``merkle.py`` holds the hashing and the proofs; this module only moves ``(level, node, hash)``
rows. An append reads the compact range at the head (``merkle.frontier``: one subtree per set
bit of the size) and inserts the subtrees its entries complete. A proof or a past root first
finds which subtrees it reads with a dry run (``merkle.subtrees_read``), then fetches them all
at once: O(log n) rows in one SELECT, whatever the size of the log. Subtrees below
``AUDIT_TREE_LOWEST_LEVEL`` are not stored; those asked for are hashed again from the entries'
bodies, fetched in one more SELECT (a few bodies: at most three per subtree).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import TypeVar

from sqlalchemy import Connection

from service.audit import merkle
from service.audit.merkle import (
    CompactRange,
    FetchedSubtrees,
    Subtree,
    SubtreeHashes,
    leaf_hash,
)
from service.audit.tables import AUDIT_TREE_LOWEST_LEVEL, AuditTreeRow
from service.db.engine import insert_rows, placeholder

T = TypeVar("T")
TREE = AuditTreeRow.metadata.tables["audit_tree"]
_TREE_COLUMNS = ("level", "node", "hash")
_COPY_TREE = "COPY audit_tree (level, node, hash) FROM STDIN"
_COPY_FROM = 1000  # rows; below this an executemany costs less than setting up a COPY


@cache
def _select(paramstyle: str, count: int) -> str:
    mark = placeholder(paramstyle)
    wanted = " OR ".join([f"(level = {mark} AND node = {mark})"] * count)
    # Only placeholders are interpolated: every value is bound.
    return f"SELECT level, node, hash FROM audit_tree WHERE {wanted}"  # noqa: S608


@cache
def _select_bodies(paramstyle: str, count: int) -> str:
    marks = ", ".join([placeholder(paramstyle)] * count)
    return f"SELECT seq, body FROM audit_entries WHERE seq IN ({marks})"  # noqa: S608


def is_stored(subtree: Subtree | tuple[int, int]) -> bool:
    return subtree[0] >= AUDIT_TREE_LOWEST_LEVEL


def read_subtrees(connection: Connection, keys: Sequence[tuple[int, int]]) -> FetchedSubtrees:
    """The hashes of the subtrees ``keys`` (level, node): the stored ones in one SELECT, the
    low ones from the entries' bodies in another; a missing one is a LookupError when asked
    for."""
    stored = [key for key in keys if is_stored(key)]
    hashes: dict[tuple[int, int], bytes] = {}
    if stored:
        parameters = tuple(value for key in stored for value in key)
        statement = _select(connection.dialect.paramstyle, len(stored))
        for level, node, digest in connection.exec_driver_sql(statement, parameters):
            hashes[(int(level), int(node))] = bytes(digest)
    low = [key for key in keys if not is_stored(key)]
    if low:
        hashes.update(_hashed_from_bodies(connection, low))
    return FetchedSubtrees(hashes)


def _hashed_from_bodies(
    connection: Connection, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Subtrees below the stored levels, hashed from the bodies of the entries they cover."""
    spans = {key: range((key[1] << key[0]) + 1, ((key[1] + 1) << key[0]) + 1) for key in keys}
    seqs = sorted({seq for span in spans.values() for seq in span})
    rows = connection.exec_driver_sql(
        _select_bodies(connection.dialect.paramstyle, len(seqs)), tuple(seqs)
    )
    leaves = {int(seq): leaf_hash(str(body).encode("utf-8")) for seq, body in rows}
    hashes = {}
    for key, span in spans.items():
        if all(seq in leaves for seq in span):
            subtree = CompactRange()
            for seq in span:
                subtree.append(leaves[seq])
            hashes[key] = subtree.root()
    return hashes


@cache
def _select_ranges(paramstyle: str, count: int) -> str:
    mark = placeholder(paramstyle)
    wanted = " OR ".join([f"(level = {mark} AND node BETWEEN {mark} AND {mark})"] * count)
    return f"SELECT level, node, hash FROM audit_tree WHERE {wanted}"  # noqa: S608


def read_ranges(
    connection: Connection, ranges: Sequence[tuple[int, int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored subtrees of each (level, first node, last node) range, in one SELECT:
    verification compares a batch of entries' subtrees, a few node ranges per level."""
    if not ranges:
        return {}
    parameters = tuple(value for span in ranges for value in span)
    rows = connection.exec_driver_sql(
        _select_ranges(connection.dialect.paramstyle, len(ranges)), parameters
    )
    return {(int(level), int(node)): bytes(h) for level, node, h in rows}


def compact_range(connection: Connection, size: int) -> CompactRange:
    """The compact range of the first ``size`` leaves, read from the stored subtrees."""
    keys = merkle.frontier(size)
    return CompactRange.from_subtrees(read_subtrees(connection, keys), size)


def store_subtrees(connection: Connection, subtrees: Sequence[Subtree]) -> None:
    """Insert the subtrees an append completed (``CompactRange.append``) from the stored
    levels: one executemany, or on PostgreSQL for a large batch (the voter-list compile's)
    one COPY."""
    subtrees = [subtree for subtree in subtrees if is_stored(subtree)]
    if len(subtrees) >= _COPY_FROM and connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(_COPY_TREE) as copy:
            for row in subtrees:
                copy.write_row(row)
        return
    insert_rows(connection, TREE, _TREE_COLUMNS, subtrees)


def _prefetched(connection: Connection, compute: Callable[[SubtreeHashes], T]) -> T:
    return compute(read_subtrees(connection, merkle.subtrees_read(compute)))


def root_at(connection: Connection, size: int) -> bytes:
    """The root of the tree when it had ``size`` leaves."""
    return _prefetched(connection, lambda hashes: merkle.root_at(hashes, size))


def inclusion_proof(connection: Connection, *, index: int, tree_size: int) -> list[bytes]:
    return _prefetched(
        connection,
        lambda hashes: merkle.inclusion_proof(hashes, index=index, tree_size=tree_size),
    )


def consistency_proof(connection: Connection, *, first: int, second: int) -> list[bytes]:
    return _prefetched(
        connection,
        lambda hashes: merkle.consistency_proof(hashes, first=first, second=second),
    )
