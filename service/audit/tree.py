"""The Merkle tree's stored perfect subtrees (``audit_tree``): written with each append, read for
roots and proofs, each in one query.

``merkle.py`` holds the hashing and the proofs; this module only moves ``(level, node, hash)``
rows. An append reads the compact range at the head (``merkle.frontier``: one row per set bit
of the size) and inserts the subtrees its entries complete. A proof or a past root first finds
which subtrees it reads with a dry run (``merkle.subtrees_read``), then fetches them all at once:
O(log n) rows, one SELECT, whatever the size of the log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import TypeVar

from sqlalchemy import Connection

from service.audit import merkle
from service.audit.merkle import CompactRange, FetchedSubtrees, Subtree, SubtreeHashes
from service.audit.tables import AuditTreeRow
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


def read_subtrees(connection: Connection, keys: Sequence[tuple[int, int]]) -> FetchedSubtrees:
    """The stored hashes of the subtrees ``keys`` (level, node), in one SELECT; a missing one
    is a LookupError when asked for."""
    if not keys:
        return FetchedSubtrees({})
    parameters = tuple(value for key in keys for value in key)
    rows = connection.exec_driver_sql(_select(connection.dialect.paramstyle, len(keys)), parameters)
    return FetchedSubtrees({(int(level), int(node)): bytes(h) for level, node, h in rows})


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
    """Insert the subtrees an append completed (``CompactRange.append``): one executemany, or
    on PostgreSQL for a large batch (the voter-list compile's) one COPY."""
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
