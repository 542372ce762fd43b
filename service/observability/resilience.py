"""Circuit-breaker state and attempt counts of the upstream guards, read when Prometheus scrapes.

The guards keep plain integers and their breaker's state; reading them at scrape time costs
the lookups nothing. Labels are the upstream's name and the breaker's state, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from service.adapters.resilience import BreakerState, UpstreamGuard

CIRCUIT_STATE = "voter_upstream_circuit_state"
CALLS = "voter_upstream_calls"
RETRIES = "voter_upstream_retries"


class UpstreamGuardCollector(Collector):
    def __init__(self, guards: Iterable[UpstreamGuard]) -> None:
        self._guards = tuple(guards)

    def describe(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state, calls, retries = self._families()
        for guard in self._guards:
            if guard.breaker is not None:
                current = guard.breaker.state
                for candidate in BreakerState:
                    state.add_metric([guard.upstream, candidate.value], float(candidate is current))
            calls.add_metric([guard.upstream], guard.calls)
            retries.add_metric([guard.upstream], guard.retries)
        yield state
        yield calls
        yield retries

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, CounterMetricFamily, CounterMetricFamily]:
        return (
            GaugeMetricFamily(
                CIRCUIT_STATE,
                "1 for the circuit breaker's current state per upstream (closed, open, "
                "half_open), 0 for the others. Open: lookups fail fast as undetermined.",
                labels=("upstream", "state"),
            ),
            CounterMetricFamily(
                CALLS,
                "HTTP attempts sent to each upstream, retries included.",
                labels=("upstream",),
            ),
            CounterMetricFamily(
                RETRIES,
                "Retried lookup attempts per upstream (timeouts, connection faults, 5xx).",
                labels=("upstream",),
            ),
        )
