"""Keyset paging of the operators' listings: a stable order, an opaque cursor, no offsets.

Records are read in (instant, id) order and a page resumes strictly after the last record it
showed, so a record written while an operator pages is never shown twice nor shifts another
out of view. Filters on a derived status (an override's, a registration's) are applied to the
records as read, by the one rule that derives it; a page then reads on until it is full.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from service.errors import InvalidInput
from service.usecases.ports import PageKey

R = TypeVar("R")
V = TypeVar("V")

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_CURSOR_LENGTH = 200
# Record ids are UUIDs; nothing else may ride in a cursor.
_RECORD_ID = re.compile(r"^[0-9a-f-]{1,36}$")


@dataclass(frozen=True)
class Page(Generic[V]):
    items: tuple[V, ...]
    # Where the next page starts; None when nothing more matches.
    next_cursor: str | None


def cursor_of(key: PageKey) -> str:
    text = f"{key.at.isoformat()}|{key.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def key_of(cursor: str | None) -> PageKey | None:
    """The position a cursor names; a cursor this service did not hand out is bad input."""
    if cursor is None:
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        instant, record_id = text.split("|")
        at = dt.datetime.fromisoformat(instant)
        if at.utcoffset() is None or not _RECORD_ID.match(record_id):
            raise ValueError
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidInput(errors=[{"field": "cursor", "type": "invalid_cursor"}]) from None
    return PageKey(at=at, id=record_id)


def collect_page(
    fetch: Callable[[PageKey | None, int], Sequence[R]],
    *,
    position: Callable[[R], PageKey],
    view: Callable[[R], V],
    keep: Callable[[V], bool],
    limit: int,
    after: PageKey | None,
) -> Page[V]:
    """Up to ``limit`` kept views of the records ``fetch`` reads after ``after``.

    ``fetch(after, n)`` returns at most ``n`` records in (instant, id) order. The next cursor
    is given only when one more kept record exists, so the last page is never empty.
    """
    items: list[V] = []
    last_kept: R | None = None
    batch_size = limit + 1
    while True:
        batch = fetch(after, batch_size)
        for record in batch:
            shown = view(record)
            if keep(shown):
                if last_kept is not None and len(items) == limit:
                    return Page(tuple(items), cursor_of(position(last_kept)))
                items.append(shown)
                last_kept = record
            after = position(record)
        if len(batch) < batch_size:
            return Page(tuple(items), None)
