"""Export of the audit log as JSON Lines, for observers who verify offline.

Layout: one header line, then every entry in seq order, then every checkpoint::

    {"type":"header","format":"voter-audit-export/1","public_key":"-----BEGIN PUBLIC KEY-----..."}
    {"type":"entry","seq":1,"prev_hash":"...","entry_hash":"...","body":"..."}
    {"type":"checkpoint","size":1000,"head_hash":"...","signed_at":"...Z","key_id":"...",
     "signature":"<hex>","root_hash":"<hex>","note":"<tlog-checkpoint note>"}

``root_hash`` and ``note`` (the Merkle root and its signed note) are null for checkpoints
signed before the log kept a tree, and absent from exports written before then.

The header's public key is a convenience for identifying the signer; ``verify_export`` never
trusts it and checks signatures against the key the observer brings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from service.audit.chain import ChainEntry, Checkpoint, format_instant
from service.audit.log import AuditReader
from service.db.engine import Database, read_session

EXPORT_FORMAT = "voter-audit-export/1"


class ExportFormatError(ValueError):
    """An export file line that is not a header, entry or checkpoint of this format."""

    def __init__(self, line_number: int, reason: str) -> None:
        super().__init__(f"line {line_number}: {reason}")
        self.line_number = line_number


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def export_log(database: Database, path: Path, *, public_key_pem: str) -> int:
    """Write the whole log to ``path``; returns the number of entries written.

    Reads inside one transaction so entries and checkpoints come from one snapshot, and
    writes to a side file first so that a crash never leaves a half export under ``path``.
    """
    reader = AuditReader()
    partial = path.with_name(path.name + ".partial")
    written = 0
    with read_session(database) as session, partial.open("w", encoding="utf-8") as out:
        out.write(_line({"type": "header", "format": EXPORT_FORMAT, "public_key": public_key_pem}))
        checkpoints = reader.checkpoints(session)
        for entry in reader.iter_entries(session):
            out.write(
                _line(
                    {
                        "type": "entry",
                        "seq": entry.seq,
                        "prev_hash": entry.prev_hash,
                        "entry_hash": entry.entry_hash,
                        "body": entry.body,
                    }
                )
            )
            written += 1
        for checkpoint in checkpoints:
            out.write(
                _line(
                    {
                        "type": "checkpoint",
                        "size": checkpoint.size,
                        "head_hash": checkpoint.head_hash,
                        "signed_at": format_instant(checkpoint.signed_at),
                        "key_id": checkpoint.key_id,
                        "signature": checkpoint.signature.hex(),
                        "root_hash": checkpoint.root_hash,
                        "note": checkpoint.note,
                    }
                )
            )
    os.replace(partial, path)
    return written


def _field(record: dict[str, Any], name: str, kind: type, line_number: int) -> Any:
    value = record.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ExportFormatError(line_number, f"{name} must be a {kind.__name__}")
    return value


def _parse_entry(record: dict[str, Any], line_number: int) -> ChainEntry:
    return ChainEntry(
        seq=_field(record, "seq", int, line_number),
        prev_hash=_field(record, "prev_hash", str, line_number),
        entry_hash=_field(record, "entry_hash", str, line_number),
        body=_field(record, "body", str, line_number),
    )


def _parse_checkpoint(record: dict[str, Any], line_number: int) -> Checkpoint:
    try:
        signed_at = datetime.fromisoformat(_field(record, "signed_at", str, line_number))
        signature = bytes.fromhex(_field(record, "signature", str, line_number))
    except ValueError as exc:
        if isinstance(exc, ExportFormatError):
            raise
        raise ExportFormatError(line_number, "bad signed_at or signature") from exc
    if signed_at.tzinfo is None:
        raise ExportFormatError(line_number, "signed_at must carry a time zone")
    return Checkpoint(
        size=_field(record, "size", int, line_number),
        head_hash=_field(record, "head_hash", str, line_number),
        signed_at=signed_at,
        key_id=_field(record, "key_id", str, line_number),
        signature=signature,
        root_hash=_optional_text(record, "root_hash", line_number),
        note=_optional_text(record, "note", line_number),
    )


def _optional_text(record: dict[str, Any], name: str, line_number: int) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise ExportFormatError(line_number, f"{name} must be a str or null")
    return value


def read_export(path: Path) -> Iterator[ChainEntry | Checkpoint]:
    """Entries and checkpoints in file order, after checking the header.

    Raises ExportFormatError (with the line number) at the first line it cannot read.
    """
    with path.open(encoding="utf-8", newline="\n") as lines:
        for line_number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ExportFormatError(line_number, "not a JSON object") from exc
            if not isinstance(record, dict):
                raise ExportFormatError(line_number, "not a JSON object")
            kind = record.get("type")
            if line_number == 1:
                if kind != "header" or record.get("format") != EXPORT_FORMAT:
                    raise ExportFormatError(line_number, f"expected a {EXPORT_FORMAT} header")
            elif kind == "entry":
                yield _parse_entry(record, line_number)
            elif kind == "checkpoint":
                yield _parse_checkpoint(record, line_number)
            else:
                raise ExportFormatError(line_number, "unknown line type")
