"""Migration 0003 (SPEC §16): a database with reference data in the old single-set tables
comes out with that data as the newest version of each kind, and the service reads it."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from alembic import command

from service.db.engine import open_database
from service.db.migrations import alembic_config, upgrade
from service.db.reference import load_reference
from tests.support import PRECINCTS

PRECINCT_INSERT = sa.text(
    "INSERT INTO precincts (id, number, kato, kind, country, day_registration, body) "
    "VALUES (:id, :number, :kato, :kind, :country, :day_registration, :body)"
)


def test_the_rows_in_force_become_the_newest_version(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0002")
    engine = sa.create_engine(database_url)
    at = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as connection:
        for kind in ("precincts", "elections", "precincts"):
            connection.execute(
                sa.text(
                    "INSERT INTO reference_imports (kind, records, imported_at, audit_seq) "
                    "VALUES (:kind, 1, :at, 1)"
                ),
                {"kind": kind, "at": at},
            )
        for p in PRECINCTS:
            connection.execute(
                PRECINCT_INSERT,
                {
                    "id": p["id"],
                    "number": p["number"],
                    "kato": p["kato"],
                    "kind": p["kind"],
                    "country": p["country"],
                    "day_registration": p["day_registration"],
                    "body": json.dumps(p, ensure_ascii=False),
                },
            )
    engine.dispose()

    upgrade(database_url)
    database = open_database(database_url)
    try:
        reference = load_reference(database)
    finally:
        database.dispose()
    assert (reference.versions.precincts, reference.versions.elections) == (2, 1)
    assert sorted(p.id for p in reference.directory.all()) == sorted(p["id"] for p in PRECINCTS)
