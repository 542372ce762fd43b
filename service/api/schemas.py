"""Request and response models of the HTTP API (contracts/openapi.yaml is the source of truth)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from service.domain.day_registration import RegistrationStatus
from service.domain.iin_text import holds_iin_shaped
from service.domain.model import ListEntryKind, ListEntryStatus, OverrideKind
from service.domain.overrides import OverrideStatus
from service.usecases.access_log import MAX_ACCESSES
from service.usecases.paging import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE

IinInput = Annotated[str, StringConstraints(min_length=1, max_length=32)]
ELECTION_ID_PATTERN = r"^[0-9A-Za-z_-]+$"
# Free text may hold tabs and line breaks but no other control characters: PostgreSQL cannot
# store NUL at all, and the rest only ever arrive by mistake or malice.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F]*$"
ElectionId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=ELECTION_ID_PATTERN)
]


def _holds_no_iin(text: str) -> str:
    # Free text is stored, shown to other operators and partly written into the audit log,
    # which never holds an IIN (SPEC §8): refuse it rather than silently alter the text.
    # Grouped, dashed, full-width and zero-width forms count too (``iin_text`` says which).
    if holds_iin_shaped(text):
        raise PydanticCustomError("contains_iin", "free text must not hold an IIN")
    return text


FreeText1000 = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1000, pattern=NO_CONTROL_CHARACTERS),
    AfterValidator(_holds_no_iin),
]


_RFC3339_START = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _iso_instant(value: object) -> object:
    # Pydantic would also read a number as seconds since 1970; a filter's instant is written
    # out, with its date first (RFC 3339), and AwareDatetime then demands its zone.
    if not isinstance(value, str | dt.datetime) or (
        isinstance(value, str) and not _RFC3339_START.match(value)
    ):
        raise PydanticCustomError("datetime_format", "an RFC 3339 instant with its time zone")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]

# An opaque position handed out by a listing (service.usecases.paging): URL-safe base64.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
Cursor = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_CURSOR_LENGTH, pattern=CURSOR_PATTERN)
]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)]

PRECINCT_ID_PATTERN = r"^[0-9A-Za-z-]+$"
PrecinctIdInput = Annotated[
    str, StringConstraints(min_length=1, max_length=32, pattern=PRECINCT_ID_PATTERN)
]
BasisOut = (
    Literal[
        "permanent_registration",
        "temporary_registration",
        "consular_registration",
        "day_registration",
        "override",
        "special_presence",
        "place_of_stay_application",
        "absentee_certificate",
        "mission_application",
    ]
    | None
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EligibilityCheckRequest(_Request):
    iin: IinInput
    election_id: ElectionId


class Reason(BaseModel):
    code: str
    message: str


class NextStepOut(BaseModel):
    code: str
    message: str
    precinct_ids: list[str]


class PrecinctRef(BaseModel):
    id: str
    number: int
    name: str
    address: str


class AuditReceipt(BaseModel):
    seq: int
    entry_hash: str


class DecisionOut(BaseModel):
    decision_id: str
    election_id: str
    outcome: Literal["eligible", "ineligible"]
    reasons: list[Reason]
    precinct: PrecinctRef | None
    basis: BasisOut
    next_steps: list[NextStepOut]
    ruleset: str
    registry_data_as_of: dt.datetime | None
    decided_at: dt.datetime
    override_id: str | None
    audit: AuditReceipt


class AccessLogRequest(_Request):
    iin: IinInput
    before: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_ACCESSES)] = 100


class PurposeOut(BaseModel):
    code: str
    message: str


class OrganisationOut(BaseModel):
    id: str
    # None for an organisation the service's catalogue does not name yet.
    name: str | None


class AccessOut(BaseModel):
    at: dt.datetime
    kind: str
    action: Literal["lookup", "decision", "change"]
    purpose: PurposeOut
    roles: list[str]
    organisation: OrganisationOut | None
    outcome: str | None


class AccessLogOut(BaseModel):
    accesses: list[AccessOut]
    next_before: int | None
    audit: AuditReceipt


class PrecinctCheckRequest(_Request):
    iin: IinInput
    election_id: ElectionId
    precinct_id: PrecinctIdInput


class PrecinctCheckOut(BaseModel):
    check_id: str
    election_id: str
    precinct_id: str
    included: bool
    outcome: Literal["eligible", "ineligible"]
    reasons: list[Reason]
    belongs_to: PrecinctRef | None
    basis: BasisOut
    decided_at: dt.datetime
    audit: AuditReceipt


class DayRegistrationRequest(_Request):
    iin: IinInput
    election_id: ElectionId
    precinct_id: PrecinctIdInput


class UndoRequestOut(BaseModel):
    """A request to revoke or cancel, and the second operator's decision on it."""

    id: str
    status: Literal["pending", "approved", "refused"]
    requested_by: str
    requested_at: dt.datetime
    reason: str
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_reason: str | None


