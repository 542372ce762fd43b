"""``voterctl certificates ...``: absentee certificates (SPEC §15 way 4).

The voter's IIN is read from a file or standard input (``--iin-file FILE|-``), never from
the command line (shell history, the process list); nothing printed names it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from service.operator.commands import (
    Body,
    Election,
    Reason,
    Request,
    ReviewedRequest,
    _audit,
    _block,
    _flat,
    _precinct,
    _undo_requests,
    connected,
)
from service.operator.iin_source import RequiredIinFile, read_iin

certificates_app = typer.Typer(
    help="Absentee certificates (SPEC §15): issue one, show one; cancelling an unused one "
    "takes two operators.",
    no_args_is_help=True,
)

CertificateId = Annotated[str, typer.Argument(metavar="ID", help="Certificate id.")]


def render_certificate(body: Body) -> list[Any]:
    requests = _undo_requests(body.get("cancellation_requests"), title="cancellation requests")
    used_at = body.get("used_at_precinct")
    return [
        _block(
            [
                ("certificate", _flat(body.get("id"))),
                ("serial", _flat(body.get("serial"))),
                ("status", _flat(body.get("status"))),
                ("election", _flat(body.get("election_id"))),
                ("issued by", _precinct(body.get("issued_by"))),
                ("used at", _precinct(used_at) if used_at else "—"),
                ("used on", _flat(body.get("used_at"))),
                ("document", _flat(body.get("document_ref"))),
                ("created by", _flat(body.get("created_by"))),
                ("created at", _flat(body.get("created_at"))),
                ("cancelled at", _flat(body.get("cancelled_at"))),
                ("cancelled by", _flat(body.get("cancelled_by"))),
                ("cancel reason", _flat(body.get("cancel_reason"))),
                ("audit", _audit(body.get("audit"))),
            ]
        ),
        *requests,
    ]


@certificates_app.command("issue")
@connected
def certificate_issue(
    election: Election,
    iin_file: RequiredIinFile,
    document_ref: Annotated[
        str,
        typer.Option("--document-ref", help="The voter's application, e.g. its number."),
    ],
) -> Request:
    """Issue the voter's absentee certificate (once per election, ever): its id and serial."""
    voter = read_iin(iin_file)
    return Request(
        lambda api: api.issue_absentee_certificate(
            election_id=election, iin=voter, document_ref=document_ref
        ),
        render_certificate,
    )


@certificates_app.command("show")
@connected
def certificate_show(certificate_id: CertificateId) -> Request:
    """Show one certificate: status, serial, where it was issued and used."""
    return Request(lambda api: api.get_absentee_certificate(certificate_id), render_certificate)


@certificates_app.command("cancel")
@connected
def certificate_cancel(certificate_id: CertificateId, reason: Reason) -> Request:
    """Ask for an unused certificate to be cancelled; it stays in force until a different
    operator runs `certificates cancel-approve`."""
    return Request(
        lambda api: api.cancel_absentee_certificate(certificate_id, reason=reason),
        render_certificate,
    )


@certificates_app.command("cancel-approve")
@connected
def certificate_cancel_approve(
    certificate_id: CertificateId, request: ReviewedRequest = None
) -> Request:
    """Approve the pending cancellation (not its requester): the voter is back on the home
    list; no certificate is issued to them again."""
    return Request(
        lambda api: api.approve_absentee_certificate_cancellation(
            certificate_id, undo_request_id=request
        ),
        render_certificate,
    )


@certificates_app.command("cancel-refuse")
@connected
def certificate_cancel_refuse(certificate_id: CertificateId, reason: Reason) -> Request:
    """Refuse (or, as its requester, withdraw) the pending cancellation request."""
    return Request(
        lambda api: api.refuse_absentee_certificate_cancellation(certificate_id, reason=reason),
        render_certificate,
    )
