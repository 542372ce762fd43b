"""Table models of the service database. The API never returns these classes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.audit.tables import SEQ_TYPE


class PrecinctRow(SQLModel, table=True):
    """A precinct as published in one boundary-set version; versions are never edited."""

    __tablename__ = "precinct_versions"

    set_version: int = Field(primary_key=True)
    id: str = Field(primary_key=True, max_length=32)
    number: int
    kato: str = Field(max_length=9)
    kind: str = Field(max_length=16)
    country: str = Field(max_length=3)
    day_registration: bool
    # The full SPEC §10 record, as imported, so the directory round-trips exactly.
    body: str = Field(sa_column=Column(Text, nullable=False))


class ElectionRow(SQLModel, table=True):
    """An election as published in one election-set version."""

    __tablename__ = "election_versions"

    set_version: int = Field(primary_key=True)
    id: str = Field(primary_key=True, max_length=64)
    voting_day: dt.date
    body: str = Field(sa_column=Column(Text, nullable=False))


class ReferenceImportRow(SQLModel, table=True):
    """One row per accepted import: version ``version`` of the ``kind`` set (SPEC §16).

    Its id tells running replicas to reload their cache.
    """

    __tablename__ = "reference_imports"
    __table_args__ = (
        UniqueConstraint("kind", "version", name="uq_reference_imports_kind_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    version: int
    records: int
    sha256: str | None = Field(default=None, max_length=64)
    actor: str | None = Field(default=None, max_length=200)
    imported_at: dt.datetime
    audit_seq: int = Field(sa_type=SEQ_TYPE)


class DecisionRow(SQLModel, table=True):
    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_subject_election", "subject", "election_id"),)

    decision_id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=32)
    election_id: str = Field(max_length=64)
    subject: str = Field(max_length=80)
    outcome: str = Field(max_length=16)
    decided_at: dt.datetime
    audit_seq: int = Field(sa_type=SEQ_TYPE, unique=True)
    # The decision as answered (without personal data), for operators and reconciliation.
    body: str = Field(sa_column=Column(Text, nullable=False))


class DayRegistrationRow(SQLModel, table=True):
    """A Service B registration (SPEC §6).

    ``active_key`` is ``election_id|subject`` while the registration is active and NULL once
    it is cancelled: its UNIQUE constraint is what lets exactly one of two concurrent
    registrations of one voter succeed, whatever the application code does.
    """

    __tablename__ = "day_registrations"
    # The operators' listing reads in this order (service.usecases.paging).
    __table_args__ = (Index("ix_day_registrations_registered_at_id", "registered_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    election_id: str = Field(max_length=64)
    subject: str = Field(max_length=80, index=True)
    precinct_id: str = Field(max_length=32)
    registered_by: str = Field(max_length=200)
    registered_at: dt.datetime
    lapses_at: dt.datetime
    active_key: str | None = Field(default=None, unique=True, max_length=160)
    audit_seq: int = Field(sa_type=SEQ_TYPE)
    cancelled_at: dt.datetime | None = None
    cancelled_by: str | None = Field(default=None, max_length=200)
    cancel_reason: str | None = Field(default=None, max_length=1000)


class ListEntryRow(SQLModel, table=True):
    """A way onto a list of SPEC §15 (a presence list entry of a special precinct, so far).

    Made once, then maybe cancelled (the cancellation columns, with the cancellation's own
    audit entry); never otherwise edited. The voter is named by the pseudonym only.
    """

    __tablename__ = "list_entries"
    __table_args__ = (Index("ix_list_entries_created_at_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    election_id: str = Field(max_length=64)
    voter_subject: str = Field(max_length=80, index=True)
    kind: str = Field(max_length=32)
    precinct_id: str = Field(max_length=32)
    document_ref: str = Field(max_length=200)
    created_by: str = Field(max_length=200)
    created_at: dt.datetime
    audit_seq: int = Field(sa_type=SEQ_TYPE)
    cancelled_at: dt.datetime | None = None
    cancelled_by: str | None = Field(default=None, max_length=200)
    cancel_reason: str | None = Field(default=None, max_length=1000)
    cancel_audit_seq: int | None = Field(default=None, sa_type=SEQ_TYPE)


class AbsenteeCertificateRow(SQLModel, table=True):
    """What an absentee certificate adds to its list entry (SPEC §15 way 4): the serial.

    One row per voter and election whatever became of the certificate (a lost or cancelled
    one is never re-issued), and one serial per election: both UNIQUE, so of two concurrent
    issues exactly one commits. Never edited.
    """

    __tablename__ = "absentee_certificates"
    __table_args__ = (
        UniqueConstraint("election_id", "voter_subject", name="uq_absentee_certificates_voter"),
        UniqueConstraint("election_id", "serial", name="uq_absentee_certificates_serial"),
    )

    entry_id: str = Field(primary_key=True, max_length=36)
    election_id: str = Field(max_length=64)
    voter_subject: str = Field(max_length=80)
    serial: int


class AbsenteeSerialRow(SQLModel, table=True):
    """The last serial issued in an election. Taking the next is one upsert of this row,
    whose lock holds concurrent issues of the election in line until the taker commits or
    rolls back: no two take one number, and a rolled-back issue leaves no gap."""

    __tablename__ = "absentee_serials"

    election_id: str = Field(primary_key=True, max_length=64)
    last_serial: int


class AbsenteeCertificateUseRow(SQLModel, table=True):
    """The one use of a certificate, at the precinct where the voter presented it: the
    primary key refuses a second, so of two concurrent uses exactly one commits."""

    __tablename__ = "absentee_certificate_uses"

    entry_id: str = Field(primary_key=True, max_length=36)
    election_id: str = Field(max_length=64)
    precinct_id: str = Field(max_length=32)
    used_at: dt.datetime
    used_by: str = Field(max_length=200)
    audit_seq: int = Field(sa_type=SEQ_TYPE)


class ListPlaceRow(SQLModel, table=True):
    """A voter's one place on a list of an election (SPEC §15), held by one record.

    Every way onto a list inserts this row in the transaction that records it, and so does
    an override when it is approved (whatever its kind: an exclusion holds the place that no
    list may then take). The primary key refuses a second: of two concurrent ways for one
    voter, whatever their kinds, exactly one commits. Cancelling or revoking the holder
    deletes the row; a holder that lapsed (an expired override, a day registration after its
    day) keeps it until the next record for the voter frees it.
    """

    __tablename__ = "list_places"

    election_id: str = Field(primary_key=True, max_length=64)
    voter_subject: str = Field(primary_key=True, max_length=80)
    holder_kind: str = Field(max_length=32)
    holder_id: str = Field(max_length=36)


class IdempotencyRow(SQLModel, table=True):
    """The first answer to an Idempotency-Key, replayed for the same key and body."""

    __tablename__ = "idempotency_keys"

    caller: str = Field(primary_key=True, max_length=200)
    operation: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=128)
    request_sha256: str = Field(max_length=64)
    status_code: int
    response_body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime


class OverrideRow(SQLModel, table=True):
    """A manual override as created. Never updated: later steps are OverrideActionRow."""

    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_created_at_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    election_id: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=80, index=True)
    kind: str = Field(max_length=16)
    precinct_id: str | None = Field(default=None, max_length=32)
    reason_code: str = Field(max_length=64)
    reason_text: str = Field(max_length=1000)
    document_ref: str = Field(max_length=200)
    expires_on: dt.date
    created_by: str = Field(max_length=200)
    created_at: dt.datetime
    audit_seq: int = Field(sa_type=SEQ_TYPE)


class OverrideActionRow(SQLModel, table=True):
    """Approve, refuse or revoke: one row each, at most once per override."""

    __tablename__ = "override_actions"
    __table_args__ = (UniqueConstraint("override_id", "action"),)

    id: int | None = Field(default=None, primary_key=True)
    override_id: str = Field(foreign_key="overrides.id", max_length=36, index=True)
    action: str = Field(max_length=16)
    actor: str = Field(max_length=200)
    at: dt.datetime
    reason: str | None = Field(default=None, max_length=1000)
    audit_seq: int = Field(sa_type=SEQ_TYPE)


class UndoRequestRow(SQLModel, table=True):
    """A request to revoke an override or cancel a day registration, awaiting a second
    operator, and the decision on it (SPEC §6, §7: undoing takes two people).

    ``pending_key`` is ``target_kind|target_id`` while the request is open and NULL once it
    is decided: its UNIQUE constraint allows one open request per record, and deciding is a
    conditional UPDATE on it, so of two concurrent decisions exactly one takes effect.
    """

    __tablename__ = "undo_requests"

    id: str = Field(primary_key=True, max_length=36)
    target_kind: str = Field(max_length=32)
    target_id: str = Field(max_length=36, index=True)
    requested_by: str = Field(max_length=200)
    requested_at: dt.datetime
    reason: str = Field(max_length=1000)
    audit_seq: int = Field(sa_type=SEQ_TYPE)
    pending_key: str | None = Field(default=None, unique=True, max_length=80)
    status: str = Field(max_length=16)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: dt.datetime | None = None
    decision_reason: str | None = Field(default=None, max_length=1000)
    decision_audit_seq: int | None = Field(default=None, sa_type=SEQ_TYPE)


class AccountHoldRow(SQLModel, table=True):
    """An account refused voter look-ups after crossing its role's distinct-voter threshold
    (SPEC §12), until an operator lifts the hold.

    ``active_key`` is the account while the hold is in force and NULL once lifted: its
    UNIQUE constraint allows one hold in force per account (two replicas placing one at once
    record one), and lifting is a conditional UPDATE on it.
    """

    __tablename__ = "account_holds"

    id: str = Field(primary_key=True, max_length=36)
    account: str = Field(max_length=200)
    role: str = Field(max_length=32)
    placed_at: dt.datetime
    distinct_voters: int
    threshold: int
    audit_seq: int = Field(sa_type=SEQ_TYPE)
    active_key: str | None = Field(default=None, unique=True, max_length=200)
    lifted_by: str | None = Field(default=None, max_length=200)
    lifted_at: dt.datetime | None = None
    lift_reason: str | None = Field(default=None, max_length=1000)
    lift_audit_seq: int | None = Field(default=None, sa_type=SEQ_TYPE)


class RollRunRow(SQLModel, table=True):
    """One compilation of an election's voter lists (``voterctl roll compile``, issue 5).

    ``status`` is ``running`` until the per-precinct files are in place, then ``complete``;
    an interrupted run is resumed from its committed chunks.
    """

    __tablename__ = "roll_runs"

    id: str = Field(primary_key=True, max_length=36)
    election_id: str = Field(max_length=64, index=True)
    out_dir: str = Field(max_length=1000)
    format: str = Field(max_length=16)
    chunk_size: int
    # The registry's digest of its IIN set when the run began: a resume over changed data
    # would skip or repeat persons, so it is refused.
    snapshot: str = Field(max_length=64)
    status: str = Field(max_length=16)
    started_at: dt.datetime
    completed_at: dt.datetime | None = None
    audit_seq: int = Field(sa_type=SEQ_TYPE)


class RollChunkRow(SQLModel, table=True):
    """A committed chunk of a run, written in the same transaction as its audit entries.

    ``cursor`` is the registry's opaque cursor after this chunk (None after the last), so a
    resume starts exactly where the last commit ended: no person decided twice or skipped.
    """

    __tablename__ = "roll_chunks"

    run_id: str = Field(foreign_key="roll_runs.id", primary_key=True, max_length=36)
    chunk_no: int = Field(primary_key=True)
    cursor: str | None = Field(default=None, max_length=64)
    persons: int
    first_seq: int = Field(sa_type=SEQ_TYPE)
    last_seq: int = Field(sa_type=SEQ_TYPE)
    # SHA-256 of the chunk's part file, checked before the lists are assembled from it.
    part_sha256: str = Field(max_length=64)
    # Outcome, reason, basis and next-step counts of the chunk (codes only, no personal data).
    counts: str = Field(sa_column=Column(Text, nullable=False))
    committed_at: dt.datetime