class DayRegistrationOut(BaseModel):
    id: str
    election_id: str
    precinct: PrecinctRef
    status: Literal["active", "cancelled", "lapsed"]
    registered_by: str
    registered_at: dt.datetime
    lapses_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    cancellation_requests: list[UndoRequestOut]
    audit: AuditReceipt


class DayRegistrationList(BaseModel):
    items: list[DayRegistrationOut]
    next: str | None


class DayRegistrationSearchRequest(_Request):
    iin: IinInput
    election_id: ElectionId | None = None
    status: RegistrationStatus | None = None
    precinct_id: PrecinctIdInput | None = None
    registered_after: Instant | None = None
    registered_before: Instant | None = None
    limit: PageSize = DEFAULT_PAGE_SIZE
    cursor: Cursor | None = None


class ReasonRequest(_Request):
    reason: FreeText1000


class EmptyRequest(_Request):
    pass


class UndoApproval(_Request):
    """The second operator's approval; naming the request reviewed is refused (409) if another
    one is open by now."""

    undo_request_id: Annotated[str, StringConstraints(min_length=1, max_length=36)] | None = None


DocumentRef = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL_CHARACTERS),
    AfterValidator(_holds_no_iin),
]
# The most IINs one presence list may name (``service.usecases.list_entries``).
MAX_PRESENCE_LIST = 2000


class PresenceListRequest(_Request):
    election_id: ElectionId
    precinct_id: PrecinctIdInput
    iins: Annotated[list[IinInput], Field(min_length=1, max_length=MAX_PRESENCE_LIST)]
    document_ref: DocumentRef


class ListPlaceHolderOut(BaseModel):
    kind: Literal["list_entry", "day_registration", "override"]
    id: str


class PresenceListResult(BaseModel):
    """One position of the import, by its index: the entry made, or why not."""

    index: int
    entry_id: str | None
    code: str | None
    holder: ListPlaceHolderOut | None
    audit: AuditReceipt | None


class PresenceListOut(BaseModel):
    import_id: str
    election_id: str
    precinct: PrecinctRef
    added: int
    refused: int
    results: list[PresenceListResult]


class ListEntryOut(BaseModel):
    id: str
    election_id: str
    kind: Literal[
        "special_presence",
        "place_of_stay_application",
        "absentee_certificate",
        "mission_application",
    ]
    precinct: PrecinctRef
    document_ref: str
    status: Literal["active", "cancelled"]
    created_by: str
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    cancellation_requests: list[UndoRequestOut]
    audit: AuditReceipt


class ListEntryList(BaseModel):
    items: list[ListEntryOut]
    next: str | None


class ListEntrySearchRequest(_Request):
    """A voter's list entries, found by IIN (in the body, never the URL), with the list's
    filters."""

    iin: IinInput
    election_id: ElectionId | None = None
    kind: ListEntryKind | None = None
    precinct_id: PrecinctIdInput | None = None
    status: ListEntryStatus | None = None
    created_after: Instant | None = None
    created_before: Instant | None = None
    limit: PageSize = DEFAULT_PAGE_SIZE
    cursor: Cursor | None = None


AddressPart = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=NO_CONTROL_CHARACTERS),
    AfterValidator(_holds_no_iin),
]
KatoCode = Annotated[str, StringConstraints(min_length=9, max_length=9, pattern=r"^[0-9]+$")]


class StayAddressIn(_Request):
    """An address in Kazakhstan as registrations name one: its address code (RCA), or its
    locality's KATO code, street and house."""

    rca: (
        Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$")]
        | None
    ) = None
    kato: KatoCode | None = None
    street: AddressPart | None = None
    house: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None


class PlaceOfStayApplicationRequest(_Request):
    election_id: ElectionId
    iin: IinInput
    stay_address: StayAddressIn
    document_ref: DocumentRef


class MissionApplicationRequest(_Request):
    election_id: ElectionId
    iin: IinInput
    precinct_id: PrecinctIdInput
    document_ref: DocumentRef


class AbsenteeCertificateRequest(_Request):
    election_id: ElectionId
    iin: IinInput
    document_ref: DocumentRef


class AbsenteeCertificateOut(BaseModel):
    id: str
    election_id: str
    serial: str
    issued_by: PrecinctRef
    document_ref: str
    status: Literal["active", "used", "cancelled"]
    used_at_precinct: PrecinctRef | None
    used_at: dt.datetime | None
    created_by: str
    created_at: dt.datetime
    cancelled_at: dt.datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
    cancellation_requests: list[UndoRequestOut]
    audit: AuditReceipt


class OverrideRequest(_Request):
    iin: IinInput
    election_id: ElectionId
    kind: Literal["assign", "include", "exclude"]
    precinct_id: PrecinctIdInput | None = None
    reason_code: Literal[
        "COURT_DECISION",
        "REGISTRY_DATA_ERROR",
        "ADDRESS_NOT_COVERED",
        "SPECIAL_INSTITUTION",
        "COMMISSION_RESOLUTION",
    ]
    reason_text: FreeText1000
    document_ref: DocumentRef
    expires_on: dt.date | None = None


