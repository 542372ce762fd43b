"""Part files per chunk, and the per-precinct lists assembled from them.

A worker writes each chunk's list rows to one part file, sorted by precinct and then IIN,
with an index of where each precinct's rows lie, and makes it durable (write to a temporary
name, fsync, rename, fsync the directory) before the chunk's commit. The commit records the
file's SHA-256. A chunk redone after an interruption simply writes its part file again; a part
file that does not match its committed digest stops the assembly.

Assembly copies each precinct's slice of every part, in chunk order, into that precinct's
list. Chunks follow the registry's IIN order and each part is IIN-sorted within a precinct,
so every list comes out sorted by IIN, whatever the chunk size or the interruptions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import resource
import shutil
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

import orjson

from service.roll.model import ListFormat

UNASSIGNED = ""
ListRow = tuple[str, ...]
COLUMNS = (
    "iin",
    "surname",
    "given_name",
    "patronymic",
    "birth_date",
    "kato",
    "street",
    "house",
    "flat",
    "country",
    "city",
    "basis",
)
# Eligible voters no precinct holds: the last column names why (SPEC §4 steps 6 and 7).
UNASSIGNED_COLUMNS = (*COLUMNS[:-1], "next_step")
PART_FORMAT = "voter-roll-part/1"
PRECINCTS_DIR = "precincts"
UNASSIGNED_NAME = "unassigned"
# Descriptors kept free for everything else while lists are open for writing.
_SPARE_DESCRIPTORS = 64


class PartFileMismatch(RuntimeError):
    """A part file is missing or differs from the digest committed with its chunk."""

    def __init__(self, chunk_no: int) -> None:
        super().__init__(
            f"part file of chunk {chunk_no} is missing or does not match its committed digest"
        )
        self.chunk_no = chunk_no


def part_path(parts_dir: Path, chunk_no: int) -> Path:
    return parts_dir / f"chunk-{chunk_no:07d}.part"


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_durably(path: Path, content: bytes) -> None:
    """Replace ``path`` with ``content`` so that a crash leaves the old or the new, whole."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_directory(path.parent)


def write_part(parts_dir: Path, chunk_no: int, rows: list[tuple[str, ListRow]]) -> str:
    """Write a chunk's rows (key = precinct id, or UNASSIGNED) durably; return its SHA-256.

    ``rows`` must be in IIN order; the sort by key is stable, so each key's rows stay so.
    """
    rows.sort(key=itemgetter(0))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    marks: list[tuple[str, int, int, int]] = []
    for key, group in groupby(rows, key=itemgetter(0)):
        start = text.tell()
        lines = [row for _, row in group]
        writer.writerows(lines)
        marks.append((key, start, text.tell(), len(lines)))
    rendered = text.getvalue()
    index: list[tuple[str, int, int, int]] = []
    pieces: list[bytes] = []
    offset = 0
    for key, start, end, count in marks:
        piece = rendered[start:end].encode("utf-8")
        index.append((key, offset, len(piece), count))
        pieces.append(piece)
        offset += len(piece)
    content = orjson.dumps({"format": PART_FORMAT, "index": index}) + b"\n" + b"".join(pieces)
    parts_dir.mkdir(parents=True, exist_ok=True)
    write_durably(part_path(parts_dir, chunk_no), content)
    return hashlib.sha256(content).hexdigest()


PartIndex = list[tuple[str, int, int, int]]


def read_part(parts_dir: Path, chunk_no: int, sha256: str) -> tuple[PartIndex, bytes]:
    """(index, rows) of a committed part file, checked against its committed digest."""
    try:
        content = part_path(parts_dir, chunk_no).read_bytes()
    except FileNotFoundError:
        raise PartFileMismatch(chunk_no) from None
    if hashlib.sha256(content).hexdigest() != sha256:
        raise PartFileMismatch(chunk_no)
    header, _, data = content.partition(b"\n")
    index = [
        (str(key), int(offset), int(length), int(rows))
        for key, offset, length, rows in orjson.loads(header)["index"]
    ]
    return index, data


def list_name(key: str, list_format: ListFormat) -> str:
    """Where a list lives under the output directory."""
    if key == UNASSIGNED:
        return f"{UNASSIGNED_NAME}.{list_format.value}"
    return f"{PRECINCTS_DIR}/{key}.{list_format.value}"


def _header(key: str) -> bytes:
    columns = UNASSIGNED_COLUMNS if key == UNASSIGNED else COLUMNS
    return (",".join(columns) + "\n").encode("ascii")


def _open_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(16, soft - _SPARE_DESCRIPTORS)


def _key_groups(keys: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def assemble_csv(
    *, staging: Path, parts_dir: Path, parts: Sequence[tuple[int, str]], keys: Sequence[str]
) -> dict[str, int]:
    """Write one CSV list per key under ``staging`` from the committed parts; rows per key.

    Every list is written, an empty one with its header only. When there are more lists
    than open files allowed, the parts are read once per group of lists.
    """
    counts = dict.fromkeys(keys, 0)
    (staging / PRECINCTS_DIR).mkdir(parents=True, exist_ok=True)
    for group in _key_groups(keys, _open_limit()):
        with ExitStack() as stack:
            handles: dict[str, BinaryIO] = {}
            for key in group:
                opened = stack.enter_context((staging / list_name(key, ListFormat.CSV)).open("wb"))
                opened.write(_header(key))
                handles[key] = opened
            for chunk_no, sha256 in parts:
                index, data = read_part(parts_dir, chunk_no, sha256)
                view = memoryview(data)
                for key, offset, length, rows in index:
                    handle = handles.get(key)
                    if handle is not None:
                        handle.write(view[offset : offset + length])
                        counts[key] += rows
                    elif key not in counts:
                        raise PartFileMismatch(chunk_no)  # a precinct the run does not know
    return counts


def convert_to_parquet(staging: Path, keys: Sequence[str]) -> None:
    """Replace each staged CSV list by a Parquet file (all columns strings)."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.csv as pacsv  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    for key in keys:
        source = staging / list_name(key, ListFormat.CSV)
        columns = UNASSIGNED_COLUMNS if key == UNASSIGNED else COLUMNS
        table = pacsv.read_csv(
            source,
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        pq.write_table(table, staging / list_name(key, ListFormat.PARQUET))
        source.unlink()


def publish(staging: Path, out_dir: Path, list_format: ListFormat) -> None:
    """Move the assembled lists into ``out_dir``, replacing any earlier attempt's."""
    os.sync()  # every list durable before anything says the run is complete
    target = out_dir / PRECINCTS_DIR
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging / PRECINCTS_DIR, target)
    name = list_name(UNASSIGNED, list_format)
    os.replace(staging / name, out_dir / name)
    _fsync_directory(out_dir)
    shutil.rmtree(staging)
