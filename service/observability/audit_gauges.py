"""Audit-log gauges read from the database when Prometheus scrapes.

Read at scrape time rather than set by the background signer: the database is shared by every
replica, so any replica reports the true age of the newest checkpoint whoever signed it, and a
signer task that died or hangs cannot leave behind a gauge frozen at a healthy value, which
is exactly the failure the age exists to reveal. The cost is two index lookups per scrape.

The age is measured by real time (``wall_clock``), never the service clock: under a fixed
service clock (VOTER_CLOCK_FIXED) that one would report every checkpoint as just signed.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from service.audit.log import AuditReader
from service.audit.witnesses import newest_witnessed
from service.clock import Clock
from service.db.engine import Database, read_session
from service.logs import get_logger

CHECKPOINT_AGE = "voter_audit_checkpoint_age_seconds"
CHAIN_LENGTH = "voter_audit_chain_length"
WITNESSED_AGE = "voter_audit_witnessed_checkpoint_age_seconds"

_log = get_logger("service.observability")


class AuditLogCollector(Collector):
    def __init__(
        self, *, database: Database, reader: AuditReader, wall_clock: Clock, witness_quorum: int = 1
    ) -> None:
        self._database = database
        self._reader = reader
        self._wall_clock = wall_clock
        self._quorum = witness_quorum

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Names only, so registering the collector does not touch the database.
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        age, length, witnessed_age = self._families()
        try:
            with read_session(self._database) as session:
                latest = self._reader.latest_checkpoint(session)
                length.add_metric([], self._reader.chain_length(session))
                witnessed = newest_witnessed(session, quorum=self._quorum)
        except SQLAlchemyError as exc:
            # A scrape must still show the HTTP and runtime metrics; /readyz reports the
            # database, and a missing series is what an absent() alert looks for.
            _log.warning("metrics.audit.unavailable", error=type(exc).__name__)
            return
        if latest is not None:
            # No sample before the first checkpoint: an age of "never" has no number.
            age.add_metric([], (self._wall_clock.now() - latest.signed_at).total_seconds())
        if witnessed is not None:
            # Grows while observers' cosigners are down or refuse: what an alert watches.
            seconds = (self._wall_clock.now() - witnessed.signed_at).total_seconds()
            witnessed_age.add_metric([], seconds)
        yield age
        yield length
        yield witnessed_age

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                CHECKPOINT_AGE,
                "Seconds since the newest signed audit checkpoint, in real time.",
            ),
            GaugeMetricFamily(CHAIN_LENGTH, "Entries in the audit hash chain (its head seq)."),
            GaugeMetricFamily(
                WITNESSED_AGE,
                "Seconds since the newest checkpoint the witness quorum cosigned was signed.",
            ),
        )
