"""Keyset paging (service.usecases.paging): every record exactly once, whatever the filter."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from service.errors import InvalidInput
from service.usecases.paging import MAX_CURSOR_LENGTH, Page, collect_page, cursor_of, key_of
from service.usecases.ports import PageKey

Record = tuple[dt.datetime, str, bool]  # (instant, id, whether the filter keeps it)

BASE = dt.datetime(2027, 3, 21, 2, 0, tzinfo=dt.UTC)
# Few distinct instants, so that ties (one instant, several ids) are the common case.
instants = st.integers(min_value=0, max_value=5).map(lambda s: BASE + dt.timedelta(seconds=s))
record_ids = st.uuids().map(str)
records = st.lists(
    st.tuples(instants, record_ids, st.booleans()), max_size=40, unique_by=lambda r: r[1]
)


def fetcher(table: Sequence[Record]) -> Callable[[PageKey | None, int], list[Record]]:
    ordered = sorted(table, key=lambda r: (r[0], r[1]))

    def fetch(after: PageKey | None, limit: int) -> list[Record]:
        start = [r for r in ordered if after is None or (r[0], r[1]) > (after.at, after.id)]
        return start[:limit]

    return fetch


def every_page(table: Sequence[Record], limit: int) -> list[Page[Record]]:
    pages: list[Page[Record]] = []
    after: PageKey | None = None
    while True:
        page = collect_page(
            fetcher(table),
            position=lambda r: PageKey(r[0], r[1]),
            view=lambda r: r,
            keep=lambda r: r[2],
            limit=limit,
            after=after,
        )
        pages.append(page)
        if page.next_cursor is None:
            return pages
        after = key_of(page.next_cursor)
        assert len(pages) <= len(table) + 1, "paging does not end"


@given(records, st.integers(min_value=1, max_value=7))
@example([], 1)
@example([(BASE, "a", True), (BASE, "b", True)], 1)  # a tie across a page boundary
@example([(BASE, "a", True), (BASE, "b", False)], 1)  # the last page would be empty
def test_paging_returns_every_kept_record_exactly_once_in_order(
    table: list[Record], limit: int
) -> None:
    pages = every_page(table, limit)

    shown = [record for page in pages for record in page.items]
    assert shown == sorted((r for r in table if r[2]), key=lambda r: (r[0], r[1]))
    assert all(len(page.items) <= limit for page in pages)
    # Only the first page may be empty, and only when nothing matches at all.
    assert all(page.items for page in pages[1:])


@given(instants, record_ids)
def test_a_cursor_names_the_position_it_was_made_from(at: dt.datetime, record_id: str) -> None:
    cursor = cursor_of(PageKey(at, record_id))

    assert key_of(cursor) == PageKey(at, record_id)
    assert len(cursor) <= MAX_CURSOR_LENGTH


def encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        encoded("2027-03-21T02:00:00|0a1b"),  # no time zone
        encoded("2027-03-21T02:00:00+00:00|not an id"),
        encoded("yesterday|0a1b"),
        encoded("2027-03-21T02:00:00+00:00|0a1b|0a1c"),
        "A" * (MAX_CURSOR_LENGTH + 1),
    ],
)
def test_a_cursor_the_service_did_not_make_is_refused_as_bad_input(cursor: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        key_of(cursor)

    assert raised.value.extensions["errors"] == [{"field": "cursor", "type": "invalid_cursor"}]
