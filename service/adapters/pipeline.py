"""The upstream pipeline: how the check's lookups reach the registry and the address service.

It is composed here and nowhere else (``service.bootstrap`` calls ``build_upstreams``). With
batched lookups, the default, one registry lookup travels:

    CoalescingRegistry.lookup   a future, joined to the lookups of the same loop turn and
                                reported to the observer when settled (coalesce.py)
    BatchRegistryClient         one POST /persons/lookup-batch for all of them (batch.py)
    UpstreamCaller              breaker, bulkhead, stamina's retries, in the deadline; faults
                                become UpstreamUnavailable (upstream.py, resilience.py)
    httpx.AsyncClient           over aiohttp's connection pool (transport.py)

and an address lookup the same way. With ``VOTER_UPSTREAM_BATCH_LOOKUPS=false`` (an upstream
without batch endpoints) each lookup is its own POST through a ``RegistryClient`` or an
``AddressClient``, which report to the observer themselves, under the same guard. Every source
answers ``lookup(iin)`` / ``registrations(iin)`` with an awaitable: the batched ones with a
plain future, so a check starts both lookups without a task for either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from service.adapters import addresses, registry
from service.adapters.addresses import AddressClient
from service.adapters.batch import BatchAddressClient, BatchRegistryClient
from service.adapters.coalesce import CoalescingAddresses, CoalescingRegistry
from service.adapters.registry import RegistryClient
from service.adapters.resilience import CircuitBreaker, RetryPolicy, UpstreamGuard
from service.adapters.upstream import UpstreamObserver, build_upstream_client
from service.config import Settings
from service.usecases.ports import PersonSource, RegistrationSource


@dataclass(frozen=True)
class Transports:
    """Injected upstream transports (tests, benchmarks); None means real HTTP."""

    registry: httpx.AsyncBaseTransport | None = None
    addresses: httpx.AsyncBaseTransport | None = None


@dataclass(frozen=True)
class Upstreams:
    persons: PersonSource
    registrations: RegistrationSource
    # By upstream name: readiness probes them, the lifespan closes them.
    clients: Mapping[str, httpx.AsyncClient]
    guards: tuple[UpstreamGuard, ...]


def upstream_guard(upstream: str, settings: Settings) -> UpstreamGuard:
    """Retries, circuit breaker and bulkhead for one upstream's lookups."""
    return UpstreamGuard(
        upstream,
        breaker=CircuitBreaker(
            upstream,
            failure_threshold=settings.upstream_breaker_failures,
            reset_seconds=settings.upstream_breaker_reset_seconds,
        ),
        max_concurrent_calls=settings.upstream_max_connections,
        retry=RetryPolicy(attempts=settings.upstream_retry_attempts),
    )


def build_upstreams(
    settings: Settings, *, transports: Transports, observer: UpstreamObserver
) -> Upstreams:
    deadline = settings.upstream_deadline_seconds
    clients = {
        name: build_upstream_client(
            url,
            timeout=httpx.Timeout(deadline),
            max_connections=settings.upstream_max_connections,
            transport=transport,
        )
        for name, url, transport in (
            (registry.UPSTREAM, settings.registry_url, transports.registry),
            (addresses.UPSTREAM, settings.addresses_url, transports.addresses),
        )
    }
    registry_http, addresses_http = clients[registry.UPSTREAM], clients[addresses.UPSTREAM]
    registry_guard = upstream_guard(registry.UPSTREAM, settings)
    addresses_guard = upstream_guard(addresses.UPSTREAM, settings)
    persons: PersonSource
    registrations: RegistrationSource
    if settings.upstream_batch_lookups:
        persons = CoalescingRegistry(
            BatchRegistryClient(registry_http, deadline_seconds=deadline, guard=registry_guard),
            deadline_seconds=deadline,
            max_in_flight=settings.upstream_batch_in_flight,
            observer=observer,
        )
        registrations = CoalescingAddresses(
            BatchAddressClient(addresses_http, deadline_seconds=deadline, guard=addresses_guard),
            deadline_seconds=deadline,
            max_in_flight=settings.upstream_batch_in_flight,
            observer=observer,
        )
    else:
        persons = RegistryClient(
            registry_http, deadline_seconds=deadline, guard=registry_guard, observer=observer
        )
        registrations = AddressClient(
            addresses_http, deadline_seconds=deadline, guard=addresses_guard, observer=observer
        )
    return Upstreams(
        persons=persons,
        registrations=registrations,
        clients=clients,
        guards=(registry_guard, addresses_guard),
    )
