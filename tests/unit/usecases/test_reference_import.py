"""Adding reference versions through the ports (SPEC §16), with dict-backed fakes."""

from __future__ import annotations

import datetime as dt

import pytest

from service.domain.model import Precinct
from service.usecases.ports import Published
from service.usecases.reference_import import (
    IMPORT_KIND,
    EmptySet,
    ReferenceFile,
    import_precincts,
)
from tests.unit.factories import precinct
from tests.unit.usecases.fakes import FakeStorage, Store

NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


def boundary_set(*precincts: Precinct) -> ReferenceFile[Precinct]:
    return ReferenceFile([Published(p, p.id) for p in precincts], sha256="0" * 64)


def test_versions_are_numbered_per_kind_and_each_is_audited() -> None:
    store = Store()
    storage = FakeStorage(store)
    first = import_precincts(storage, boundary_set(precinct("75-0001")), actor="op", now=NOW)
    second = import_precincts(
        storage, boundary_set(precinct("75-0001"), precinct("75-0002")), actor="op", now=NOW
    )
    assert (first.version, second.version) == (1, 2)
    assert sorted(store.precinct_sets) == [1, 2]
    payloads = [e.payload for e in store.entries if e.kind == IMPORT_KIND]
    assert [(p["version"], p["replaces"], p["changes"]["added"]) for p in payloads] == [
        (1, 0, 1),
        (2, 1, 1),
    ]


def test_a_dry_run_plans_and_writes_nothing() -> None:
    store = Store()
    storage = FakeStorage(store)
    import_precincts(storage, boundary_set(precinct("75-0001")), actor="op", now=NOW)
    planned = import_precincts(
        storage, boundary_set(precinct("75-0002")), actor="op", now=NOW, dry_run=True
    )
    assert planned.audit_seq is None
    assert (planned.plan.changes.added, planned.plan.changes.removed) == (
        ("75-0002",),
        ("75-0001",),
    )
    assert sorted(store.precinct_sets) == [1]
    assert [e.kind for e in store.entries] == [IMPORT_KIND]


def test_an_empty_set_is_refused_before_anything_is_read() -> None:
    store = Store()
    with pytest.raises(EmptySet):
        import_precincts(FakeStorage(store), boundary_set(), actor="op", now=NOW)
    assert store.entries == []
