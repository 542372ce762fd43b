"""The service's Prometheus metrics, one ``CollectorRegistry`` per running app.

A registry per app rather than the process-wide default: tests start many apps in one
process, and two apps must never add to each other's counters or clash on registration.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from service.adapters import addresses, registry
from service.adapters.resilience import UpstreamGuard
from service.adapters.upstream import UPSTREAM_OK
from service.audit.log import AuditReader
from service.clock import Clock
from service.db.engine import Database
from service.domain.caller import Role
from service.domain.limits import NO_ROLE
from service.domain.model import NextStepCode, Outcome, ReasonCode
from service.errors import UpstreamFailure
from service.observability.audit_gauges import AuditLogCollector
from service.observability.resilience import UpstreamGuardCollector
from service.usecases.day_registrations import KIND_REFUSED
from service.usecases.eligibility import DECISION_KIND, PRECINCT_CHECK_KIND

# The classic text format every Prometheus reads; prometheus-client's "latest" is 1.0.0.
MEDIA_TYPE = "text/plain; version=0.0.4"
OTHER = "other"
UNMATCHED_ROUTE = "unmatched"
# Bounds the per-request series cache; far above routes x methods x statuses.
MAX_CACHED_REQUEST_SERIES = 4096

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Kinds whose outcomes reach the counter: checks, precinct checks, and day registrations
# refused as undetermined (they share the gathering step that can fail).
DECISION_KINDS = frozenset({DECISION_KIND, PRECINCT_CHECK_KIND, KIND_REFUSED})
OUTCOMES = frozenset(o.value for o in Outcome)
REASONS = frozenset(r.value for r in ReasonCode)
# Next steps that are an ineligible voter's remedy, not a voter left without a precinct:
# APPLY_TO_COMMISSION comes with NOT_FOUND, which the reasons already count.
REMEDIES = frozenset({NextStepCode.APPLY_TO_COMMISSION.value})
NEXT_STEPS = frozenset(s.value for s in NextStepCode) - REMEDIES
UPSTREAMS = frozenset({registry.UPSTREAM, addresses.UPSTREAM})
UPSTREAM_RESULTS = frozenset({UPSTREAM_OK, *(f.value for f in UpstreamFailure)})
RATE_LIMIT_ROLES = frozenset({NO_ROLE, *(r.value for r in Role)})

# Upstream calls are bounded by a deadline of a few seconds; the audit write is a local
# transaction that should take milliseconds unless it queues for the write lock.
UPSTREAM_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
AUDIT_BUCKETS_SECONDS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0
)  # fmt: skip


def closed(value: str, allowed: frozenset[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``other``: label sets stay bounded."""
    return value if value in allowed else OTHER


def method_label(method: str) -> str:
    # Any token is a valid HTTP method to the server; a client must not mint new series.
    upper = method.upper()
    return upper if upper in HTTP_METHODS else OTHER


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else OTHER


