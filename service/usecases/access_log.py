"""A citizen's access log (SPEC §17): every time their record was looked up, decided on or
changed, by role and organisation, read from the audit log through their pseudonym.

The e-government front end asks on behalf of the citizen it authenticated. Reading the log
is itself an access: it is audited under the same pseudonym, in the transaction that reads,
so the citizen's next look shows this one too.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.clock import Clock
from service.domain.access_log import Access, access_of
from service.domain.caller import Caller
from service.usecases.context import actor_of, validated_iin
from service.usecases.eligibility import UNGUARDED, LookupGuard
from service.usecases.ports import Pseudonymise, Receipt, Storage, UnitOfWork

KIND_READ = "access_log.read"
MAX_ACCESSES = 500


@dataclass(frozen=True)
class AccessPage:
    accesses: tuple[Access, ...]
    # The seq to pass as ``before`` for older accesses; None when these are the oldest.
    next_before: int | None
    receipt: Receipt


class AccessLogService:
    def __init__(
        self,
        *,
        storage: Storage,
        pseudonymise: Pseudonymise,
        clock: Clock,
        lookups: LookupGuard = UNGUARDED,
    ) -> None:
        self._storage = storage
        self._subject_of = pseudonymise
        self._clock = clock
        self._lookups = lookups

    async def read(
        self,
        raw_iin: str,
        *,
        before: int | None,
        limit: int,
        caller: Caller,
        request_id: str,
    ) -> AccessPage:
        """Newest first, at most ``limit`` accesses with seq below ``before`` (if given)."""
        subject = self._subject_of(validated_iin(raw_iin))
        await self._lookups.admit(caller=caller, voter_subject=subject)
        now = self._clock.now()

        def read_and_record(uow: UnitOfWork) -> AccessPage:
            entries = uow.audit.about(subject, before_seq=before, limit=limit + 1)
            shown = entries[:limit]
            receipt = uow.audit.append(
                kind=KIND_READ,
                subject=subject,
                payload={
                    "shown": len(shown),
                    "before": before,
                    "actor": actor_of(caller),
                    "request_id": request_id,
                },
                recorded_at=now,
            )
            return AccessPage(
                accesses=tuple(access_of(entry) for entry in shown),
                next_before=shown[-1].seq if len(entries) > limit else None,
                receipt=receipt,
            )

        return await self._storage.transact(read_and_record)