class OverrideActionOut(BaseModel):
    action: Literal["approve", "refuse", "revoke"]
    by: str
    at: dt.datetime
    reason: str | None


class OverrideOut(BaseModel):
    id: str
    election_id: str
    subject: str
    kind: Literal["assign", "include", "exclude"]
    precinct_id: str | None
    reason_code: str
    reason_text: str
    document_ref: str
    expires_on: dt.date
    status: Literal["pending", "active", "refused", "revoked", "expired"]
    created_by: str
    created_at: dt.datetime
    actions: list[OverrideActionOut]
    revocation_requests: list[UndoRequestOut]
    audit: AuditReceipt | None


class OverrideList(BaseModel):
    items: list[OverrideOut]
    next: str | None


class AccountHoldOut(BaseModel):
    id: str
    account: str
    role: str
    placed_at: dt.datetime
    distinct_voters: int
    threshold: int
    status: Literal["held", "lifted"]
    lifted_by: str | None
    lifted_at: dt.datetime | None
    lift_reason: str | None
    audit: AuditReceipt | None = None


class AccountHoldList(BaseModel):
    items: list[AccountHoldOut]


class OverrideSearchRequest(_Request):
    """A voter's overrides, found by IIN (in the body, never the URL), with the list's filters."""

    iin: IinInput
    election_id: ElectionId | None = None
    status: OverrideStatus | None = None
    kind: OverrideKind | None = None
    precinct_id: PrecinctIdInput | None = None
    created_after: Instant | None = None
    created_before: Instant | None = None
    limit: PageSize = DEFAULT_PAGE_SIZE
    cursor: Cursor | None = None


class SegmentOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    street: str
    from_: int = Field(serialization_alias="from")
    to: int
    parity: Literal["odd", "even", "all"]


class PrecinctOut(BaseModel):
    id: str
    number: int
    name: str
    address: str
    kato: str
    kind: Literal["ordinary", "special", "foreign"]
    country: str
    city: str | None
    timezone: str
    day_registration: bool
    segments: list[SegmentOut]
    buildings: list[str]


class PrecinctList(BaseModel):
    items: list[PrecinctOut]
    total: int


class WindowOut(BaseModel):
    opens: str
    closes: str


class LocalWindowOut(BaseModel):
    opens: str
    closes: str


class CalendarOut(BaseModel):
    applications: LocalWindowOut
    lists_frozen_on: dt.date
    absentee_certificates: LocalWindowOut
    day_registration: LocalWindowOut
    presence_lists: LocalWindowOut
    mission_applications: LocalWindowOut


class ElectionOut(BaseModel):
    id: str
    kind: str
    voting_day: dt.date
    called_on: dt.date | None
    territory: list[str]
    day_registration: WindowOut
    calendar: CalendarOut
    ruleset: str


class ElectionList(BaseModel):
    items: list[ElectionOut]


class DecisionCountOut(BaseModel):
    precinct_id: str | None
    source: Literal["check", "precinct_check", "voter_lists"]
    outcome: str
    basis: str | None
    count: int | None
    suppressed: bool


class EntryCountOut(BaseModel):
    precinct_id: str
    kind: str
    count: int | None
    suppressed: bool


class StatisticsOut(BaseModel):
    election_id: str
    small_count: int
    folded_seq: int
    folded_at: dt.datetime | None
    computed_at: dt.datetime
    decisions: list[DecisionCountOut]
    list_entries: list[EntryCountOut]


class AuditEntryOut(BaseModel):
    seq: int
    prev_hash: str
    entry_hash: str
    body: str


class AuditEntryList(BaseModel):
    items: list[AuditEntryOut]
    next_after_seq: int | None


class CheckpointOut(BaseModel):
    size: int
    head_hash: str
    signed_at: dt.datetime
    key_id: str
    signature: str
    public_key: str
    # The Merkle root at ``size`` (hex) and the C2SP tlog-checkpoint note signed with the same
    # key; null on checkpoints signed before the log kept a tree.
    root_hash: str | None
    note: str | None
    # The registered witnesses that cosigned this checkpoint (their lines are in ``note``),
    # and whether they are the configured quorum.
    cosigned_by: list[str]
    witnessed: bool


class CosignatureRequest(_Request):
    note: Annotated[str, StringConstraints(min_length=1, max_length=65_536)]


class CosignatureOut(BaseModel):
    size: int
    cosigned_by: list[str]
    added: list[str]
    witnessed: bool


class InclusionProofOut(BaseModel):
    seq: int
    leaf_index: int
    tree_size: int
    entry_hash: str
    prev_hash: str
    body: str
    audit_path: list[str]
    checkpoint: str | None


class ConsistencyProofOut(BaseModel):
    first: int
    second: int
    proof: list[str]
    first_checkpoint: str | None
    second_checkpoint: str | None


class Health(BaseModel):
    status: Literal["ok"]