class Metrics:
    """Every metric the service exports; implements the use cases' and adapters' observers."""

    def __init__(self, *, runtime_collectors: bool = True) -> None:
        self.registry = CollectorRegistry()
        if runtime_collectors:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        self.http_requests = Counter(
            "voter_http_requests",
            "HTTP requests by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.http_request_duration = Histogram(
            "voter_http_request_duration_seconds",
            "Time from the first byte in to the last byte out, by route template and method.",
            ("route", "method"),
            registry=self.registry,
        )
        self.decisions = Counter(
            "voter_decisions",
            "Audited decisions by kind and outcome.",
            ("kind", "outcome"),
            registry=self.registry,
        )
        self.decision_reasons = Counter(
            "voter_decision_reasons",
            "Ineligibility reason codes in audited decisions (one decision may add several).",
            ("reason",),
            registry=self.registry,
        )
        self.unassigned = Counter(
            "voter_unassigned",
            "Eligible voters left without a precinct, by next step "
            "(NO_PRECINCT_FOR_ADDRESS is a boundary data error for the operators).",
            ("next_step",),
            registry=self.registry,
        )
        self.upstream_requests = Counter(
            "voter_upstream_requests",
            "Upstream lookups by upstream and result (ok, timeout, connection, status, malformed).",
            ("upstream", "result"),
            registry=self.registry,
        )
        self.upstream_request_duration = Histogram(
            "voter_upstream_request_duration_seconds",
            "Time of one upstream lookup, answer validated, whatever its result.",
            ("upstream",),
            buckets=UPSTREAM_BUCKETS_SECONDS,
            registry=self.registry,
        )
        self.audit_append_duration = Histogram(
            "voter_audit_append_duration_seconds",
            "Time of the write transaction holding an audit append, lock wait and commit "
            "included, failed ones too.",
            buckets=AUDIT_BUCKETS_SECONDS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "voter_rate_limited",
            "Requests refused with 429 by the per-subject limit, by the caller's deciding role.",
            ("role",),
            registry=self.registry,
        )
        self.bulk_lookup_alerts = Counter(
            "voter_bulk_lookup_alerts",
            "Accounts that looked up more distinct voters in an hour than their role allows "
            "(once per account and window, or per hold): alert on any increase.",
            registry=self.registry,
        )
        self.account_holds = Counter(
            "voter_account_holds",
            "Holds placed on accounts past their role's distinct-voter threshold, by role: "
            "each one refuses voter look-ups until an operator lifts it.",
            ("role",),
            registry=self.registry,
        )
        self._initialise_series()

    def _initialise_series(self) -> None:
        # Series that exist at zero from the start let rate() and alerts see the first event.
        # Their children are kept, keyed by label values: ``labels()`` costs a lock, a tuple
        # of str() calls and a lookup each time, on every request.
        self._decisions = {
            (kind, outcome): self.decisions.labels(kind, outcome)
            for kind in DECISION_KINDS
            for outcome in OUTCOMES
        }
        self._decision_reasons = {
            reason: self.decision_reasons.labels(reason) for reason in REASONS
        }
        self._unassigned = {step: self.unassigned.labels(step) for step in NEXT_STEPS}
        self._upstream_requests = {
            (upstream, result): self.upstream_requests.labels(upstream, result)
            for upstream in UPSTREAMS
            for result in UPSTREAM_RESULTS
        }
        self._upstream_durations = {
            upstream: self.upstream_request_duration.labels(upstream) for upstream in UPSTREAMS
        }
        self._rate_limited = {role: self.rate_limited.labels(role) for role in RATE_LIMIT_ROLES}
        self._account_holds = {role: self.account_holds.labels(role) for role in RATE_LIMIT_ROLES}
        # Filled as requests come: routes are templates, methods and statuses closed sets.
        self._requests: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, *, route: str, method: str, status: int, seconds: float) -> None:
        """``route`` must be a path template (``/v1/day-registrations/{registration_id}``)."""
        series = self._requests.get((route, method, status))
        if series is None:
            series = self._request_series(route, method, status)
        counter, duration = series
        counter.inc()
        duration.observe(seconds)

    def _request_series(self, route: str, method: str, status: int) -> tuple[Counter, Histogram]:
        label = method_label(method)
        series = (
            self.http_requests.labels(route, label, status_label(status)),
            self.http_request_duration.labels(route, label),
        )
        # Keyed by the method as sent: only methods that are their own label are kept, so
        # a client sending made-up methods cannot grow the cache.
        if label == method and len(self._requests) < MAX_CACHED_REQUEST_SERIES:
            self._requests[(route, method, status)] = series
        return series

    def count_decision(
        self,
        *,
        kind: str,
        outcome: str,
        reasons: Iterable[str] = (),
        next_steps: Iterable[str] = (),
    ) -> None:
        decisions = self._decisions.get((kind, outcome))
        if decisions is None:
            decisions = self.decisions.labels(
                closed(kind, DECISION_KINDS), closed(outcome, OUTCOMES)
            )
        decisions.inc()
        for reason in reasons:
            counter = self._decision_reasons.get(reason)
            if counter is None:
                counter = self.decision_reasons.labels(OTHER)
            counter.inc()
        for step in next_steps:
            if step in REMEDIES:
                continue
            counter = self._unassigned.get(step)
            if counter is None:
                counter = self.unassigned.labels(OTHER)
            counter.inc()

    def observe_upstream(self, *, upstream: str, result: str, seconds: float) -> None:
        requests = self._upstream_requests.get((upstream, result))
        duration = self._upstream_durations.get(upstream)
        if requests is None or duration is None:
            upstream = closed(upstream, UPSTREAMS)
            requests = self.upstream_requests.labels(upstream, closed(result, UPSTREAM_RESULTS))
            duration = self.upstream_request_duration.labels(upstream)
        requests.inc()
        duration.observe(seconds)

    def count_rate_limited(self, *, role: str) -> None:
        counter = self._rate_limited.get(role)
        if counter is None:
            counter = self.rate_limited.labels(OTHER)
        counter.inc()

    def count_bulk_lookup_alert(self) -> None:
        self.bulk_lookup_alerts.inc()

    def count_account_hold(self, *, role: str) -> None:
        counter = self._account_holds.get(role)
        if counter is None:
            counter = self.account_holds.labels(OTHER)
        counter.inc()

    def observe_audit_append(self, seconds: float) -> None:
        self.audit_append_duration.observe(seconds)

    def watch_audit_log(
        self,
        *,
        database: Database,
        reader: AuditReader,
        wall_clock: Clock,
        witness_quorum: int = 1,
    ) -> None:
        """Export the checkpoint age (by ``wall_clock``, real time) and chain length, read
        from ``database`` at each scrape."""
        self.registry.register(
            AuditLogCollector(
                database=database,
                reader=reader,
                wall_clock=wall_clock,
                witness_quorum=witness_quorum,
            )
        )

    def watch_upstream_guards(self, guards: Iterable[UpstreamGuard]) -> None:
        """Export each upstream's breaker state and attempt counts, read at each scrape."""
        self.registry.register(UpstreamGuardCollector(guards))

    def render(self) -> bytes:
        """The text exposition format 0.0.4. Blocking: scrape-time collectors may query."""
        return generate_latest(self.registry)
