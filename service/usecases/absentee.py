"""Absentee certificates (SPEC §15 way 4): issue and cancel; the use is Service A's.

The commission of the voter's list precinct issues a certificate, inside the window (by
default from 00:00 on E-15 until 18:00 on E-1, in that precinct's zone), to a voter who is
eligible and on that precinct's list by the decision before the certificate. The
certificate is a list entry (kind ``absentee_certificate``, its precinct the issuing one)
holding the voter's one place, with a serial: the election's next number, taken by the
service inside the issuing transaction (the operator has nothing to look up or mistype;
concurrent issues of an election wait in line on its counter, and the database's UNIQUE
(election, serial) refuses a duplicate all the same).

A voter gets one certificate per election, ever: a cancelled or lost one still refuses a
second (``ABSENTEE_CERTIFICATE_ALREADY_ISSUED``; the database holds one row per voter and
election). Cancelling an unused certificate takes two operators (the list entries' flow)
and frees the place: the voter is back on the home list. Using it is Service A's
(``EligibilityService.check_precinct``). Every outcome after the voter's look-up, issue or
refusal, is audited under the pseudonym.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from service.clock import Clock
from service.domain.absentee import LAST_SERIAL, serial_text
from service.domain.caller import Caller
from service.domain.model import Basis, ListEntryKind, Outcome
from service.domain.undo import UndoStep
from service.domain.window import certificate_window
from service.errors import ErrorCode, NotFound
from service.usecases.context import actor_of, holder_payload, validated_iin
from service.usecases.eligibility import (
    CERTIFICATE_USE_KIND,
    EligibilityService,
    decision_payload,
)
from service.usecases.list_entries import (
    ACTIVE,
    CANCELLATION,
    CANCELLED,
    USED,
    AuditedRefusal,
    audit_refusal,
    found_entry,
)
from service.usecases.ports import (
    AbsenteeCertificateRecord,
    ListEntryRecord,
    Receipt,
    ReferenceSource,
    Storage,
    UnitOfWork,
)
from service.usecases.undo import (
    TwoOperatorUndo,
    UndoTarget,
    UndoView,
    once_more_if_overtaken,
    undo_views,
)

KIND_ISSUED = "absentee_certificate.issue"
KIND_REFUSED = "absentee_certificate.refuse"
# Service A's, when a voter presents the certificate (service.usecases.eligibility).
KIND_USED = CERTIFICATE_USE_KIND


@dataclass(frozen=True)
class CertificateView:
    id: str
    election_id: str
    serial: str
    issued_by_precinct_id: str
    document_ref: str
    status: str
    created_by: str
    created_at: dt.datetime
    used_at_precinct_id: str | None
    used_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    receipt: Receipt
    cancellation_requests: tuple[UndoView, ...] = ()


def _view(
    entry: ListEntryRecord,
    certificate: AbsenteeCertificateRecord,
    *,
    receipt: Receipt,
    requests: tuple[UndoView, ...],
) -> CertificateView:
    if entry.cancelled_at is not None:
        status = CANCELLED
    elif certificate.used_at_precinct_id is not None:
        status = USED
    else:
        status = ACTIVE
    return CertificateView(
        id=entry.id,
        election_id=entry.election_id,
        serial=serial_text(certificate.serial),
        issued_by_precinct_id=entry.precinct_id,
        document_ref=entry.document_ref,
        status=status,
        created_by=entry.created_by,
        created_at=entry.created_at,
        used_at_precinct_id=certificate.used_at_precinct_id,
        used_at=certificate.used_at,
        cancelled_at=entry.cancelled_at,
        cancelled_by=entry.cancelled_by,
        cancel_reason=entry.cancel_reason,
        receipt=receipt,
        cancellation_requests=requests,
    )


def _certificate_of(uow: UnitOfWork, entry_id: str) -> AbsenteeCertificateRecord:
    certificate = uow.absentee_certificates.get(entry_id)
    if certificate is None:
        raise NotFound(ErrorCode.ABSENTEE_CERTIFICATE_NOT_FOUND)
    return certificate


def _found(uow: UnitOfWork, entry_id: str) -> ListEntryRecord:
    certificate = _certificate_of(uow, entry_id)
    return found_entry(uow, certificate.entry_id)


def _shown(uow: UnitOfWork, entry: ListEntryRecord, receipt: Receipt) -> CertificateView:
    requests = undo_views(
        uow.undo_requests.of(target_kind=UndoTarget.LIST_ENTRY.value, target_id=entry.id)
    )
    return _view(entry, _certificate_of(uow, entry.id), receipt=receipt, requests=requests)


# The list entries' cancellation (the same requests, audit entries and refusals: a used
# certificate is refused), answered with the certificate.
CERTIFICATE_CANCELLATION: TwoOperatorUndo[ListEntryRecord, CertificateView] = (
    CANCELLATION.answering(
        found=_found, view=lambda uow, entry, receipt, _now: _shown(uow, entry, receipt)
    )
)


class AbsenteeCertificateService:
    def __init__(
        self,
        *,
        eligibility: EligibilityService,
        storage: Storage,
        reference: ReferenceSource,
        clock: Clock,
    ) -> None:
        self._eligibility = eligibility
        self._storage = storage
        self._reference = reference
        self._clock = clock

    async def issue(
        self,
        *,
        election_id: str,
        raw_iin: str,
        document_ref: str,
        caller: Caller,
        request_id: str,
    ) -> CertificateView:
        """Issue the voter's one certificate of the election, or refuse (audited).

        Refusals: ``NOT_ELIGIBLE`` (with the reasons), ``NOT_ON_A_LIST`` (eligible, but no
        precinct's list holds them: nobody can issue one), ``OVERRIDE_CONFLICT`` (an
        operator's override places them), ``ABSENTEE_CERTIFICATES_CLOSED`` (outside the
        window, in the home precinct's zone), ``ABSENTEE_CERTIFICATE_ALREADY_ISSUED``,
        ``ALREADY_ON_LIST`` (another record holds the place: a presence entry, a day
        registration) and ``ABSENTEE_SERIALS_EXHAUSTED``.
        """
        iin = validated_iin(raw_iin)
        election = await self._eligibility.election(election_id)
        reference = await self._reference.current()
        context: dict[str, Any] = {
            "election_id": election.id,
            "document_ref": document_ref,
            "actor": actor_of(caller),
            "request_id": request_id,
            "reference": reference.versions.as_payload(),
        }
        assessment = await self._eligibility.assess(
            iin=iin, election=election, audit_kind=KIND_REFUSED, context=context
        )
        decision = assessment.decision
        subject = assessment.subject
        context["decision"] = decision_payload(decision)
        home = (
            reference.directory.get(decision.precinct_id)
            if decision.precinct_id is not None
            else None
        )
        refusal: tuple[ErrorCode, dict[str, Any]] | None = None
        if decision.outcome is not Outcome.ELIGIBLE:
            reasons = [r.value for r in decision.reasons]
            refusal = (ErrorCode.NOT_ELIGIBLE, {"reasons": reasons})
        elif decision.basis is Basis.ABSENTEE_CERTIFICATE:
            # Found again in the transaction, which names it.
            refusal = (ErrorCode.ABSENTEE_CERTIFICATE_ALREADY_ISSUED, {})
        elif decision.basis is Basis.OVERRIDE and decision.override_id is not None:
            refusal = (ErrorCode.OVERRIDE_CONFLICT, {"active_override_id": decision.override_id})
        elif home is None:
            refusal = (ErrorCode.NOT_ON_A_LIST, {})
        else:
            window = certificate_window(election, home)
            if not window.contains(self._clock.now()):
                refusal = (
                    ErrorCode.ABSENTEE_CERTIFICATES_CLOSED,
                    {
                        "opens_at": window.opens_at.isoformat(),
                        "closes_at": window.closes_at.isoformat(),
                        "precinct_id": home.id,
                    },
                )

        def refused(
            uow: UnitOfWork, code: ErrorCode, extensions: dict[str, Any], now: dt.datetime
        ) -> AuditedRefusal:
            return audit_refusal(
                uow,
                kind=KIND_REFUSED,
                subject=subject,
                context=context,
                code=code,
                extensions=extensions,
                now=now,
            )

        def write(uow: UnitOfWork) -> CertificateView | AuditedRefusal:
            now = self._clock.now()
            issued = uow.absentee_certificates.of_voter(election_id=election.id, subject=subject)
            if issued is not None:
                # Cancelled or not, used or not: never a second (SPEC §15).
                return refused(
                    uow,
                    ErrorCode.ABSENTEE_CERTIFICATE_ALREADY_ISSUED,
                    {"certificate_id": issued.entry_id},
                    now,
                )
            if refusal is not None:
                return refused(uow, *refusal, now)
            assert home is not None  # no refusal: the decision named the home precinct
            holder = uow.list_places.holders(election_id=election.id, subjects=[subject], now=now)
            if subject in holder:
                extensions = {"holder": holder_payload(holder[subject])}
                return refused(uow, ErrorCode.ALREADY_ON_LIST, extensions, now)
            serial = uow.absentee_certificates.next_serial(election.id)
            if serial > LAST_SERIAL:
                return refused(uow, ErrorCode.ABSENTEE_SERIALS_EXHAUSTED, {}, now)
            entry_id = str(uuid.uuid4())
            receipt = uow.audit.append(
                kind=KIND_ISSUED,
                subject=subject,
                payload={
                    **context,
                    "entry_id": entry_id,
                    "entry_kind": ListEntryKind.ABSENTEE_CERTIFICATE.value,
                    "serial": serial_text(serial),
                    "precinct_id": home.id,
                },
                recorded_at=now,
            )
            entry = ListEntryRecord(
                id=entry_id,
                election_id=election.id,
                subject=subject,
                kind=ListEntryKind.ABSENTEE_CERTIFICATE,
                precinct_id=home.id,
                document_ref=document_ref,
                created_by=caller.subject,
                created_at=now,
                audit_seq=receipt.seq,
            )
            uow.list_entries.add(entry)
            certificate = AbsenteeCertificateRecord(
                entry_id=entry_id, election_id=election.id, subject=subject, serial=serial
            )
            uow.absentee_certificates.add(certificate)
            return _view(entry, certificate, receipt=receipt, requests=())

        # A concurrent issue to this voter, or another way onto a list, may commit first:
        # run again, refused against what it committed.
        outcome = await once_more_if_overtaken(lambda: self._storage.transact(write))
        if isinstance(outcome, AuditedRefusal):
            raise outcome.error()
        return outcome

    async def get(self, certificate_id: str) -> CertificateView:
        def read(uow: UnitOfWork) -> CertificateView:
            entry = _found(uow, certificate_id)
            return _shown(uow, entry, uow.audit.receipt_of(entry.audit_seq))

        return await self._storage.read(read)

    async def request_cancellation(
        self, certificate_id: str, *, reason: str, caller: Caller, request_id: str
    ) -> CertificateView:
        """Ask for an unused certificate to be cancelled; it stays in force until a
        different operator approves the request."""
        return await CERTIFICATE_CANCELLATION.request(
            self._storage,
            certificate_id,
            reason=reason,
            caller=caller,
            request_id=request_id,
            now=self._clock.now(),
        )

    async def decide_cancellation(
        self,
        certificate_id: str,
        step: UndoStep,
        *,
        reason: str | None,
        caller: Caller,
        request_id: str,
        undo_request_id: str | None = None,
    ) -> CertificateView:
        """Approve (a different operator: the certificate is cancelled and the voter is
        back on the home list) or refuse the open request."""
        return await CERTIFICATE_CANCELLATION.decide(
            self._storage,
            certificate_id,
            step,
            reason=reason,
            caller=caller,
            request_id=request_id,
            now=self._clock.now(),
            undo_request_id=undo_request_id,
        )
