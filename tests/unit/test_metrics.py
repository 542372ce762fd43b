"""The metric objects: names with units, closed label sets, one registry per app."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.adapters.addresses import AddressClient
from service.adapters.coalesce import Coalescer
from service.audit.log import AuditLog
from service.audit.signing import CheckpointSigner, generate_signing_key
from service.clock import SystemClock
from service.db.engine import Database, open_database, write_session
from service.db.migrations import create_schema
from service.domain.model import NextStepCode, Outcome, ReasonCode
from service.errors import UpstreamFailure, UpstreamUnavailable
from service.observability.metrics import (
    DECISION_KINDS,
    NEXT_STEPS,
    OTHER,
    OUTCOMES,
    REASONS,
    REMEDIES,
    UPSTREAM_RESULTS,
    UPSTREAMS,
    Metrics,
)
from service.usecases.eligibility import DECISION_KIND
from tests.clocks import FakeClock

NOW = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)

# Family name and type; counters are exported with a _total suffix on their samples.
EXPECTED_FAMILIES = {
    ("voter_http_requests", "counter"),
    ("voter_http_request_duration_seconds", "histogram"),
    ("voter_decisions", "counter"),
    ("voter_decision_reasons", "counter"),
    ("voter_unassigned", "counter"),
    ("voter_upstream_requests", "counter"),
    ("voter_upstream_request_duration_seconds", "histogram"),
    ("voter_audit_append_duration_seconds", "histogram"),
}


def _samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.render().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return _samples(metrics)[(name, frozenset(labels.items()))]


def _label_values(metrics: Metrics, name: str, label: str) -> set[str]:
    return {
        dict(labels)[label]
        for sample_name, labels in _samples(metrics)
        if sample_name == name and label in dict(labels)
    }


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(runtime_collectors=False)


def test_every_metric_is_exported_under_its_name_with_units(metrics: Metrics) -> None:
    families = {
        (family.name, family.type)
        for family in text_string_to_metric_families(metrics.render().decode())
    }
    assert families >= EXPECTED_FAMILIES
    metrics.count_decision(kind=DECISION_KIND, outcome="eligible")
    assert "voter_decisions_total" in {name for name, _ in _samples(metrics)}


def test_each_app_has_its_own_registry_so_counts_never_mix() -> None:
    first, second = Metrics(), Metrics()
    first.observe_request(route="/healthz", method="GET", status=200, seconds=0.01)
    labels = {"route": "/healthz", "method": "GET", "status": "200"}
    assert _value(first, "voter_http_requests_total", **labels) == 1
    assert ("voter_http_requests_total", frozenset(labels.items())) not in _samples(second)


def test_runtime_collectors_are_included_by_default() -> None:
    exported = {name for name, _ in _samples(Metrics())}
    assert "python_info" in exported
    assert "python_gc_collections_total" in exported


def test_enum_series_exist_at_zero_before_the_first_event(metrics: Metrics) -> None:
    assert _label_values(metrics, "voter_decisions_total", "outcome") == OUTCOMES
    assert _label_values(metrics, "voter_decisions_total", "kind") == DECISION_KINDS
    assert _label_values(metrics, "voter_decision_reasons_total", "reason") == REASONS
    assert _label_values(metrics, "voter_unassigned_total", "next_step") == NEXT_STEPS
    assert _label_values(metrics, "voter_upstream_requests_total", "result") == UPSTREAM_RESULTS
    assert _label_values(metrics, "voter_upstream_requests_total", "upstream") == UPSTREAMS
    assert _value(metrics, "voter_decisions_total", kind=DECISION_KIND, outcome="eligible") == 0


def test_the_enums_and_the_label_sets_agree() -> None:
    assert {o.value for o in Outcome} == OUTCOMES
    assert {r.value for r in ReasonCode} == REASONS
    assert {s.value for s in NextStepCode} == NEXT_STEPS | REMEDIES
    assert not NEXT_STEPS & REMEDIES
    assert {f.value for f in UpstreamFailure} | {"ok"} == UPSTREAM_RESULTS


def test_a_decision_counts_its_outcome_reasons_and_next_steps(metrics: Metrics) -> None:
    metrics.count_decision(
        kind=DECISION_KIND, outcome="ineligible", reasons=["DECEASED", "UNDER_18"]
    )
    metrics.count_decision(
        kind=DECISION_KIND, outcome="eligible", next_steps=["NO_PRECINCT_FOR_ADDRESS"]
    )
    assert _value(metrics, "voter_decisions_total", kind=DECISION_KIND, outcome="ineligible") == 1
    assert _value(metrics, "voter_decisions_total", kind=DECISION_KIND, outcome="eligible") == 1
    assert _value(metrics, "voter_decision_reasons_total", reason="UNDER_18") == 1
    assert _value(metrics, "voter_decision_reasons_total", reason="DECEASED") == 1
    assert _value(metrics, "voter_decision_reasons_total", reason="NOT_CITIZEN") == 0
    assert _value(metrics, "voter_unassigned_total", next_step="NO_PRECINCT_FOR_ADDRESS") == 1


def test_the_remedy_of_a_person_the_registry_does_not_know_is_not_an_unassigned_voter(
    metrics: Metrics,
) -> None:
    metrics.count_decision(
        kind=DECISION_KIND,
        outcome="ineligible",
        reasons=["NOT_FOUND"],
        next_steps=["APPLY_TO_COMMISSION"],
    )
    assert _value(metrics, "voter_decision_reasons_total", reason="NOT_FOUND") == 1
    assert _label_values(metrics, "voter_unassigned_total", "next_step") == NEXT_STEPS
    assert all(
        value == 0
        for (name, _), value in _samples(metrics).items()
        if name == "voter_unassigned_total"
    )


def test_values_outside_a_label_set_are_counted_as_other(metrics: Metrics) -> None:
    iin = "900101300126"
    metrics.count_decision(kind=iin, outcome=iin, reasons=[iin], next_steps=[iin])
    metrics.observe_upstream(upstream=iin, result=iin, seconds=0.1)
    metrics.observe_request(route="/healthz", method="BREW", status=999, seconds=0.1)
    assert _value(metrics, "voter_decisions_total", kind=OTHER, outcome=OTHER) == 1
    assert _value(metrics, "voter_decision_reasons_total", reason=OTHER) == 1
    assert _value(metrics, "voter_unassigned_total", next_step=OTHER) == 1
    assert _value(metrics, "voter_upstream_requests_total", upstream=OTHER, result=OTHER) == 1
    assert (
        _value(metrics, "voter_http_requests_total", route="/healthz", method=OTHER, status=OTHER)
        == 1
    )
    assert iin not in metrics.render().decode()


class _Batches:
    """A batch upstream for the coalescer: answers each key, or fails, after ``delay``."""

    def __init__(self, *, delay: float = 0.0, failure: UpstreamFailure | None = None) -> None:
        self.delay = delay
        self.failure = failure

    async def fetch_many(self, keys: Sequence[str]) -> list[str]:
        await asyncio.sleep(self.delay)
        if self.failure is not None:
            raise UpstreamUnavailable(upstream="registry", failure=self.failure)
        return [key.upper() for key in keys]


def _coalesced(metrics: Metrics, upstream: _Batches, *, deadline: float = 2.0) -> Coalescer[str]:
    return Coalescer(
        upstream.fetch_many, upstream="registry", deadline_seconds=deadline, observer=metrics
    )


async def test_a_coalesced_lookup_is_counted_by_its_result_and_timed(metrics: Metrics) -> None:
    assert await _coalesced(metrics, _Batches()).submit("a") == "A"
    with pytest.raises(UpstreamUnavailable):
        await _coalesced(metrics, _Batches(failure=UpstreamFailure.CONNECTION)).submit("a")
    with pytest.raises(UpstreamUnavailable):
        await _coalesced(metrics, _Batches(delay=1.0), deadline=0.05).submit("a")

    for result in ("ok", "connection", "timeout"):
        assert (
            _value(metrics, "voter_upstream_requests_total", upstream="registry", result=result)
            == 1
        )
    assert (
        _value(metrics, "voter_upstream_request_duration_seconds_count", upstream="registry") == 3
    )
    # The late one counts its whole deadline; the other two next to nothing.
    seconds = _value(metrics, "voter_upstream_request_duration_seconds_sum", upstream="registry")
    assert 0.05 <= seconds < 1.0


async def test_each_lookup_of_a_shared_batch_is_counted_once(metrics: Metrics) -> None:
    lookups = _coalesced(metrics, _Batches())

    await asyncio.gather(*(lookups.submit(key) for key in ["a", "b", "a"]))

    assert _value(metrics, "voter_upstream_requests_total", upstream="registry", result="ok") == 3
    assert lookups.batches == 1


async def test_a_lookup_cancelled_because_the_other_upstream_failed_is_not_counted(
    metrics: Metrics,
) -> None:
    lookups = _coalesced(metrics, _Batches(delay=0.02))
    waiting = lookups.submit("a")
    await asyncio.sleep(0)  # its batch is out
    waiting.cancel()
    await asyncio.sleep(0.05)  # and answered
    assert (
        _value(metrics, "voter_upstream_request_duration_seconds_count", upstream="registry") == 0
    )


async def test_a_one_by_one_lookup_is_counted_by_its_result_and_a_cancelled_one_not_at_all(
    metrics: Metrics,
) -> None:
    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "hanging":
            await asyncio.sleep(10)
        if request.url.host == "failing":
            return httpx.Response(503)
        return httpx.Response(200, json={"registrations": []})

    def client(host: str) -> AddressClient:
        http = httpx.AsyncClient(base_url=f"http://{host}", transport=httpx.MockTransport(answer))
        return AddressClient(http, deadline_seconds=1.0, observer=metrics)

    assert await client("answering").registrations("900101300126") == ()
    with pytest.raises(UpstreamUnavailable):
        await client("failing").registrations("900101300126")
    hanging = asyncio.ensure_future(client("hanging").registrations("900101300126"))
    await asyncio.sleep(0.01)
    hanging.cancel()
    with pytest.raises(asyncio.CancelledError):
        await hanging

    assert _value(metrics, "voter_upstream_requests_total", upstream="addresses", result="ok") == 1
    assert (
        _value(metrics, "voter_upstream_requests_total", upstream="addresses", result="status") == 1
    )
    assert (
        _value(metrics, "voter_upstream_request_duration_seconds_count", upstream="addresses") == 2
    )


def test_repeated_series_add_up_in_one_child_and_made_up_methods_stay_other(
    metrics: Metrics,
) -> None:
    for method in ("POST", "POST", "post", "BREW1", "BREW2"):
        metrics.observe_request(
            route="/v1/eligibility/check", method=method, status=200, seconds=0.1
        )
    metrics.count_rate_limited(role="made-up")
    metrics.count_rate_limited(role="none")

    route = "/v1/eligibility/check"
    assert (
        _value(metrics, "voter_http_requests_total", route=route, method="POST", status="200") == 3
    )
    assert (
        _value(metrics, "voter_http_requests_total", route=route, method=OTHER, status="200") == 2
    )
    assert _value(metrics, "voter_rate_limited_total", role=OTHER) == 1
    assert _value(metrics, "voter_rate_limited_total", role="none") == 1
    assert len(metrics._requests) == 1  # the cache holds no made-up method


@pytest.fixture
def database(tmp_path: Path) -> Database:
    database = open_database(f"sqlite:///{tmp_path / 'voter.db'}")
    create_schema(database)
    return database


def _append(database: Database, audit_log: AuditLog, *, at: dt.datetime) -> None:
    with write_session(database) as session:
        audit_log.append(session, kind="test.entry", subject=None, payload={}, recorded_at=at)


def test_checkpoint_age_and_chain_length_are_read_from_the_database_at_scrape(
    metrics: Metrics, database: Database
) -> None:
    wall = FakeClock(NOW.timestamp())
    audit_log = AuditLog(
        CheckpointSigner(generate_signing_key()),
        checkpoint_every=2,
        wall_clock=SystemClock(wall),
    )
    metrics.watch_audit_log(database=database, reader=audit_log, wall_clock=SystemClock(wall))
    exported = {name for name, _ in _samples(metrics)}
    assert _value(metrics, "voter_audit_chain_length") == 0
    # No checkpoint yet: no age rather than a made-up one.
    assert "voter_audit_checkpoint_age_seconds" not in exported

    _append(database, audit_log, at=NOW)
    _append(database, audit_log, at=NOW)  # signs size 2
    wall.advance(70)
    _append(database, audit_log, at=NOW)
    wall.advance(5)

    assert _value(metrics, "voter_audit_chain_length") == 3
    assert _value(metrics, "voter_audit_checkpoint_age_seconds") == 75
    database.dispose()


def test_checkpoint_age_is_real_time_while_the_service_clock_stands_still(
    metrics: Metrics, database: Database
) -> None:
    # Entries recorded by a fixed service clock (VOTER_CLOCK_FIXED); only real time passes.
    wall = FakeClock(NOW.timestamp())
    audit_log = AuditLog(
        CheckpointSigner(generate_signing_key()),
        checkpoint_every=1,
        wall_clock=SystemClock(wall),
    )
    metrics.watch_audit_log(database=database, reader=audit_log, wall_clock=SystemClock(wall))
    _append(database, audit_log, at=NOW)

    wall.advance(90)

    assert _value(metrics, "voter_audit_checkpoint_age_seconds") == 90
    database.dispose()


def test_a_database_fault_drops_only_the_audit_gauges(metrics: Metrics, database: Database) -> None:
    audit_log = AuditLog(CheckpointSigner(generate_signing_key()))
    metrics.watch_audit_log(database=database, reader=audit_log, wall_clock=SystemClock())
    with database.writer.begin() as connection:
        connection.exec_driver_sql("DROP TABLE audit_entries")
    exported = {name for name, _ in _samples(metrics)}
    assert "voter_audit_chain_length" not in exported
    assert "voter_decisions_total" in exported
    database.dispose()
