"""Absentee certificates (SPEC §15 way 4): issue, show, cancel by two operators. Their use
is Service A's (``/v1/precinct-checks``)."""

from __future__ import annotations

from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Path

from service.api.bodies import JsonBodyRoute
from service.api.deps import (
    CertificatesDep,
    LanguageDep,
    OperatorDep,
    ReferenceDep,
    RequestIdDep,
)
from service.api.presenters import (
    named_precinct,
    receipt_out,
    undo_requests_out,
)
from service.api.routes.list_entries import localise_reasons
from service.api.schemas import (
    AbsenteeCertificateOut,
    AbsenteeCertificateRequest,
    ReasonRequest,
    UndoApproval,
)
from service.domain.precincts import PrecinctDirectory
from service.domain.undo import UndoStep
from service.usecases.absentee import CertificateView
from service.usecases.list_entries import EntryRefused

router = APIRouter(tags=["absentee-certificates"], route_class=JsonBodyRoute)

CertificateId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-f-]+$")]


_STATUS: dict[str, Literal["active", "used", "cancelled"]] = {
    "active": "active",
    "used": "used",
    "cancelled": "cancelled",
}


def _certificate_out(view: CertificateView, directory: PrecinctDirectory) -> AbsenteeCertificateOut:
    issuer, used = view.issued_by_precinct_id, view.used_at_precinct_id
    return AbsenteeCertificateOut(
        id=view.id,
        election_id=view.election_id,
        serial=view.serial,
        issued_by=named_precinct(issuer, directory.get(issuer)),
        document_ref=view.document_ref,
        status=_STATUS[view.status],
        used_at_precinct=named_precinct(used, directory.get(used)) if used else None,
        used_at=view.used_at,
        created_by=view.created_by,
        created_at=view.created_at,
        cancelled_at=view.cancelled_at,
        cancelled_by=view.cancelled_by,
        cancel_reason=view.cancel_reason,
        cancellation_requests=undo_requests_out(view.cancellation_requests),
        audit=receipt_out(view.receipt),
    )


@router.post("/v1/absentee-certificates", status_code=201, response_model=AbsenteeCertificateOut)
async def issue_certificate(
    body: AbsenteeCertificateRequest,
    caller: OperatorDep,
    certificates: CertificatesDep,
    reference: ReferenceDep,
    language: LanguageDep,
    request_id: RequestIdDep,
) -> AbsenteeCertificateOut:
    try:
        view = await certificates.issue(
            election_id=body.election_id,
            raw_iin=body.iin,
            document_ref=body.document_ref,
            caller=caller,
            request_id=request_id,
        )
    except EntryRefused as refusal:
        localise_reasons(refusal, language)
        raise
    structlog.contextvars.bind_contextvars(outcome="issued")
    return _certificate_out(view, reference.directory)


@router.get("/v1/absentee-certificates/{certificate_id}", response_model=AbsenteeCertificateOut)
async def get_certificate(
    certificate_id: CertificateId,
    _caller: OperatorDep,
    certificates: CertificatesDep,
    reference: ReferenceDep,
) -> AbsenteeCertificateOut:
    return _certificate_out(await certificates.get(certificate_id), reference.directory)


@router.post(
    "/v1/absentee-certificates/{certificate_id}/cancel",
    status_code=202,
    response_model=AbsenteeCertificateOut,
)
async def cancel_certificate(
    certificate_id: CertificateId,
    body: ReasonRequest,
    caller: OperatorDep,
    certificates: CertificatesDep,
    reference: ReferenceDep,
    request_id: RequestIdDep,
) -> AbsenteeCertificateOut:
    view = await certificates.request_cancellation(
        certificate_id, reason=body.reason, caller=caller, request_id=request_id
    )
    return _certificate_out(view, reference.directory)


@router.post(
    "/v1/absentee-certificates/{certificate_id}/cancel/approve",
    response_model=AbsenteeCertificateOut,
)
async def approve_certificate_cancellation(
    certificate_id: CertificateId,
    body: UndoApproval,
    caller: OperatorDep,
    certificates: CertificatesDep,
    reference: ReferenceDep,
    request_id: RequestIdDep,
) -> AbsenteeCertificateOut:
    view = await certificates.decide_cancellation(
        certificate_id,
        UndoStep.APPROVE,
        reason=None,
        caller=caller,
        request_id=request_id,
        undo_request_id=body.undo_request_id,
    )
    return _certificate_out(view, reference.directory)


@router.post(
    "/v1/absentee-certificates/{certificate_id}/cancel/refuse",
    response_model=AbsenteeCertificateOut,
)
async def refuse_certificate_cancellation(
    certificate_id: CertificateId,
    body: ReasonRequest,
    caller: OperatorDep,
    certificates: CertificatesDep,
    reference: ReferenceDep,
    request_id: RequestIdDep,
) -> AbsenteeCertificateOut:
    view = await certificates.decide_cancellation(
        certificate_id, UndoStep.REFUSE, reason=body.reason, caller=caller, request_id=request_id
    )
    return _certificate_out(view, reference.directory)
